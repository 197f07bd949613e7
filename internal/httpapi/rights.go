package httpapi

import (
	"net/http"
	"time"

	"github.com/tkesj/tkesj/internal/service"
)

func (s *server) handleAcceptPolicy() http.Handler {
	type request struct {
		Version string `json:"version"`
	}
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return nil, s.svc.AcceptPolicy(r.Context(), authOf(r), req.Version)
	})
}

func (s *server) handleGuardianCode() http.Handler {
	type request struct {
		Phone string `json:"phone"`
	}
	return s.handle(202, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return map[string]any{"status": "sent"}, s.svc.RequestGuardianCode(r.Context(), authOf(r), req.Phone)
	})
}

func (s *server) handleGuardianConfirm() http.Handler {
	type request struct {
		Phone string `json:"phone"`
		Code  string `json:"code"`
	}
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return nil, s.svc.ConfirmGuardian(r.Context(), authOf(r), req.Phone, req.Code)
	})
}

func rightsJSON(q service.RightsRequest) map[string]any {
	j := map[string]any{"id": q.ID, "kind": q.Kind, "details": q.Details, "status": q.Status,
		"received_at": q.ReceivedAt.Format(time.RFC3339), "due_at": q.DueAt.Format(time.RFC3339), "updated_at": q.UpdatedAt.Format(time.RFC3339)}
	if !q.VerifiedAt.IsZero() {
		j["verified_at"] = q.VerifiedAt.Format(time.RFC3339)
	}
	if q.Answer != "" {
		j["answer"] = q.Answer
	}
	return j
}

func (s *server) handleCreateRightsRequest() http.Handler {
	type request struct {
		Kind    string `json:"kind"`
		Details string `json:"details"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		q, err := s.svc.CreateRightsRequest(r.Context(), authOf(r), req.Kind, req.Details)
		return rightsJSON(q), err
	})
}

func (s *server) handleRightsRequests() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		qs, err := s.svc.RightsRequests(r.Context(), authOf(r))
		out := make([]map[string]any, 0, len(qs))
		for _, q := range qs {
			out = append(out, rightsJSON(q))
		}
		return map[string]any{"requests": out}, err
	})
}

func (s *server) handleVerifyRightsRequest() http.Handler {
	type request struct {
		Code string `json:"code"`
	}
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		q, err := s.svc.VerifyRightsRequest(r.Context(), authOf(r), r.PathValue("id"), req.Code)
		return rightsJSON(q), err
	})
}
