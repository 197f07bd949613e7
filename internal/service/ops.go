package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Running the service: announcements (R-OPS-2), de-identified statistics
// (R-SHR-5), the cessation of the service (R-OPS-3), readiness, and the
// background worker that sends deletion notices, enforces the retention of
// support tickets and carries out a scheduled cessation.

// opsState is this file's and sharing.go's share of the Service.
type opsState struct {
	client    *http.Client  // webhooks to recipients
	noticeNow chan struct{} // wakes the deletion-notice worker

	mu           sync.Mutex
	ceasing      bool
	ceasingSince time.Time
	fetched      time.Time

	ticketsPurged atomic.Int64
	noticesAcked  atomic.Int64

	relayMu   sync.Mutex
	relayedTo time.Time       // announcements up to here are pushed (relayAnnouncements)
	ownIDs    map[string]bool // announcements this node pushed itself
}

func newOpsState() *opsState {
	return &opsState{client: &http.Client{Timeout: 15 * time.Second}, noticeNow: make(chan struct{}, 1), relayedTo: time.Now().UTC(), ownIDs: map[string]bool{}}
}

// Announcement is a message from the operator to everyone (R-OPS-2).
type Announcement struct {
	ID, Kind, Title, Body string
	At                    time.Time
}

// Announce stores an announcement and pushes it to everyone connected
// (staff with "announcements"). Kind is "general" or "policy".
func (s *Service) Announce(ctx context.Context, a Auth, kind, title, body string) (Announcement, error) {
	st, err := s.staff(ctx, a, PermAnnouncements)
	if err != nil {
		return Announcement{}, err
	}
	if kind == "" {
		kind = "general"
	}
	if kind != "general" && kind != "policy" {
		return Announcement{}, tkesj.Errorf(tkesj.EInvalid, "invalid_kind", "kind must be general or policy")
	}
	an, err := s.announce(ctx, kind, title, body)
	if err != nil {
		return Announcement{}, err
	}
	if err := s.auditNow(ctx, st, auditEntry{Action: "announce", Target: "announcement " + an.ID, Note: kind}); err != nil {
		return Announcement{}, err
	}
	return an, nil
}

// AnnounceAsOperator is `tkesj admin announce`.
func (s *Service) AnnounceAsOperator(ctx context.Context, kind, title, body string) (Announcement, error) {
	if kind == "" {
		kind = "general"
	}
	return s.announce(ctx, kind, title, body)
}

func (s *Service) announce(ctx context.Context, kind, title, body string) (Announcement, error) {
	title, body = strings.TrimSpace(title), strings.TrimSpace(body)
	if n := utf8.RuneCountInString(title); n < 1 || n > 200 || !utf8.ValidString(title) {
		return Announcement{}, tkesj.Errorf(tkesj.EInvalid, "invalid_title", "an announcement has a title of 1 to 200 characters")
	}
	if n := utf8.RuneCountInString(body); n < 1 || n > 10000 || !utf8.ValidString(body) {
		return Announcement{}, tkesj.Errorf(tkesj.EInvalid, "invalid_body", "an announcement has a body of 1 to 10000 characters")
	}
	an := Announcement{ID: newID("n"), Kind: kind, Title: title, Body: body, At: s.now()}
	// Noted before it is stored, so that the relay never pushes it again.
	s.ops.relayMu.Lock()
	s.ops.ownIDs[an.ID] = true
	s.ops.relayMu.Unlock()
	if err := s.db.Update(ctx, func(q *store.Queries) error {
		return q.CreateAnnouncement(ctx, store.AnnouncementRecord{ID: an.ID, Kind: an.Kind, Title: an.Title, Body: an.Body, CreatedAt: an.At})
	}); err != nil {
		s.ops.relayMu.Lock()
		delete(s.ops.ownIDs, an.ID)
		s.ops.relayMu.Unlock()
		return Announcement{}, s.internal(ctx, "announce", err)
	}
	s.pushAnnouncement(ctx, an)
	return an, nil
}

