package service

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Notice is a message from the service to one person, in their inbox in the
// app (incidents, moderation).
type Notice struct {
	ID, Kind, Title, Body string
	Ref                   string // what it is about: an incident or decision id
	CreatedAt, ReadAt     time.Time
}

type noticeBody struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	Ref   string `json:"ref,omitempty"`
}

func noticeAD(id string) string { return "notices/" + id }

// notify stores a notice for userID inside q's transaction and returns it;
// the caller publishes its frame after the commit (noticeFrame).
func (s *Service) notify(ctx context.Context, q *store.Queries, userID, kind string, b noticeBody, at time.Time) (Notice, error) {
	id := newID("n")
	sealed, err := s.seal(ctx, userID, noticeAD(id), b)
	if err != nil {
		return Notice{}, err
	}
	if err := q.CreateNotice(ctx, store.NoticeRecord{ID: id, UserID: userID, Kind: kind, Body: sealed, CreatedAt: at}); err != nil {
		return Notice{}, err
	}
	return Notice{ID: id, Kind: kind, Title: b.Title, Body: b.Body, Ref: b.Ref, CreatedAt: at}, nil
}

// noticeFrame is the WebSocket frame that tells a person's devices of a notice.
func noticeFrame(n Notice) wire.NoticeFrame {
	return wire.NoticeFrame{Type: "notice", ID: n.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, Ref: n.Ref,
		CreatedAt: n.CreatedAt.Format(time.RFC3339Nano)}
}

// Notices lists the caller's notices, newest first.
func (s *Service) Notices(ctx context.Context, a Auth) ([]Notice, error) {
	recs, err := s.db.Read().Notices(ctx, a.UserID, 200)
	if err != nil {
		return nil, s.internal(ctx, "notices", err)
	}
	out := make([]Notice, 0, len(recs))
	for _, r := range recs {
		n := Notice{ID: r.ID, Kind: r.Kind, CreatedAt: r.CreatedAt, ReadAt: r.ReadAt}
		var b noticeBody
		if s.open(ctx, a.UserID, noticeAD(r.ID), r.Body, &b) == nil {
			n.Title, n.Body, n.Ref = b.Title, b.Body, b.Ref
		}
		out = append(out, n)
	}
	return out, nil
}

// MarkNoticeRead records that the caller read a notice of theirs; another
// person's notice is not_found.
func (s *Service) MarkNoticeRead(ctx context.Context, a Auth, id string) error {
	var ok bool
	err := s.db.Update(ctx, func(q *store.Queries) (err error) {
		ok, err = q.MarkNoticeRead(ctx, a.UserID, id, s.now())
		return err
	})
	if err != nil {
		return s.internal(ctx, "read notice", err)
	}
	if !ok {
		return tkesj.ErrNotFound("notice")
	}
	return nil
}

// IncidentInput records a security incident (R-SEC-4).
type IncidentInput struct {
	Summary    string    // what happened, in words the affected people read
	OccurredAt time.Time // when
	Categories []string  // which data: e.g. profile, phone, messages, media, devices
	UserIDs    []string  // who was affected
}

// Incident is an incident record with when each person was notified.
type Incident struct {
	ID, Summary, RecordedBy string
	Categories              []string
	OccurredAt, CreatedAt   time.Time
	People                  []IncidentPerson
}

// IncidentPerson is one affected person: when they were notified, and when
// they opened the notice (zero until then).
type IncidentPerson struct {
	UserID             string
	NotifiedAt, ReadAt time.Time
}

var categoryRE = regexp.MustCompile(`^[a-z][a-z_]{1,39}$`)

const maxIncidentPeople = 10000

