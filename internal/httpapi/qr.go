package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
)

// QR codes (R-QR-1, R-QR-2): the service decides everything; this file only
// draws payloads as PNG pictures and shapes the JSON.

const qrDefaultSize = 512

// qrSize reads ?size= (pixels, 128 to 1024; default 512).
func qrSize(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("size")
	if raw == "" {
		return qrDefaultSize, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 128 || n > 1024 {
		return 0, errorf(tkesj.EInvalid, "invalid_size", "size is a number of pixels from 128 to 1024")
	}
	return n, nil
}

// qrPNG draws payload at about size pixels, with every module a whole
// number of pixels: codes drawn at an exact pixel size put module edges
// between pixels, and about 1.5% of them then failed to decode.
func qrPNG(payload string, size int) ([]byte, error) {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, tkesj.Internal(err)
	}
	modules := len(q.Bitmap()) // with the quiet zone
	b, err := q.PNG(-max(2, size/modules))
	if err != nil {
		return nil, tkesj.Internal(err)
	}
	return b, nil
}

func writePNG(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func (s *server) handleMyQR() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := r.URL.Query().Get("format")
		if format != "" && format != "png" && format != "json" {
			writeError(w, r, s.log, errorf(tkesj.EInvalid, "invalid_format", "format is png (the default) or json"))
			return
		}
		size, err := qrSize(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		c, err := s.svc.MyFriendQR(r.Context(), authOf(r))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if format == "json" {
			writeJSON(w, http.StatusOK, map[string]any{"token": c.Token, "payload": c.Payload})
			return
		}
		b, err := qrPNG(c.Payload, size)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writePNG(w, b)
	})
}

func (s *server) handleResetMyQR() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		c, err := s.svc.ResetFriendQR(r.Context(), authOf(r))
		return map[string]any{"token": c.Token, "payload": c.Payload}, err
	})
}

func groupPreviewJSON(g service.GroupPreview) map[string]any {
	return map[string]any{"id": g.ID, "name": g.Name, "member_count": g.MemberCount, "join_approval_required": g.JoinApproval, "member": g.Member}
}

func (s *server) handleScanQR() http.Handler {
	type request struct {
		Payload  string  `json:"payload"`
		Greeting *string `json:"greeting"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		res, err := s.svc.ScanQR(r.Context(), authOf(r), req.Payload, req.Greeting)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if res.Kind == "group" {
			writeJSON(w, http.StatusOK, map[string]any{"kind": "group", "conversation": groupPreviewJSON(res.Group)})
			return
		}
		out := map[string]any{"kind": "friend", "user": profileJSON(res.User), "is_friend": res.IsFriend}
		status := http.StatusOK
		if res.Request != nil {
			out["request"] = requestJSON(*res.Request)
			status = http.StatusCreated
		}
		writeJSON(w, status, out)
	})
}

func joinRequestJSON(jr service.JoinRequest) map[string]any {
	j := map[string]any{"id": jr.ID, "conversation_id": jr.ConvID, "status": jr.Status, "created_at": jr.CreatedAt.Format(time.RFC3339)}
	if jr.User.ID != "" {
		j["user"] = profileJSON(jr.User)
	}
	return j
}

func (s *server) handleJoinByQR() http.Handler {
	type request struct {
		Payload string `json:"payload"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		res, err := s.svc.JoinByQR(r.Context(), authOf(r), req.Payload)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if res.Status == "pending" {
			writeJSON(w, http.StatusAccepted, map[string]any{"status": "pending", "request": joinRequestJSON(res.Request)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "joined", "conversation": conversationJSON(res.Conversation)})
	})
}

func groupQRJSON(c service.GroupQR) map[string]any {
	return map[string]any{"id": c.ID, "conversation_id": c.ConvID, "creator_id": c.CreatorID, "payload": c.Payload,
		"created_at": c.CreatedAt.Format(time.RFC3339), "expires_at": c.ExpiresAt.Format(time.RFC3339),
		"png_url": "/api/v1/conversations/" + c.ConvID + "/qr/" + c.ID + ".png"}
}

func (s *server) handleCreateGroupQR() http.Handler {
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		c, err := s.svc.CreateGroupQR(r.Context(), authOf(r), r.PathValue("id"))
		return groupQRJSON(c), err
	})
}