func (s *Service) pushAnnouncement(ctx context.Context, an Announcement) {
	s.broadcast(ctx, wire.AnnouncementFrame{Type: "announcement", ID: an.ID, Kind: an.Kind, Title: an.Title, Body: an.Body, At: an.At.Format(time.RFC3339)})
}

// relayAnnouncements pushes announcements that another process stored (the
// tkesj admin command) to this node's connections. Only a single node with
// in-process delivery needs it (Config.RelayAnnouncements): with NATS the
// command's own push reaches every node.
func (s *Service) relayAnnouncements(ctx context.Context) {
	recs, err := s.db.Read().Announcements(ctx, 50)
	if err != nil {
		return
	}
	s.ops.relayMu.Lock()
	var todo []Announcement
	newest := s.ops.relayedTo
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if !r.CreatedAt.After(s.ops.relayedTo) {
			continue
		}
		newest = r.CreatedAt
		if s.ops.ownIDs[r.ID] {
			delete(s.ops.ownIDs, r.ID)
			continue
		}
		todo = append(todo, Announcement{ID: r.ID, Kind: r.Kind, Title: r.Title, Body: r.Body, At: r.CreatedAt})
	}
	s.ops.relayedTo = newest
	s.ops.relayMu.Unlock()
	for _, an := range todo {
		s.pushAnnouncement(ctx, an)
	}
}

// Announcements is everyone's in-app inbox of announcements, newest first.
func (s *Service) Announcements(ctx context.Context) ([]Announcement, error) {
	recs, err := s.db.Read().Announcements(ctx, 200)
	if err != nil {
		return nil, s.internal(ctx, "announcements", err)
	}
	out := make([]Announcement, 0, len(recs))
	for _, r := range recs {
		out = append(out, Announcement{ID: r.ID, Kind: r.Kind, Title: r.Title, Body: r.Body, At: r.CreatedAt})
	}
	return out, nil
}

// StatCell is one cell of a statistic. A count below the threshold k is
// suppressed: Count is then 0 and Suppressed true, shown as "<k".
type StatCell struct {
	Key        string
	Count      int64
	Suppressed bool
}

// Statistics are de-identified aggregates (R-SHR-5): no identifier of any
// kind, only counts per day or per kind, each below K suppressed.
type Statistics struct {
	Days, K           int
	ActiveUsersPerDay []StatCell
	MessagesPerKind   []StatCell
	PostsPerDay       []StatCell
	GeneratedAt       time.Time
}

// Statistics computes the aggregates of the last days days (staff with
// "stats"); the read is in the audit log.
func (s *Service) Statistics(ctx context.Context, a Auth, days int) (Statistics, error) {
	st, err := s.staff(ctx, a, PermStats)
	if err != nil {
		return Statistics{}, err
	}
	out, err := s.statistics(ctx, days)
	if err != nil {
		return Statistics{}, err
	}
	if err := s.auditNow(ctx, st, auditEntry{Action: "read:stats", Target: "de-identified statistics", Note: fmt.Sprintf("%d days, k=%d", out.Days, out.K)}); err != nil {
		return Statistics{}, err
	}
	return out, nil
}

// StatisticsAsOperator is `tkesj admin stats`.
func (s *Service) StatisticsAsOperator(ctx context.Context, days int) (Statistics, error) {
	return s.statistics(ctx, days)
}

