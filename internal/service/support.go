package service

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Support tickets and complaints (policy §8, §4 (V); R-OPS-1). The subject
// and every message, the staff's answers too, are sealed with the
// requester's key: destroying the account shreds the conversation. A closed
// ticket is deleted Config.TicketRetention after it was closed.

// Ticket is a support ticket or complaint.
type Ticket struct {
	ID, Kind, Status, Subject      string
	CreatedAt, UpdatedAt, ClosedAt time.Time
	Messages                       []TicketMessage
	UserID                         string // staff views only
}

// TicketMessage is one message of a ticket. Staff are named by a stable
// pseudonym (StaffRef), as in the access log.
type TicketMessage struct {
	ID, Author, StaffRef, Body string
	At                         time.Time
}

type ticketSubject struct {
	Subject string `json:"subject"`
}

type ticketBody struct {
	Body string `json:"body"`
}

func ticketAD(id string) string        { return "tickets/" + id }
func ticketMessageAD(id string) string { return "ticket_messages/" + id }

func checkTicketText(field string, v string, max int) (string, error) {
	v = strings.TrimSpace(v)
	if n := utf8.RuneCountInString(v); n < 1 || n > max || !utf8.ValidString(v) {
		return "", tkesj.Errorf(tkesj.EInvalid, "invalid_"+field, "%s has 1 to %d characters", field, max)
	}
	return v, nil
}

// OpenTicket opens a question or a complaint with its first message.
func (s *Service) OpenTicket(ctx context.Context, a Auth, kind, subject, body string) (Ticket, error) {
	if kind != "question" && kind != "complaint" {
		return Ticket{}, tkesj.Errorf(tkesj.EInvalid, "invalid_kind", "kind must be question or complaint")
	}
	subject, err := checkTicketText("subject", subject, 200)
	if err != nil {
		return Ticket{}, err
	}
	body, err = checkTicketText("body", body, 5000)
	if err != nil {
		return Ticket{}, err
	}
	now := s.now()
	t := store.TicketRecord{ID: newID("t"), UserID: a.UserID, Kind: kind, Status: "open", CreatedAt: now, UpdatedAt: now}
	if t.Subject, err = s.seal(ctx, a.UserID, ticketAD(t.ID), ticketSubject{subject}); err != nil {
		return Ticket{}, s.internal(ctx, "open ticket", err)
	}
	m := store.TicketMessageRecord{ID: newID("m"), TicketID: t.ID, Author: "user", CreatedAt: now}
	if m.Body, err = s.seal(ctx, a.UserID, ticketMessageAD(m.ID), ticketBody{body}); err != nil {
		return Ticket{}, s.internal(ctx, "open ticket", err)
	}
	if err := s.db.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateTicket(ctx, t); err != nil {
			return err
		}
		return q.AddTicketMessage(ctx, m)
	}); err != nil {
		return Ticket{}, s.internal(ctx, "open ticket", err)
	}
	return s.ticketView(ctx, t, true)
}

func (s *Service) ticketView(ctx context.Context, t store.TicketRecord, withMessages bool) (Ticket, error) {
	v := Ticket{ID: t.ID, Kind: t.Kind, Status: t.Status, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, ClosedAt: t.ClosedAt}
	var sub ticketSubject
	if err := s.open(ctx, t.UserID, ticketAD(t.ID), t.Subject, &sub); err != nil {
		return Ticket{}, tkesj.ErrNotFound("ticket")
	}
	v.Subject = sub.Subject
	if !withMessages {
		return v, nil
	}
	ms, err := s.db.Read().TicketMessages(ctx, t.ID)
	if err != nil {
		return Ticket{}, s.internal(ctx, "ticket", err)
	}
	v.Messages = make([]TicketMessage, 0, len(ms))
	for _, m := range ms {
		var b ticketBody
		if err := s.open(ctx, t.UserID, ticketMessageAD(m.ID), m.Body, &b); err != nil {
			continue
		}
		tm := TicketMessage{ID: m.ID, Author: m.Author, Body: b.Body, At: m.CreatedAt}
		if m.StaffID != "" {
			tm.StaffRef = s.staffRef(m.StaffID)
		}
		v.Messages = append(v.Messages, tm)
	}
	return v, nil
}

