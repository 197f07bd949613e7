package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AnnouncementRecord is an announcement to everyone (R-OPS-2); not personal.
type AnnouncementRecord struct {
	ID, Kind, Title, Body string
	CreatedAt             time.Time
}

// CreateAnnouncement stores an announcement.
func (q *Queries) CreateAnnouncement(ctx context.Context, a AnnouncementRecord) error {
	_, err := q.exec(ctx, `INSERT INTO announcements (id, kind, title, body, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.Kind, a.Title, a.Body, micros(a.CreatedAt))
	return err
}

// Announcements lists announcements, newest first.
func (q *Queries) Announcements(ctx context.Context, limit int) ([]AnnouncementRecord, error) {
	rows, err := q.query(ctx, `SELECT id, kind, title, body, created_at FROM announcements ORDER BY created_at DESC, id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AnnouncementRecord{}
	for rows.Next() {
		var a AnnouncementRecord
		var at int64
		if err := rows.Scan(&a.ID, &a.Kind, &a.Title, &a.Body, &at); err != nil {
			return nil, err
		}
		a.CreatedAt = fromMicros(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// TicketRecord is a support ticket or complaint (R-OPS-1); Subject is sealed
// with the requester's key.
type TicketRecord struct {
	ID, UserID, Kind, Status       string
	Subject                        []byte
	CreatedAt, UpdatedAt, ClosedAt time.Time
}

// TicketMessageRecord is one message of a ticket; Body is sealed with the
// requester's key whoever wrote it.
type TicketMessageRecord struct {
	ID, TicketID, Author, StaffID string
	Body                          []byte
	CreatedAt                     time.Time
}

const ticketCols = `id, user_id, kind, status, subject, created_at, updated_at, closed_at`

func (q *Queries) tickets(ctx context.Context, query string, args ...any) ([]TicketRecord, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TicketRecord{}
	for rows.Next() {
		var t TicketRecord
		var at, up, closed int64
		if err := rows.Scan(&t.ID, &t.UserID, &t.Kind, &t.Status, &t.Subject, &at, &up, &closed); err != nil {
			return nil, err
		}
		t.CreatedAt, t.UpdatedAt, t.ClosedAt = fromMicros(at), fromMicros(up), optTime(closed)
		out = append(out, t)
	}
	return out, rows.Err()
}

// CreateTicket stores a new ticket.
func (q *Queries) CreateTicket(ctx context.Context, t TicketRecord) error {
	_, err := q.exec(ctx, `INSERT INTO tickets (`+ticketCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.Kind, t.Status, t.Subject, micros(t.CreatedAt), micros(t.UpdatedAt), optMicros(t.ClosedAt))
	return err
}

// FindTicket returns one ticket, or not_found.
func (q *Queries) FindTicket(ctx context.Context, id string) (TicketRecord, error) {
	ts, err := q.tickets(ctx, `SELECT `+ticketCols+` FROM tickets WHERE id = ?`, id)
	if err != nil {
		return TicketRecord{}, err
	}
	if len(ts) == 0 {
		return TicketRecord{}, notFound(sql.ErrNoRows, "ticket")
	}
	return ts[0], nil
}

// TicketsOf lists a person's tickets, newest first.
func (q *Queries) TicketsOf(ctx context.Context, userID string) ([]TicketRecord, error) {
	return q.tickets(ctx, `SELECT `+ticketCols+` FROM tickets WHERE user_id = ? ORDER BY created_at DESC, id LIMIT 500`, userID)
}

// TicketsByStatus lists tickets in a status (all when empty), oldest change first.
func (q *Queries) TicketsByStatus(ctx context.Context, status string, limit int) ([]TicketRecord, error) {
	if status == "" {
		return q.tickets(ctx, `SELECT `+ticketCols+` FROM tickets ORDER BY updated_at, id LIMIT ?`, limit)
	}
	return q.tickets(ctx, `SELECT `+ticketCols+` FROM tickets WHERE status = ? ORDER BY updated_at, id LIMIT ?`, status, limit)
}

// SetTicketStatus moves a ticket on; closedAt is zero unless it is closed.
func (q *Queries) SetTicketStatus(ctx context.Context, id, status string, at, closedAt time.Time) error {
	_, err := q.exec(ctx, `UPDATE tickets SET status = ?, updated_at = ?, closed_at = ? WHERE id = ?`, status, micros(at), optMicros(closedAt), id)
	return err
}

// AddTicketMessage stores a message on a ticket.
func (q *Queries) AddTicketMessage(ctx context.Context, m TicketMessageRecord) error {
	_, err := q.exec(ctx, `INSERT INTO ticket_messages (id, ticket_id, author, staff_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		m.ID, m.TicketID, m.Author, m.StaffID, m.Body, micros(m.CreatedAt))
	return err
}

// TicketMessages lists a ticket's messages, oldest first.
func (q *Queries) TicketMessages(ctx context.Context, ticketID string) ([]TicketMessageRecord, error) {
	rows, err := q.query(ctx, `SELECT id, ticket_id, author, staff_id, body, created_at FROM ticket_messages WHERE ticket_id = ? ORDER BY created_at, id`, ticketID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TicketMessageRecord{}
	for rows.Next() {
		var m TicketMessageRecord
		var at int64
		if err := rows.Scan(&m.ID, &m.TicketID, &m.Author, &m.StaffID, &m.Body, &at); err != nil {
			return nil, err
		}
		m.CreatedAt = fromMicros(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteClosedTickets deletes up to limit tickets closed before cutoff
// (retention, R-OPS-1) and reports how many.
func (q *Queries) DeleteClosedTickets(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM tickets WHERE id IN (SELECT id FROM tickets WHERE closed_at > 0 AND closed_at < ? LIMIT ?)`, micros(cutoff), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ServiceState reads an operator state value ("" and the zero time when unset).
func (q *Queries) ServiceState(ctx context.Context, name string) (string, time.Time, error) {
	var v string
	var at int64
	err := q.row(ctx, `SELECT value, at FROM service_state WHERE name = ?`, name).Scan(&v, &at)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", time.Time{}, nil
		}
		return "", time.Time{}, err
	}
	return v, fromMicros(at), nil
}

// SetServiceState writes an operator state value.
func (q *Queries) SetServiceState(ctx context.Context, name, value string, at time.Time) error {
	// One statement: a delete and an insert let two nodes writing at once
	// both insert, and one of them fail on the primary key.
	_, err := q.exec(ctx, `INSERT INTO service_state (name, value, at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, at = excluded.at`, name, value, micros(at))
	return err
}

// Count is one cell of a statistic: a key (a day or a kind) and its count.
type Count struct {
	Key string
	N   int64
}

const dayMicros = int64(24 * time.Hour / time.Microsecond)

func (q *Queries) counts(ctx context.Context, query string, args ...any) ([]Count, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Count{}
	for rows.Next() {
		var c Count
		var key any
		if err := rows.Scan(&key, &c.N); err != nil {
			return nil, err
		}
		switch k := key.(type) {
		case int64:
			c.Key = time.UnixMicro(k * dayMicros).UTC().Format(time.DateOnly)
		case []byte:
			c.Key = string(k)
		default:
			c.Key = fmt.Sprint(k)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ActivePerDay counts, per UTC day since since, the distinct people who sent
// a message, posted or used a session. Only counts leave the store.
func (q *Queries) ActivePerDay(ctx context.Context, since time.Time) ([]Count, error) {
	s := micros(since)
	return q.counts(ctx, `SELECT day, COUNT(DISTINCT uid) FROM (
		SELECT sent_at / ? AS day, sender_id AS uid FROM messages WHERE sent_at >= ?
		UNION ALL SELECT created_at / ? AS day, author_id AS uid FROM moments WHERE created_at >= ?
		UNION ALL SELECT last_seen_at / ? AS day, user_id AS uid FROM sessions WHERE last_seen_at >= ?
	) t GROUP BY day ORDER BY day`, dayMicros, s, dayMicros, s, dayMicros, s)
}

// MessagesPerKind counts messages sent since since, per kind.
func (q *Queries) MessagesPerKind(ctx context.Context, since time.Time) ([]Count, error) {
	return q.counts(ctx, `SELECT kind, COUNT(*) FROM messages WHERE sent_at >= ? GROUP BY kind ORDER BY kind`, micros(since))
}

// PostsPerDay counts posts per UTC day since since.
func (q *Queries) PostsPerDay(ctx context.Context, since time.Time) ([]Count, error) {
	return q.counts(ctx, `SELECT day, COUNT(*) FROM (SELECT created_at / ? AS day FROM moments WHERE created_at >= ?) t GROUP BY day ORDER BY day`,
		dayMicros, micros(since))
}

// AllMediaIDs lists up to limit media ids after after, in order (cessation).
func (q *Queries) AllMediaIDs(ctx context.Context, after string, limit int) ([]string, error) {
	return q.strings(ctx, `SELECT id FROM media WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

// tables lists the tables of the schema.
func (q *Queries) tables(ctx context.Context) ([]string, error) {
	if q.d.Name == "postgres" {
		return q.strings(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	}
	return q.strings(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
}

// EmptyTablesExcept deletes every row of every table but keep (cessation of
// the service, R-OPS-3), children before parents: a table whose delete fails
// on a foreign key is retried after the others. It returns the tables emptied.
func (q *Queries) EmptyTablesExcept(ctx context.Context, keep []string) ([]string, error) {
	all, err := q.tables(ctx)
	if err != nil {
		return nil, err
	}
	var todo, done []string
	for _, t := range all {
		if !slices.Contains(keep, t) {
			todo = append(todo, t)
		}
	}
	for len(todo) > 0 {
		var again []string
		var lastErr error
		for _, t := range todo {
			if _, err := q.q.ExecContext(ctx, "SAVEPOINT cease"); err != nil {
				return done, err
			}
			if _, err := q.q.ExecContext(ctx, `DELETE FROM "`+strings.ReplaceAll(t, `"`, ``)+`"`); err != nil {
				lastErr = err
				if _, err := q.q.ExecContext(ctx, "ROLLBACK TO SAVEPOINT cease"); err != nil {
					return done, err
				}
				again = append(again, t)
			} else {
				done = append(done, t)
			}
			if _, err := q.q.ExecContext(ctx, "RELEASE SAVEPOINT cease"); err != nil {
				return done, err
			}
		}
		if len(again) == len(todo) {
			return done, fmt.Errorf("empty tables %v: %w", again, lastErr)
		}
		todo = again
	}
	return done, nil
}