func (s *Service) statistics(ctx context.Context, days int) (Statistics, error) {
	if days <= 0 {
		days = 30
	}
	if days > 366 {
		return Statistics{}, tkesj.Errorf(tkesj.EInvalid, "invalid_days", "days is 1 to 366")
	}
	k := s.cfg.StatsK
	now := s.now()
	since := now.Truncate(24*time.Hour).AddDate(0, 0, -(days - 1))
	q := s.db.Read()
	out := Statistics{Days: days, K: k, GeneratedAt: now}
	suppress := func(cs []store.Count) []StatCell {
		cells := make([]StatCell, 0, len(cs))
		for _, c := range cs {
			cell := StatCell{Key: c.Key, Count: c.N}
			if c.N < int64(k) {
				cell.Count, cell.Suppressed = 0, true
			}
			cells = append(cells, cell)
		}
		return cells
	}
	active, err := q.ActivePerDay(ctx, since)
	if err != nil {
		return out, s.internal(ctx, "statistics", err)
	}
	kinds, err := q.MessagesPerKind(ctx, since)
	if err != nil {
		return out, s.internal(ctx, "statistics", err)
	}
	posts, err := q.PostsPerDay(ctx, since)
	if err != nil {
		return out, s.internal(ctx, "statistics", err)
	}
	out.ActiveUsersPerDay, out.MessagesPerKind, out.PostsPerDay = suppress(active), suppress(kinds), suppress(posts)
	return out, nil
}

// Cessation is the state of the cessation of the service (R-OPS-3).
type Cessation struct {
	Since, EraseAt, ErasedAt time.Time
	NoticeDays               int
}

type cessationDoc struct {
	Since      time.Time `json:"since"`
	EraseAt    time.Time `json:"erase_at"`
	ErasedAt   time.Time `json:"erased_at,omitzero"`
	NoticeDays int       `json:"notice_days"`
}

const cessationState = "cessation"

// CessationState reads the cessation state; a zero Since means the service
// is not ceasing.
func (s *Service) CessationState(ctx context.Context) (Cessation, error) {
	v, _, err := s.db.Read().ServiceState(ctx, cessationState)
	if err != nil || v == "" {
		return Cessation{}, err
	}
	var d cessationDoc
	if err := json.Unmarshal([]byte(v), &d); err != nil {
		return Cessation{}, fmt.Errorf("cessation state: %w", err)
	}
	return Cessation(d), nil
}

// Ceasing reports whether the service is ceasing: registrations and the
// collection of new personal data are refused (R-OPS-3). Nodes see a
// cessation started elsewhere within two seconds.
func (s *Service) Ceasing(ctx context.Context) bool {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	if s.ops.ceasing || time.Since(s.ops.fetched) < 2*time.Second {
		return s.ops.ceasing
	}
	c, err := s.CessationState(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "cessation state", "err", err.Error())
		return false
	}
	s.ops.ceasing, s.ops.ceasingSince, s.ops.fetched = !c.Since.IsZero(), c.Since, time.Now()
	return s.ops.ceasing
}

// ErrCeasing answers what cessation refuses.
var ErrCeasing = tkesj.Errorf(tkesj.EForbidden, "service_ceasing",
	"tkesj is ceasing operation: it takes no new accounts or data; you can still export your data, ask questions and destroy your account")

// Cease starts the cessation of the service (`tkesj admin cease`): at once
// registrations and collection stop and everyone is told; after noticeDays
// days (at once when 0) every piece of personal information is deleted and
// every data key destroyed (EraseAll). Running it again may shorten the
// notice, never lengthen it.
func (s *Service) Cease(ctx context.Context, noticeDays int, message string) (Cessation, error) {
	if noticeDays < 0 || noticeDays > 3650 {
		return Cessation{}, tkesj.Errorf(tkesj.EInvalid, "invalid_notice", "notice days is 0 to 3650")
	}
	now := s.now()
	cur, err := s.CessationState(ctx)
	if err != nil {
		return Cessation{}, s.internal(ctx, "cease", err)
	}
	c := Cessation{Since: now, EraseAt: now.AddDate(0, 0, noticeDays), NoticeDays: noticeDays}
	first := cur.Since.IsZero()
	if !first {
		c.Since, c.ErasedAt = cur.Since, cur.ErasedAt
		if cur.EraseAt.Before(c.EraseAt) {
			c.EraseAt, c.NoticeDays = cur.EraseAt, cur.NoticeDays
		}
	}
	if err := s.setCessation(ctx, c); err != nil {
		return Cessation{}, err
	}
	if first {
		if message == "" {
			message = fmt.Sprintf("tkesj is ceasing operation. From now on it takes no new accounts and collects no new data. "+
				"On %s every account and all personal information will be deleted. Until then you can export your data (Me > Privacy > Export) "+
				"or destroy your account.", c.EraseAt.Format(time.DateOnly))
		}
		if _, err := s.announce(ctx, "cessation", "tkesj is ceasing operation", message); err != nil {
			return Cessation{}, err
		}
		if err := s.auditNow(ctx, operator, auditEntry{Action: "cease", Target: "the service", Note: fmt.Sprintf("erase at %s", c.EraseAt.Format(time.RFC3339))}); err != nil {
			return Cessation{}, err
		}
	}
	if !c.EraseAt.After(now) && c.ErasedAt.IsZero() {
		if _, err := s.EraseAll(ctx); err != nil {
			return Cessation{}, err
		}
		return s.CessationState(ctx)
	}
	return c, nil
}

