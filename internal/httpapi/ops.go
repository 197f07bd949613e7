package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
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
		writeJSON(w, http.StatusOK, wire.Status{Status: "ready"})
	})
}

func announcementJSON(a service.Announcement) wire.Announcement {
	return wire.Announcement{ID: a.ID, Kind: a.Kind, Title: a.Title, Body: a.Body, At: rfc3339(a.At)}
}

func (s *server) handleAnnouncements() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		as, err := s.svc.Announcements(r.Context())
		out := make([]wire.Announcement, 0, len(as))
		for _, a := range as {
			out = append(out, announcementJSON(a))
		}
		return wire.AnnouncementList{Announcements: out}, err
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
func StatisticsJSON(st service.Statistics) wire.Statistics {
	count := func(c service.StatCell) wire.Count {
		if c.Suppressed {
			return wire.Count{Suppressed: "<" + strconv.Itoa(st.K)}
		}
		return wire.Count{N: c.Count}
	}
	days := func(cs []service.StatCell) []wire.DayCount {
		out := make([]wire.DayCount, 0, len(cs))
		for _, c := range cs {
			out = append(out, wire.DayCount{Day: c.Key, Count: count(c)})
		}
		return out
	}
	kinds := make([]wire.KindCount, 0, len(st.MessagesPerKind))
	for _, c := range st.MessagesPerKind {
		kinds = append(kinds, wire.KindCount{Kind: c.Key, Count: count(c)})
	}
	return wire.Statistics{Days: st.Days, K: st.K, GeneratedAt: rfc3339(st.GeneratedAt),
		ActiveUsersPerDay: days(st.ActiveUsersPerDay), MessagesPerKind: kinds, PostsPerDay: days(st.PostsPerDay)}
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

func ticketJSON(t service.Ticket) wire.Ticket {
	j := wire.Ticket{ID: t.ID, Kind: t.Kind, Status: t.Status, CreatedAt: rfc3339(t.CreatedAt), UpdatedAt: rfc3339(t.UpdatedAt),
		ClosedAt: rfc3339(t.ClosedAt), Subject: t.Subject, UserID: t.UserID}
	if t.Messages != nil {
		ms := make([]wire.TicketMessage, 0, len(t.Messages))
		for _, m := range t.Messages {
			ms = append(ms, wire.TicketMessage{ID: m.ID, Author: m.Author, Body: m.Body, At: rfc3339(m.At), StaffRef: m.StaffRef})
		}
		j.Messages = &ms
	}
	return j
}

func ticketsJSON(ts []service.Ticket) wire.TicketList {
	out := make([]wire.Ticket, 0, len(ts))
	for _, t := range ts {
		out = append(out, ticketJSON(t))
	}
	return wire.TicketList{Tickets: out}
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

// StatusClass is "2xx", "4xx", ... for a status: a bounded label.
func StatusClass(status int) string { return fmt.Sprintf("%dxx", status/100) }