// Tickets lists the caller's tickets, newest first, without messages.
func (s *Service) Tickets(ctx context.Context, a Auth) ([]Ticket, error) {
	recs, err := s.db.Read().TicketsOf(ctx, a.UserID)
	if err != nil {
		return nil, s.internal(ctx, "tickets", err)
	}
	out := make([]Ticket, 0, len(recs))
	for _, r := range recs {
		if v, err := s.ticketView(ctx, r, false); err == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// ownTicket returns the caller's ticket, or not_found for anyone else's.
func (s *Service) ownTicket(ctx context.Context, a Auth, id string) (store.TicketRecord, error) {
	t, err := s.db.Read().FindTicket(ctx, id)
	if err != nil || t.UserID != a.UserID {
		return store.TicketRecord{}, tkesj.ErrNotFound("ticket")
	}
	return t, nil
}

// FindTicket returns one of the caller's tickets with its messages.
func (s *Service) FindTicket(ctx context.Context, a Auth, id string) (Ticket, error) {
	t, err := s.ownTicket(ctx, a, id)
	if err != nil {
		return Ticket{}, err
	}
	return s.ticketView(ctx, t, true)
}

// AddTicketMessage adds the caller's message to their ticket; a closed
// ticket reopens.
func (s *Service) AddTicketMessage(ctx context.Context, a Auth, id, body string) (Ticket, error) {
	t, err := s.ownTicket(ctx, a, id)
	if err != nil {
		return Ticket{}, err
	}
	return s.addTicketMessage(ctx, t, Staff{}, body, "open")
}

func (s *Service) addTicketMessage(ctx context.Context, t store.TicketRecord, st Staff, body, status string) (Ticket, error) {
	body, err := checkTicketText("body", body, 5000)
	if err != nil {
		return Ticket{}, err
	}
	now := s.now()
	m := store.TicketMessageRecord{ID: newID("m"), TicketID: t.ID, Author: "user", StaffID: st.UserID, CreatedAt: now}
	if st.UserID != "" {
		m.Author = "staff"
	}
	if m.Body, err = s.seal(ctx, t.UserID, ticketMessageAD(m.ID), ticketBody{body}); err != nil {
		return Ticket{}, s.internal(ctx, "ticket message", err)
	}
	var closedAt time.Time
	if status == "closed" {
		closedAt = now
	}
	err = s.db.Update(ctx, func(q *store.Queries) error {
		if err := q.AddTicketMessage(ctx, m); err != nil {
			return err
		}
		if err := q.SetTicketStatus(ctx, t.ID, status, now, closedAt); err != nil {
			return err
		}
		if st.UserID != "" {
			return s.audit(ctx, q, st, auditEntry{Action: "support:answer", Subject: t.UserID, Target: "ticket " + t.ID, Note: "status " + status, Visible: true})
		}
		return nil
	})
	if err != nil {
		return Ticket{}, s.internal(ctx, "ticket message", err)
	}
	if st.UserID != "" {
		s.publish(ctx, []string{t.UserID}, wire.TicketFrame{Type: "ticket", TicketID: t.ID, Status: status})
	}
	t.Status, t.UpdatedAt, t.ClosedAt = status, now, closedAt
	return s.ticketView(ctx, t, true)
}

// StaffTickets is support's queue (staff with "support"): tickets in a
// status (open, answered, closed; all when empty), oldest change first,
// without their subject or messages.
func (s *Service) StaffTickets(ctx context.Context, a Auth, status string) ([]Ticket, error) {
	if _, err := s.staff(ctx, a, PermSupport); err != nil {
		return nil, err
	}
	recs, err := s.db.Read().TicketsByStatus(ctx, status, 500)
	if err != nil {
		return nil, s.internal(ctx, "tickets", err)
	}
	out := make([]Ticket, 0, len(recs))
	for _, r := range recs {
		out = append(out, Ticket{ID: r.ID, Kind: r.Kind, Status: r.Status, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, ClosedAt: r.ClosedAt})
	}
	return out, nil
}

// StaffTicket reads one ticket with its messages, for a stated purpose that
// is logged and shown to the requester (R-SEC-1).
func (s *Service) StaffTicket(ctx context.Context, a Auth, id, purpose string) (Ticket, error) {
	st, err := s.staff(ctx, a, PermSupport)
	if err != nil {
		return Ticket{}, err
	}
	if purpose, err = checkPurpose(purpose); err != nil {
		return Ticket{}, err
	}
	t, err := s.db.Read().FindTicket(ctx, id)
	if err != nil {
		return Ticket{}, tkesj.ErrNotFound("ticket")
	}
	if err := s.auditNow(ctx, st, auditEntry{Action: "read:ticket", Subject: t.UserID, Target: "support ticket " + id,
		Details: auditDetails{Purpose: purpose}, Visible: true}); err != nil {
		return Ticket{}, err
	}
	v, err := s.ticketView(ctx, t, true)
	v.UserID = t.UserID
	return v, err
}

// StaffAnswerTicket adds support's answer; close ends the ticket (its
// retention period starts).
func (s *Service) StaffAnswerTicket(ctx context.Context, a Auth, id, body string, close bool) (Ticket, error) {
	st, err := s.staff(ctx, a, PermSupport)
	if err != nil {
		return Ticket{}, err
	}
	t, err := s.db.Read().FindTicket(ctx, id)
	if err != nil {
		return Ticket{}, tkesj.ErrNotFound("ticket")
	}
	status := "answered"
	if close {
		status = "closed"
	}
	return s.addTicketMessage(ctx, t, st, body, status)
}

// RunTicketRetention deletes tickets closed more than TicketRetention ago
// (R-OPS-1) and reports how many; RunOps calls it every interval.
func (s *Service) RunTicketRetention(ctx context.Context) (int64, error) {
	cutoff := s.now().Add(-s.cfg.TicketRetention)
	var total int64
	for {
		var n int64
		err := s.db.Update(ctx, func(q *store.Queries) (err error) {
			n, err = q.DeleteClosedTickets(ctx, cutoff, purgeBatch)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		s.ops.ticketsPurged.Add(n)
		if n < purgeBatch {
			return total, nil
		}
	}
}

// exportTicketsAndSharing writes tickets.json (every support conversation
// of the person, R-OPS-1) and sharing.json (the transparency report,
// R-SHR-2) into a data export (R-RGT-1).
func (s *Service) exportTicketsAndSharing(ctx context.Context, a Auth, st *exportState) error {
	recs, err := s.db.Read().TicketsOf(ctx, a.UserID)
	if err != nil {
		st.lost("tickets.json", "", "read_failed")
	} else {
		out := make([]map[string]any, 0, len(recs))
		for _, r := range recs {
			t, err := s.ticketView(ctx, r, true)
			if err != nil {
				continue
			}
			ms := make([]map[string]any, 0, len(t.Messages))
			for _, m := range t.Messages {
				ms = append(ms, map[string]any{"author": m.Author, "staff_ref": m.StaffRef, "body": m.Body, "at": m.At.Format(time.RFC3339)})
			}
			out = append(out, map[string]any{"id": t.ID, "kind": t.Kind, "status": t.Status, "subject": t.Subject,
				"created_at": t.CreatedAt.Format(time.RFC3339), "messages": ms})
		}
		st.counts["tickets"] = len(out)
		if err := st.json("tickets.json", "tickets", len(out), map[string]any{"tickets": out}); err != nil {
			return err
		}
	}
	rep, err := s.SharingReport(ctx, a)
	if err != nil {
		st.lost("sharing.json", "", "read_failed")
		return nil
	}
	recsOut := make([]map[string]any, 0, len(rep.Records))
	for _, r := range rep.Records {
		recsOut = append(recsOut, map[string]any{"recipient": r.RecipientName, "recipient_id": r.RecipientID, "purpose": r.Purpose,
			"categories": r.Categories, "basis": r.Basis, "status": r.Status, "refusal": r.Refusal, "at": r.At.Format(time.RFC3339)})
	}
	st.counts["sharing"] = len(recsOut)
	return st.json("sharing.json", "sharing", len(recsOut), map[string]any{"region": rep.Region, "records": recsOut})
}
