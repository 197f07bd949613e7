package httpapi

import (
	"net/http"

	"github.com/tkesj/tkesj/internal/calls"
	"github.com/tkesj/tkesj/internal/wire"
)

// Calls (API.md "Calls", R-CAL-1..3). Handlers decode and call
// internal/calls; every rule is there.

func joinedJSON(j calls.Joined) wire.CallJoined {
	return wire.CallJoined{Call: j.Call.JSON(), ICEServers: j.ICEServers}
}

func (s *server) handleStartCall() http.Handler {
	type request struct {
		ConversationID string `json:"conversation_id"`
		Media          string `json:"media"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		a := authOf(r)
		j, err := s.svc.Calls.Start(r.Context(), a.UserID, a.DeviceIdx, req.ConversationID, req.Media)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusCreated, joinedJSON(j))
	})
}

func (s *server) handleCall() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.svc.Calls.Find(r.Context(), authOf(r).UserID, r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, wire.CallAnswer{Call: c.JSON()})
	})
}

// handleCallStep serves join, decline and leave.
func (s *server) handleCallStep(step string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, id := authOf(r), r.PathValue("id")
		var c calls.Call
		var err error
		switch step {
		case "join":
			var j calls.Joined
			if j, err = s.svc.Calls.Join(r.Context(), a.UserID, a.DeviceIdx, id); err == nil {
				writeJSON(w, http.StatusOK, joinedJSON(j))
				return
			}
		case "decline":
			c, err = s.svc.Calls.Decline(r.Context(), a.UserID, a.DeviceIdx, id)
		default:
			c, err = s.svc.Calls.Leave(r.Context(), a.UserID, a.DeviceIdx, id)
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, wire.CallAnswer{Call: c.JSON()})
	})
}

func (s *server) handleCallMedia() http.Handler {
	type request struct {
		Muted     bool `json:"muted"`
		CameraOff bool `json:"camera_off"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		c, err := s.svc.Calls.SetMedia(r.Context(), authOf(r).UserID, r.PathValue("id"), req.Muted, req.CameraOff)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, wire.CallAnswer{Call: c.JSON()})
	})
}