func (s *Service) setCessation(ctx context.Context, c Cessation) error {
	b, _ := json.Marshal(cessationDoc(c))
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.SetServiceState(ctx, cessationState, string(b), s.now()) }); err != nil {
		return s.internal(ctx, "cease", err)
	}
	s.ops.mu.Lock()
	s.ops.ceasing, s.ops.ceasingSince, s.ops.fetched = true, c.Since, time.Now()
	s.ops.mu.Unlock()
	return nil
}

// ErasureKept lists the tables the erasure of the cessation keeps, and why:
// none holds personal information readable by anyone afterwards. README.md
// "Cessation of service" repeats it.
var ErasureKept = map[string]string{
	"schema_migrations": "the schema version, so the database can still be opened",
	"policies":          "the published privacy policy texts (no personal data)",
	"announcements":     "announcements, including the cessation notice (no personal data)",
	"audit_log":         "the append-only log of staff access and legal processing, kept as the law requires; opaque ids only, the sealed purposes are unreadable once the keys are gone",
	"incidents":         "security incident summaries, kept for the regulator (R-SEC-4); who was affected is deleted",
	"recipients":        "the recipient registry, needed to send the deletion notices",
	"sharing_records":   "what was shared with whom and when, by opaque id, until each recipient acknowledges the deletion notice; then the id is emptied",
	"service_state":     "the cessation state itself",
}

// ErasureStats says what EraseAll removed.
type ErasureStats struct {
	Keys, Blobs, Accounts int
	Tables                []string
}

