package httpapi

import (
	"net/http"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/calls"
)

// Calls (API.md "Calls", R-CAL-1..3). Handlers decode and call
// internal/calls; every rule is there.

func (s *server) callsOrUnavailable(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Calls == nil {
		writeError(w, r, s.log, errorf(tkesj.EUnavailable, "calls_unavailable", "calls are not available on this server"))
		return false
	}
	return true
}

func joinedJSON(j calls.Joined) map[string]any {
	return map[string]any{"call": j.Call.JSON(), "ice_servers": j.ICEServers}
}

func (s *server) handleStartCall() http.Handler {
	type request struct {
		ConversationID string `json:"conversation_id"`
		Media          string `json:"media"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.callsOrUnavailable(w, r) {
			return
		}
		var req request
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		a := authOf(r)
		j, err := s.opts.Calls.Start(r.Context(), a.UserID, a.DeviceIdx, req.ConversationID, req.Media)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusCreated, joinedJSON(j))
	})
}

func (s *server) handleCall() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.callsOrUnavailable(w, r) {
			return
		}
		c, err := s.opts.Calls.Find(r.Context(), authOf(r).UserID, r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"call": c.JSON()})
	})
}

// handleCallStep serves join, decline and leave.
func (s *server) handleCallStep(step string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.callsOrUnavailable(w, r) {
			return
		}
		a, id := authOf(r), r.PathValue("id")
		var c calls.Call
		var err error
		switch step {
		case "join":
			var j calls.Joined
			if j, err = s.opts.Calls.Join(r.Context(), a.UserID, a.DeviceIdx, id); err == nil {
				writeJSON(w, http.StatusOK, joinedJSON(j))
				return
			}
		case "decline":
			c, err = s.opts.Calls.Decline(r.Context(), a.UserID, a.DeviceIdx, id)
		default:
			c, err = s.opts.Calls.Leave(r.Context(), a.UserID, a.DeviceIdx, id)
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"call": c.JSON()})
	})
}

func (s *server) handleCallMedia() http.Handler {
	type request struct {
		Muted     bool `json:"muted"`
		CameraOff bool `json:"camera_off"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.callsOrUnavailable(w, r) {
			return
		}
		var req request
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		c, err := s.opts.Calls.SetMedia(r.Context(), authOf(r).UserID, r.PathValue("id"), req.Muted, req.CameraOff)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"call": c.JSON()})
	})
}
