package httpapi

import (
	"net/http"
	"time"

	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
)

func decisionJSON(d service.Decision) wire.Decision {
	return wire.Decision{ID: d.ID, Rule: d.Rule, Outcome: d.Outcome, Reason: d.Reason, Inputs: d.Inputs, CreatedAt: d.CreatedAt.Format(time.RFC3339), AppealID: d.AppealID}
}

func (s *server) handleDecisions() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ds, err := s.svc.Decisions(r.Context(), authOf(r))
		out := make([]wire.Decision, 0, len(ds))
		for _, d := range ds {
			out = append(out, decisionJSON(d))
		}
		return wire.DecisionList{Decisions: out}, err
	})
}

func (s *server) handleAppeal() http.Handler {
	type request struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	}
	return handleJSON(s, 201, func(r *http.Request, req request) (any, error) {
		q, err := s.svc.AppealDecision(r.Context(), authOf(r), r.PathValue("id"), req.Kind, req.Text)
		return rightsJSON(q), err
	})
}

func (s *server) handleFreeze() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.Freeze(r.Context(), authOf(r))
	})
}

func (s *server) handleFreezeByCode() http.Handler {
	type request struct {
		Phone string `json:"phone"`
		Code  string `json:"code"`
	}
	return handleJSON(s, 204, func(r *http.Request, req request) (any, error) {
		return nil, s.svc.FreezeByCode(r.Context(), req.Phone, req.Code)
	})
}

func (s *server) handleUnfreeze() http.Handler {
	type request struct {
		Phone       string `json:"phone"`
		Code        string `json:"code"`
		NewPassword string `json:"new_password"`
	}
	return handleJSON(s, 204, func(r *http.Request, req request) (any, error) {
		return nil, s.svc.Unfreeze(r.Context(), req.Phone, req.Code, req.NewPassword)
	})
}

func (s *server) handleChangePassword() http.Handler {
	type request struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	return handleJSON(s, 204, func(r *http.Request, req request) (any, error) {
		return nil, s.svc.ChangePassword(r.Context(), authOf(r), req.Current, req.New)
	})
}

func (s *server) handleResetPassword() http.Handler {
	type request struct {
		Phone       string `json:"phone"`
		Code        string `json:"code"`
		NewPassword string `json:"new_password"`
	}
	return handleJSON(s, 204, func(r *http.Request, req request) (any, error) {
		return nil, s.svc.ResetPassword(r.Context(), req.Phone, req.Code, req.NewPassword)
	})
}

func (s *server) handleChangePhone() http.Handler {
	type request struct {
		Phone    string `json:"phone"`
		Code     string `json:"code"`
		Password string `json:"password"`
	}
	return handleJSON(s, 200, func(r *http.Request, req request) (any, error) {
		u, err := s.svc.ChangePhone(r.Context(), authOf(r), req.Phone, req.Code, req.Password)
		return selfJSON(u), err
	})
}
