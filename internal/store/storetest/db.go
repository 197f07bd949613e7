package storetest

import (
	"errors"
	"testing"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// testDB: the store answers pings, names its dialect, and a group commit
// keeps each slot's writes or drops them alone (the messaging writer relies
// on a failed slot not failing the batch).
func testDB(t *testing.T, db *store.DB) {
	if d := db.Dialect(); d != "sqlite" && d != "postgres" {
		t.Errorf("Dialect = %q, want sqlite or postgres", d)
	}
	ok(t, "Ping", db.Ping(ctx))
	// Statements counts what ran (issue 17's statements per message): a
	// read is one, and a batch of two writes adds a savepoint pair each.
	n0 := db.Statements()
	if _, err := db.Read().FindPolicy(ctx, "none"); err == nil {
		t.Error("FindPolicy(none) found a policy")
	}
	if d := db.Statements() - n0; d != 1 {
		t.Errorf("one read counted %d statements, want 1", d)
	}
	boom := errors.New("boom")
	policy := func(v string) tkesj.Policy { return tkesj.Policy{Version: v, Text: v, PublishedAt: now} }
	errs := db.UpdateBatch(ctx, []func(q *store.Queries) error{
		func(q *store.Queries) error { return q.PublishPolicy(ctx, policy("kept1")) },
		func(q *store.Queries) error {
			if err := q.PublishPolicy(ctx, policy("dropped")); err != nil {
				return err
			}
			return boom
		},
		func(q *store.Queries) error { return q.PublishPolicy(ctx, policy("kept1")) }, // a conflict, in its own slot
		func(q *store.Queries) error { return q.PublishPolicy(ctx, policy("kept2")) },
	})
	if d := db.Statements() - n0; d < 1+4+4*2 {
		t.Errorf("a read and a batch of four writes counted %d statements, want at least %d", d, 1+4+4*2)
	}
	if len(errs) != 4 || errs[0] != nil || !errors.Is(errs[1], boom) || tkesj.ErrorCode(errs[2]) != "policy_version_exists" || errs[3] != nil {
		t.Errorf("UpdateBatch = %v, want [nil boom policy_version_exists nil]", errs)
	}
	for v, stored := range map[string]bool{"kept1": true, "dropped": false, "kept2": true} {
		_, err := db.Read().FindPolicy(ctx, v)
		if (err == nil) != stored {
			t.Errorf("after the batch, FindPolicy(%s) = %v, want stored=%v", v, err, stored)
		}
	}
	errs = db.UpdateBatch(ctx, []func(q *store.Queries) error{func(q *store.Queries) error {
		if err := q.PublishPolicy(ctx, policy("alone")); err != nil {
			return err
		}
		return boom
	}})
	if len(errs) != 1 || !errors.Is(errs[0], boom) {
		t.Errorf("a batch of one failing write = %v, want [boom]", errs)
	}
	if _, err := db.Read().FindPolicy(ctx, "alone"); err == nil {
		t.Error("a batch of one failing write committed it")
	}
	ok(t, "Close", db.Close())
	if err := db.Ping(ctx); err == nil {
		t.Error("Ping after Close = nil, want an error")
	}
}
