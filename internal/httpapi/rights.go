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
	return handleJSON(s, 204, func(r *http.Request, req request) (any, error) {
		return nil, s.svc.AcceptPolicy(r.Context(), authOf(r), req.Version)
	})
}

func (s *server) handleGuardianCode() http.Handler {
	type request struct {
		Phone string `json:"phone"`
	}
	return handleJSON(s, 202, func(r *http.Request, req request) (any, error) {
		return map[string]any{"status": "sent"}, s.svc.RequestGuardianCode(r.Context(), authOf(r), req.Phone)
	})
}

func (s *server) handleGuardianConfirm() http.Handler {
	type request struct {
		Phone string `json:"phone"`
		Code  string `json:"code"`
	}
	return handleJSON(s, 204, func(r *http.Request, req request) (any, error) {
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
	return handleJSON(s, 201, func(r *http.Request, req request) (any, error) {
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
	return handleJSON(s, 200, func(r *http.Request, req request) (any, error) {
		q, err := s.svc.VerifyRightsRequest(r.Context(), authOf(r), r.PathValue("id"), req.Code)
		return rightsJSON(q), err
	})
}
