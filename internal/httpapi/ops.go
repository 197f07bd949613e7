package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
)

// Operating the service: readiness, announcements (R-OPS-2), statistics
// (R-SHR-5), support tickets (R-OPS-1), and Instrument, which app wraps
// around the whole handler for metrics and the cessation gate (R-OPS-3).

func (s *server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Ready(r.Context()); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "err", err.Error())
			writeError(w, r, s.log, errorf(tkesj.EUnavailable, "not_ready", "this node cannot serve yet: its store or event bus does not answer"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func announcementJSON(a service.Announcement) map[string]any {
	return map[string]any{"id": a.ID, "kind": a.Kind, "title": a.Title, "body": a.Body, "at": rfc3339(a.At)}
}

func (s *server) handleAnnouncements() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		as, err := s.svc.Announcements(r.Context())
		out := make([]map[string]any, 0, len(as))
		for _, a := range as {
			out = append(out, announcementJSON(a))
		}
		return map[string]any{"announcements": out}, err
	})
}

func (s *server) handleAnnounce() http.Handler {
	type request struct {
		Kind  string `json:"kind"`
		Title string `json:"title"`
		Body  string `json:"body"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		a, err := s.svc.Announce(r.Context(), authOf(r), req.Kind, req.Title, req.Body)
		return announcementJSON(a), err
	})
}

// StatisticsJSON renders statistics with suppressed cells as "<k".
func StatisticsJSON(st service.Statistics) map[string]any {
	cells := func(cs []service.StatCell, key string) []map[string]any {
		out := make([]map[string]any, 0, len(cs))
		for _, c := range cs {
			var v any = c.Count
			if c.Suppressed {
				v = "<" + strconv.Itoa(st.K)
			}
			out = append(out, map[string]any{key: c.Key, "count": v})
		}
		return out
	}
	return map[string]any{"days": st.Days, "k": st.K, "generated_at": rfc3339(st.GeneratedAt),
		"active_users_per_day": cells(st.ActiveUsersPerDay, "day"), "messages_per_kind": cells(st.MessagesPerKind, "kind"),
		"posts_per_day": cells(st.PostsPerDay, "day")}
}

func (s *server) handleStats() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		days := 0
		if v := r.URL.Query().Get("days"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, errorf(tkesj.EInvalid, "invalid_days", "days is a number from 1 to 366")
			}
			days = n
		}
		st, err := s.svc.Statistics(r.Context(), authOf(r), days)
		return StatisticsJSON(st), err
	})
}

func ticketJSON(t service.Ticket) map[string]any {
	j := map[string]any{"id": t.ID, "kind": t.Kind, "status": t.Status, "created_at": rfc3339(t.CreatedAt), "updated_at": rfc3339(t.UpdatedAt),
		"closed_at": rfc3339(t.ClosedAt)}
	if t.Subject != "" {
		j["subject"] = t.Subject
	}
	if t.UserID != "" {
		j["user_id"] = t.UserID
	}
	if t.Messages != nil {
		ms := make([]map[string]any, 0, len(t.Messages))
		for _, m := range t.Messages {
			mj := map[string]any{"id": m.ID, "author": m.Author, "body": m.Body, "at": rfc3339(m.At)}
			if m.StaffRef != "" {
				mj["staff_ref"] = m.StaffRef
			}
			ms = append(ms, mj)
		}
		j["messages"] = ms
	}
	return j
}

func ticketsJSON(ts []service.Ticket) map[string]any {
	out := make([]map[string]any, 0, len(ts))
	for _, t := range ts {
		out = append(out, ticketJSON(t))
	}
	return map[string]any{"tickets": out}
}

func (s *server) handleOpenTicket() http.Handler {
	type request struct {
		Kind    string `json:"kind"`
		Subject string `json:"subject"`
		Body    string `json:"body"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		t, err := s.svc.OpenTicket(r.Context(), authOf(r), req.Kind, req.Subject, req.Body)
		return ticketJSON(t), err
	})
}

func (s *server) handleTickets() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ts, err := s.svc.Tickets(r.Context(), authOf(r))
		return ticketsJSON(ts), err
	})
}

func (s *server) handleTicket() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		t, err := s.svc.FindTicket(r.Context(), authOf(r), r.PathValue("id"))
		return ticketJSON(t), err
	})
}

func (s *server) handleTicketMessage() http.Handler {
	type request struct {
		Body string `json:"body"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		t, err := s.svc.AddTicketMessage(r.Context(), authOf(r), r.PathValue("id"), req.Body)
		return ticketJSON(t), err
	})
}

func (s *server) handleStaffTickets() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ts, err := s.svc.StaffTickets(r.Context(), authOf(r), r.URL.Query().Get("status"))
		return ticketsJSON(ts), err
	})
}

func (s *server) handleStaffTicket() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		t, err := s.svc.StaffTicket(r.Context(), authOf(r), r.PathValue("id"), r.URL.Query().Get("purpose"))
		return ticketJSON(t), err
	})
}

func (s *server) handleStaffAnswerTicket() http.Handler {
	type request struct {
		Body  string `json:"body"`
		Close bool   `json:"close"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		t, err := s.svc.StaffAnswerTicket(r.Context(), authOf(r), r.PathValue("id"), req.Body, req.Close)
		return ticketJSON(t), err
	})
}

// Observer hears of every request: its route pattern (bounded: never the
// URL), method, status and duration.
type Observer func(route string, status int, d time.Duration)

// Instrument wraps the whole handler NewServer returned: it finds each
// request's route pattern, refuses what the service's cessation gate refuses
// (403 service_ceasing, R-OPS-3), and reports the request to obs (metrics).
// Requests that match no route are reported as route "other".
func Instrument(h http.Handler, svc *service.Service, log *slog.Logger, obs Observer) http.Handler {
	match := http.NewServeMux()
	for _, rt := range (&server{}).routes() {
		pattern := rt.method + " " + rt.path
		match.Handle(pattern, http.NotFoundHandler())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, route := match.Handler(r)
		if route == "" {
			route = "other"
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if obs != nil {
				st := sw.status
				if st == 0 {
					st = http.StatusOK
				}
				obs(route, st, time.Since(start))
			}
		}()
		if route != "other" && !service.CessationAllows(route) && svc.Ceasing(context.WithoutCancel(r.Context())) {
			writeError(sw, r, log, service.ErrCeasing)
			return
		}
		h.ServeHTTP(sw, r)
	})
}

// StatusClass is "2xx", "4xx", ... for a status: a bounded label.
func StatusClass(status int) string { return fmt.Sprintf("%dxx", status/100) }