// handleGroupQR serves one group code: as JSON, or as a PNG picture when the
// last path segment ends in ".png" (a ServeMux wildcard must be a whole
// segment, so the suffix is read here).
func (s *server) handleGroupQR() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, png := strings.CutSuffix(r.PathValue("qrid"), ".png")
		size, err := qrSize(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		c, err := s.svc.GroupQRCode(r.Context(), authOf(r), r.PathValue("id"), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if !png {
			writeJSON(w, http.StatusOK, groupQRJSON(c))
			return
		}
		b, err := qrPNG(c.Payload, size)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writePNG(w, b)
	})
}

func (s *server) handleRevokeGroupQR() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		id, _ := strings.CutSuffix(r.PathValue("qrid"), ".png")
		return nil, s.svc.RevokeGroupQR(r.Context(), authOf(r), r.PathValue("id"), id)
	})
}

func (s *server) handleJoinApproval() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		on, err := s.svc.JoinApproval(r.Context(), authOf(r), r.PathValue("id"))
		return map[string]any{"required": on}, err
	})
}

func (s *server) handleSetJoinApproval() http.Handler {
	type request struct {
		Required *bool `json:"required"`
	}
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		if req.Required == nil {
			return nil, errorf(tkesj.EInvalid, "missing_field", `send {"required": true} or {"required": false}`)
		}
		err := s.svc.SetJoinApproval(r.Context(), authOf(r), r.PathValue("id"), *req.Required)
		return map[string]any{"required": *req.Required}, err
	})
}

func (s *server) handleJoinRequests() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		jrs, err := s.svc.JoinRequests(r.Context(), authOf(r), r.PathValue("id"))
		out := make([]map[string]any, 0, len(jrs))
		for _, jr := range jrs {
			out = append(out, joinRequestJSON(jr))
		}
		return map[string]any{"requests": out}, err
	})
}

func (s *server) handleAnswerJoinRequest(approve bool) http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		jr, err := s.svc.AnswerJoinRequest(r.Context(), authOf(r), r.PathValue("id"), r.PathValue("rid"), approve)
		return joinRequestJSON(jr), err
	})
}

func (s *server) handleCreateLoginQR() http.Handler {
	type request struct {
		Device deviceJSON `json:"device"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		c, err := s.svc.CreateLoginQR(r.Context(), req.Device.input(), clientIP(r))
		if err != nil {
			return nil, err
		}
		b, err := qrPNG(c.Payload, 256)
		if err != nil {
			return nil, err
		}
		return map[string]any{"id": c.ID, "payload": c.Payload, "poll_token": c.PollToken, "expires_at": c.ExpiresAt.Format(time.RFC3339),
			"png": "data:image/png;base64," + base64.StdEncoding.EncodeToString(b)}, nil
	})
}

func (s *server) handleScanLoginQR() http.Handler {
	type request struct {
		Payload string `json:"payload"`
	}
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		lr, err := s.svc.ScanLoginQR(r.Context(), authOf(r), req.Payload)
		d := lr.Device
		return map[string]any{"id": lr.ID, "expires_at": lr.ExpiresAt.Format(time.RFC3339), "requester": map[string]any{
			"device": deviceJSON{ID: d.ID, Model: d.Model, OS: d.OS, AppVersion: d.AppVersion, Network: d.Network},
			"ip":     d.LoginIP, "created_at": lr.CreatedAt.Format(time.RFC3339)}}, err
	})
}

func (s *server) handleAnswerLoginQR(confirm bool) http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		st, err := s.svc.AnswerLoginQR(r.Context(), authOf(r), r.PathValue("id"), confirm)
		return map[string]any{"id": r.PathValue("id"), "status": st}, err
	})
}

func (s *server) handlePollLoginQR() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		p, err := s.svc.PollLoginQR(r.Context(), r.PathValue("id"), r.URL.Query().Get("poll_token"))
		if err != nil {
			return nil, err
		}
		out := map[string]any{"status": p.Status}
		if p.Token != "" {
			out["token"], out["user"] = p.Token, selfJSON(p.User)
		}
		return out, nil
	})
}
