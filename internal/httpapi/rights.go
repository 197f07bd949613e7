package httpapi

import (
	"net/http"
	"time"

	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
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
		return wire.Status{Status: "sent"}, s.svc.RequestGuardianCode(r.Context(), authOf(r), req.Phone)
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

func rightsJSON(q service.RightsRequest) wire.RightsRequest {
	j := wire.RightsRequest{ID: q.ID, Kind: q.Kind, Details: q.Details, Status: q.Status,
		ReceivedAt: q.ReceivedAt.Format(time.RFC3339), DueAt: q.DueAt.Format(time.RFC3339), UpdatedAt: q.UpdatedAt.Format(time.RFC3339), Answer: q.Answer}
	if !q.VerifiedAt.IsZero() {
		j.VerifiedAt = q.VerifiedAt.Format(time.RFC3339)
	}
	return j
}

// staffRightsJSON is a rights request as staff see it; the caller drops
// details in the queue and adds the person's id in the audited read.
func staffRightsJSON(q service.RightsRequest) wire.StaffRightsRequest {
	r := rightsJSON(q)
	return wire.StaffRightsRequest{ID: r.ID, Kind: r.Kind, Details: &q.Details, Status: r.Status, ReceivedAt: r.ReceivedAt, DueAt: r.DueAt,
		UpdatedAt: r.UpdatedAt, VerifiedAt: r.VerifiedAt, Answer: r.Answer}
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
		out := make([]wire.RightsRequest, 0, len(qs))
		for _, q := range qs {
			out = append(out, rightsJSON(q))
		}
		return wire.RightsRequestList{Requests: out}, err
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
