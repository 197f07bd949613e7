package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// raceCases: writes that nodes sharing one store may run at the same time.
var raceCases = []testCase{
	{"concurrent registrations of one recipient name give one recipient", testRecipientRace},
	{"concurrent operator state writes all succeed and one value stays", testServiceStateRace},
}

// concurrently runs fn(i) for i in [0, n) at once, each in its own write
// transaction, and returns their errors.
func concurrently(db *store.DB, n int, fn func(q *store.Queries, i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = db.Update(ctx, func(q *store.Queries) error { return fn(q, i) })
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func testRecipientRace(t *testing.T, db *store.DB) {
	for round := range 10 {
		name := fmt.Sprint("name", round)
		errs := concurrently(db, 8, func(q *store.Queries, i int) error {
			return q.CreateRecipient(ctx, store.RecipientRecord{ID: fmt.Sprint(name, "-", i), Kind: "processor", Name: name, CreatedAt: now})
		})
		created := 0
		for _, err := range errs {
			switch {
			case err == nil:
				created++
			case !isCode(err, "recipient_exists"):
				t.Errorf("a concurrent CreateRecipient = %v, want nil or recipient_exists", err)
			}
		}
		if created != 1 {
			t.Errorf("8 concurrent registrations of %s created %d, want 1", name, created)
		}
	}
	if rs := res(db.Read().Recipients(ctx)).must(t, "Recipients"); len(rs) != 10 {
		t.Errorf("10 names registered by racing writers gave %d recipients, want 10", len(rs))
	}
}

func testServiceStateRace(t *testing.T, db *store.DB) {
	errs := concurrently(db, 8, func(q *store.Queries, i int) error {
		return q.SetServiceState(ctx, "cessation", fmt.Sprint("v", i), now.Add(time.Duration(i)*time.Second))
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("a concurrent SetServiceState = %v, want nil", err)
		}
	}
	if v, _, err := db.Read().ServiceState(ctx, "cessation"); v == "" || err != nil {
		t.Errorf("ServiceState after the race = %q, %v", v, err)
	}
}
