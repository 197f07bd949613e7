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
	"github.com/tkesj/tkesj/internal/wire"
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
			writeJSON(w, http.StatusOK, wire.QRCode{Token: c.Token, Payload: c.Payload})
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
		return wire.QRCode{Token: c.Token, Payload: c.Payload}, err
	})
}

func groupPreviewJSON(g service.GroupPreview) wire.GroupPreview {
	return wire.GroupPreview{ID: g.ID, Name: g.Name, MemberCount: g.MemberCount, JoinApproval: g.JoinApproval, Member: g.Member}
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
			g := groupPreviewJSON(res.Group)
			writeJSON(w, http.StatusOK, wire.QRScanResult{Kind: "group", Conversation: &g})
			return
		}
		u := profileJSON(res.User)
		out := wire.QRScanResult{Kind: "friend", User: &u, IsFriend: &res.IsFriend}
		status := http.StatusOK
		if res.Request != nil {
			fr := requestJSON(*res.Request)
			out.Request = &fr
			status = http.StatusCreated
		}
		writeJSON(w, status, out)
	})
}

func joinRequestJSON(jr service.JoinRequest) wire.JoinRequest {
	j := wire.JoinRequest{ID: jr.ID, ConversationID: jr.ConvID, Status: jr.Status, CreatedAt: jr.CreatedAt.Format(time.RFC3339)}
	if jr.User.ID != "" {
		u := profileJSON(jr.User)
		j.User = &u
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
			jr := joinRequestJSON(res.Request)
			writeJSON(w, http.StatusAccepted, wire.QRJoin{Status: "pending", Request: &jr})
			return
		}
		c := conversationJSON(res.Conversation)
		writeJSON(w, http.StatusOK, wire.QRJoin{Status: "joined", Conversation: &c})
	})
}

func groupQRJSON(c service.GroupQR) wire.GroupQR {
	return wire.GroupQR{ID: c.ID, ConversationID: c.ConvID, CreatorID: c.CreatorID, Payload: c.Payload,
		CreatedAt: c.CreatedAt.Format(time.RFC3339), ExpiresAt: c.ExpiresAt.Format(time.RFC3339),
		PNGURL: "/api/v1/conversations/" + c.ConvID + "/qr/" + c.ID + ".png"}
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
		return wire.JoinApproval{Required: on}, err
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
		return wire.JoinApproval{Required: *req.Required}, err
	})
}

func (s *server) handleJoinRequests() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		jrs, err := s.svc.JoinRequests(r.Context(), authOf(r), r.PathValue("id"))
		out := make([]wire.JoinRequest, 0, len(jrs))
		for _, jr := range jrs {
			out = append(out, joinRequestJSON(jr))
		}
		return wire.JoinRequestList{Requests: out}, err
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
		return wire.LoginQR{ID: c.ID, Payload: c.Payload, PollToken: c.PollToken, ExpiresAt: c.ExpiresAt.Format(time.RFC3339),
			PNG: "data:image/png;base64," + base64.StdEncoding.EncodeToString(b)}, nil
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
		return wire.LoginQRRequester{ID: lr.ID, ExpiresAt: lr.ExpiresAt.Format(time.RFC3339), Requester: wire.LoginRequester{
			Device: wire.RequesterDevice{ID: d.ID, Model: d.Model, OS: d.OS, AppVersion: d.AppVersion, Network: d.Network},
			IP:     d.LoginIP, CreatedAt: lr.CreatedAt.Format(time.RFC3339)}}, err
	})
}

func (s *server) handleAnswerLoginQR(confirm bool) http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		st, err := s.svc.AnswerLoginQR(r.Context(), authOf(r), r.PathValue("id"), confirm)
		return wire.LoginQRAnswer{ID: r.PathValue("id"), Status: st}, err
	})
}

func (s *server) handlePollLoginQR() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		p, err := s.svc.PollLoginQR(r.Context(), r.PathValue("id"), r.URL.Query().Get("poll_token"))
		if err != nil {
			return nil, err
		}
		out := wire.LoginQRPoll{Status: p.Status}
		if p.Token != "" {
			u := selfJSON(p.User)
			out.Token, out.User = p.Token, &u
		}
		return out, nil
	})
}