// RecordIncident records an incident and tells each affected person at once:
// a notice in their inbox and a {"type":"notice"} frame on their sockets. The
// record keeps when each was notified (privacy officer, admin).
func (s *Service) RecordIncident(ctx context.Context, a Auth, in IncidentInput) (Incident, error) {
	st, err := s.staff(ctx, a, PermIncidents)
	if err != nil {
		return Incident{}, err
	}
	summary := strings.TrimSpace(in.Summary)
	if n := len([]rune(summary)); n < 10 || n > 2000 {
		return Incident{}, tkesj.Errorf(tkesj.EInvalid, "invalid_summary", "say what happened in 10 to 2000 characters; affected people read it")
	}
	now := s.now()
	if in.OccurredAt.IsZero() || in.OccurredAt.After(now.Add(time.Minute)) {
		return Incident{}, tkesj.Errorf(tkesj.EInvalid, "invalid_occurred_at", "occurred_at must be a past time (RFC 3339)")
	}
	if len(in.Categories) == 0 || len(in.Categories) > 20 {
		return Incident{}, tkesj.Errorf(tkesj.EInvalid, "invalid_categories", "name 1 to 20 data categories, such as profile, phone, messages, media, devices")
	}
	for _, c := range in.Categories {
		if !categoryRE.MatchString(c) {
			return Incident{}, tkesj.Errorf(tkesj.EInvalid, "invalid_categories", "a data category is a lower-case word such as messages or phone")
		}
	}
	people := uniqueOthers(in.UserIDs, "")
	if len(people) == 0 || len(people) > maxIncidentPeople {
		return Incident{}, tkesj.Errorf(tkesj.EInvalid, "invalid_user_ids", "list 1 to %d affected people by user id", maxIncidentPeople)
	}
	for _, id := range people {
		if _, err := s.db.Read().FindUserByID(ctx, id); err != nil {
			return Incident{}, tkesj.Errorf(tkesj.EInvalid, "unknown_user", "user %s does not exist", id)
		}
	}
	inc := Incident{ID: newID("i"), Summary: summary, RecordedBy: st.UserID, Categories: in.Categories, OccurredAt: in.OccurredAt.UTC(), CreatedAt: now}
	err = s.db.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateIncident(ctx, store.IncidentRecord{ID: inc.ID, Summary: summary, RecordedBy: st.UserID, Categories: in.Categories,
			OccurredAt: inc.OccurredAt, CreatedAt: now}); err != nil {
			return err
		}
		return s.audit(ctx, q, st, auditEntry{Action: "incident:record", Target: "incident " + inc.ID, Note: "categories " + strings.Join(in.Categories, ",")})
	})
	if err != nil {
		return Incident{}, s.internal(ctx, "record incident", err)
	}
	body := noticeBody{Title: "A security incident may have affected your data", Ref: inc.ID,
		Body: "On " + inc.OccurredAt.Format("2006-01-02 15:04") + " UTC: " + summary + " Data concerned: " + strings.Join(in.Categories, ", ") + "."}
	// One transaction per person, so that a failure part-way leaves an exact
	// record of who has been told.
	for _, id := range people {
		var n Notice
		err := s.db.Update(ctx, func(q *store.Queries) (err error) {
			if n, err = s.notify(ctx, q, id, "incident", body, s.now()); err != nil {
				return err
			}
			return q.AddIncidentPerson(ctx, inc.ID, store.IncidentPerson{UserID: id, NoticeID: n.ID, NotifiedAt: n.CreatedAt})
		})
		if err != nil {
			s.log.WarnContext(ctx, "incident notice", "incident", inc.ID, "user", id, "err", err.Error())
			continue
		}
		s.publish(ctx, []string{id}, noticeFrame(n))
		inc.People = append(inc.People, IncidentPerson{UserID: id, NotifiedAt: n.CreatedAt})
	}
	return inc, nil
}

// Incidents lists incidents, newest first (without their people).
func (s *Service) Incidents(ctx context.Context, a Auth) ([]Incident, error) {
	if _, err := s.staff(ctx, a, PermIncidents); err != nil {
		return nil, err
	}
	recs, err := s.db.Read().Incidents(ctx, 500)
	if err != nil {
		return nil, s.internal(ctx, "incidents", err)
	}
	out := make([]Incident, 0, len(recs))
	for _, r := range recs {
		out = append(out, Incident{ID: r.ID, Summary: r.Summary, RecordedBy: r.RecordedBy, Categories: r.Categories, OccurredAt: r.OccurredAt, CreatedAt: r.CreatedAt})
	}
	return out, nil
}

// FindIncident returns an incident with each affected person (by opaque id)
// and when they were notified and read the notice.
func (s *Service) FindIncident(ctx context.Context, a Auth, id string) (Incident, error) {
	if _, err := s.staff(ctx, a, PermIncidents); err != nil {
		return Incident{}, err
	}
	q := s.db.Read()
	r, people, err := q.FindIncident(ctx, id)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return Incident{}, err
		}
		return Incident{}, s.internal(ctx, "incident", err)
	}
	inc := Incident{ID: r.ID, Summary: r.Summary, RecordedBy: r.RecordedBy, Categories: r.Categories, OccurredAt: r.OccurredAt, CreatedAt: r.CreatedAt,
		People: []IncidentPerson{}}
	for _, p := range people {
		read, _ := q.NoticeReadAt(ctx, p.NoticeID)
		inc.People = append(inc.People, IncidentPerson{UserID: p.UserID, NotifiedAt: p.NotifiedAt, ReadAt: read})
	}
	return inc, nil
}