// EraseAll is the end of the cessation: every recipient is asked to delete
// what it got, every data key is destroyed (so nothing sealed can ever be
// read again, in backups too), every media and export blob deleted, and
// every table emptied but those in ErasureKept.
func (s *Service) EraseAll(ctx context.Context) (ErasureStats, error) {
	var st ErasureStats
	now := s.now()
	var blobs, people []string
	after := ""
	for {
		ids, err := s.db.Read().UserIDs(ctx, after, 1000)
		if err != nil {
			return st, s.internal(ctx, "erase", err)
		}
		if len(ids) == 0 {
			break
		}
		for _, id := range ids {
			err := s.db.Update(ctx, func(q *store.Queries) error {
				if _, err := q.RequestDeletion(ctx, id, "", "service_ceased", now); err != nil {
					return err
				}
				keys, err := exportBlobKeys(ctx, q, id)
				blobs = append(blobs, keys...)
				return err
			})
			if err != nil {
				return st, s.internal(ctx, "erase", err)
			}
			st.Accounts++
			people = append(people, id)
		}
		after = ids[len(ids)-1]
	}
	// Keys first: from here on nothing of anyone's can be read.
	ids := people
	if s.keyIDs != nil {
		var err error
		if ids, err = s.keyIDs(ctx); err != nil {
			return st, s.internal(ctx, "erase keys", err)
		}
	}
	for _, id := range ids {
		if err := s.keys.Destroy(ctx, id); err != nil {
			return st, s.internal(ctx, "erase keys", err)
		}
		st.Keys++
	}
	after = ""
	for {
		ids, err := s.db.Read().AllMediaIDs(ctx, after, 1000)
		if err != nil {
			return st, s.internal(ctx, "erase media", err)
		}
		if len(ids) == 0 {
			break
		}
		for _, id := range ids {
			blobs = append(blobs, id, id+"_t")
		}
		after = ids[len(ids)-1]
	}
	for _, k := range blobs {
		if err := s.blobs.Delete(ctx, k); err != nil {
			return st, s.internal(ctx, "erase blobs", err)
		}
		st.Blobs++
	}
	keep := make([]string, 0, len(ErasureKept))
	for t := range ErasureKept {
		keep = append(keep, t)
	}
	err := s.db.Update(ctx, func(q *store.Queries) (err error) {
		st.Tables, err = q.EmptyTablesExcept(ctx, keep)
		return err
	})
	if err != nil {
		return st, s.internal(ctx, "erase tables", err)
	}
	c, err := s.CessationState(ctx)
	if err != nil {
		return st, s.internal(ctx, "erase", err)
	}
	c.ErasedAt = s.now()
	if err := s.setCessation(ctx, c); err != nil {
		return st, err
	}
	s.wakeNotices()
	s.log.InfoContext(ctx, "personal information erased", "accounts", st.Accounts, "keys", st.Keys, "blobs", st.Blobs, "tables", len(st.Tables))
	return st, nil
}

// Ready reports whether this node can serve: the store answers and the bus
// accepts an event (an empty one, which every node ignores).
func (s *Service) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	// Reading is not serving: a full disk lets every read through and fails
	// every write (issue 14 item 11). Write a counter row and a blob, as any
	// message or upload would.
	if err := s.db.Update(ctx, func(q *store.Queries) error {
		_, _, err := q.HitThrottle(ctx, "readyz:"+s.probeID, s.now(), time.Minute, true)
		return err
	}); err != nil {
		return fmt.Errorf("store write: %w", err)
	}
	if err := s.blobs.Put(ctx, "readyz-"+s.probeID, strings.NewReader("ok"), 2); err != nil {
		return fmt.Errorf("media write: %w", err)
	}
	s.blobs.Delete(ctx, "readyz-"+s.probeID)
	if s.bus != nil {
		if err := s.bus.Publish(ctx, tkesj.Event{}); err != nil {
			return fmt.Errorf("bus: %w", err)
		}
	}
	return nil
}

// OpsCounts reports this part's counters for metrics.
func (s *Service) OpsCounts() map[string]int64 {
	return map[string]int64{"tickets_purged": s.ops.ticketsPurged.Load(), "deletion_notices_acked": s.ops.noticesAcked.Load()}
}

// RunOps runs the background work of this part until ctx ends: deletion
// notices (continuously), and every interval the retention of closed
// support tickets and a cessation whose notice period has ended.
func (s *Service) RunOps(ctx context.Context, interval time.Duration) {
	notices := make(chan struct{})
	go func() { defer close(notices); s.RunDeletionNotices(ctx) }()
	defer func() { <-notices }()
	t := time.NewTicker(interval)
	defer t.Stop()
	relay := time.NewTicker(2 * time.Second)
	defer relay.Stop()
	for {
		if n, err := s.RunTicketRetention(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "ticket retention", "err", err.Error())
		} else if n > 0 {
			s.log.InfoContext(ctx, "closed tickets past retention deleted", "tickets", n)
		}
		if c, err := s.CessationState(ctx); err == nil && !c.Since.IsZero() && c.ErasedAt.IsZero() && !c.EraseAt.After(s.now()) {
			if _, err := s.EraseAll(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "cessation erase", "err", err.Error())
			}
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				waiting = false
			case <-relay.C:
				if s.cfg.RelayAnnouncements {
					s.relayAnnouncements(ctx)
				}
			}
		}
	}
}
