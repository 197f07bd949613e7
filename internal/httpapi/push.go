package httpapi

import (
	"net/http"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/push"
	"github.com/tkesj/tkesj/internal/wire"
)

func (s *server) handleVAPIDKey() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		if s.opts.VAPIDPublicKey == "" {
			return nil, errorf(tkesj.ENotFound, "not_found", "push is not configured")
		}
		return wire.VAPIDKey{PublicKey: s.opts.VAPIDPublicKey}, nil
	})
}

func (s *server) handleSetPushSubscription() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var sub push.Subscription
		if err := decode(w, r, &sub); err != nil {
			return nil, err
		}
		return nil, s.svc.SetPushSubscription(r.Context(), authOf(r), sub)
	})
}

func (s *server) handleDeletePushSubscription() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.DeletePushSubscription(r.Context(), authOf(r))
	})
}
