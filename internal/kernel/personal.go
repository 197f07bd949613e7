package kernel

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// PersonalData is one kind of personal data a capability stores and what the
// service owes the people it is about: erasure when they destroy their account
// or the service ceases (R-DEL-2..4, R-OPS-3), a copy in their export
// (R-RGT-1), and the retention limits (R-SEC-2).
//
// Every capability that stores personal data registers each kind with
// Core.Personal in its New. Destruction, the purge, the cessation, the export
// and retention walk the registry; none of them names another capability's
// tables. TestEveryPersonalTableIsRegistered (internal/service) reads the
// schema and fails when a table holding a person's id or data is in no entry.
type PersonalData struct {
	Name   string   // what it is, for people reading the registry: "messages"
	Owner  string   // the registering package
	Tables []string // every table holding it
	Erase  Erasure
	// Export writes this data into the person's archive. Nil only with
	// NoExport saying why (and the test shows the reason).
	Export   func(ctx context.Context, a Auth, x *Archive) error
	NoExport string
	// ExportOrder places the sections in the archive (lower first), so the
	// archive reads in the same order whichever capability registers first.
	ExportOrder int
	// Retain enforces retention periods, one bounded pass each (R-SEC-2).
	Retain []RetentionRule
}

// Erasure says how a destroyed person's data goes. At least one field is set.
type Erasure struct {
	// Cascade: the rows go with the users row, through foreign keys declared
	// ON DELETE CASCADE (directly to users, or to a table that does); the
	// registry test checks the schema says so.
	Cascade bool
	// Destroy runs inside the destruction's transaction, before the users
	// row goes. The returned function, if any, runs after the commit
	// (deleting blobs, telling other people's clients).
	Destroy func(ctx context.Context, q *store.Queries, userID string) (after func(context.Context), err error)
	// Purge runs in the purger once the key is gone and no legal hold
	// applies: one bounded batch per call, returning how many items it
	// removed and whether to call again. It is idempotent, so a crash
	// part-way is resumed by the next pass. PurgeMetric names the count
	// ("bodies", "media") in the purge's statistics.
	Purge       func(ctx context.Context, userID string) (n int64, more bool, err error)
	PurgeMetric string
	// PurgeDespiteHold runs Purge before the legal-hold check: for data
	// that is only ids derived from what already left with the account.
	PurgeDespiteHold bool
	// Blobs lists the blob keys a person's rows name; destruction and the
	// cessation delete them.
	Blobs func(ctx context.Context, q *store.Queries, userID string) ([]string, error)
	// AllBlobs lists every blob key of this kind for the cessation, a page
	// at a time: pass "" first, then next, until next is "".
	AllBlobs func(ctx context.Context, after string) (keys []string, next string, err error)
	// Other says how the rows are erased when none of the above does it.
	Other string
}

func (e Erasure) set() bool {
	return e.Cascade || e.Destroy != nil || e.Purge != nil || e.Blobs != nil || e.AllBlobs != nil || e.Other != ""
}

// RetentionRule is one retention rule: Run removes (or reduces) what is past its
// period in one bounded pass and says how much. Metric names the counter.
type RetentionRule struct {
	Metric string
	Run    func(ctx context.Context, now time.Time) (int64, error)
}

// Registry holds every registered kind of personal data. Safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	entries []PersonalData
}

// Register adds kinds of personal data. It panics on an entry without a name,
// tables, an erasure, or an export (or a reason for none): those are
// programming errors that every test run would hit at start.
func (r *Registry) Register(ds ...PersonalData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range ds {
		if d.Name == "" || len(d.Tables) == 0 || !d.Erase.set() || (d.Export == nil && d.NoExport == "") {
			panic("kernel: incomplete personal data registration " + d.Name)
		}
		r.entries = append(r.entries, d)
	}
	slices.SortStableFunc(r.entries, func(a, b PersonalData) int { return a.ExportOrder - b.ExportOrder })
}

// All returns the registered kinds, in export order.
func (r *Registry) All() []PersonalData {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.entries)
}

// Tables maps every registered table to the kinds that name it.
func (r *Registry) Tables() map[string][]PersonalData {
	out := map[string][]PersonalData{}
	for _, d := range r.All() {
		for _, t := range d.Tables {
			out[t] = append(out[t], d)
		}
	}
	return out
}
