package httpapi

import (
	"net/http"

	"github.com/tkesj/tkesj/internal/wire"
)

// handleWSTicket issues a short-lived, single-use ticket for opening
// /api/v1/ws?ticket=, so browsers need not put the token in the URL.
func (s *server) handleWSTicket() http.Handler {
	return s.handle(http.StatusCreated, func(w http.ResponseWriter, r *http.Request) (any, error) {
		t, exp, err := s.svc.IssueWSTicket(r.Context(), authOf(r))
		if err != nil {
			return nil, err
		}
		return wire.WSTicket{Ticket: t, ExpiresAt: rfc3339(exp)}, nil
	})
}
