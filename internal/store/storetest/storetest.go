// Package storetest is the conformance suite every store backend must pass.
// The sqlite and postgres packages run it from their tests; adding a test here
// adds it to every backend at once.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// Opener returns a fresh, empty, migrated store for one test.
type Opener func(t *testing.T) *store.DB

// PostgresURL returns the URL of the PostgreSQL server for tests. It skips the
// test when none is configured, except in CI, where the PostgreSQL leg must run.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TKESJ_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TKESJ_TEST_POSTGRES_URL must be set in CI")
		}
		t.Skip("TKESJ_TEST_POSTGRES_URL not set; skipping the PostgreSQL leg")
	}
	return u
}

// testCase is one conformance test; every case gets a fresh store.
type testCase struct {
	name string
	fn   func(t *testing.T, db *store.DB)
}

// cases lists the suite, grouped by the capability that calls the methods.
func cases() []testCase {
	return slices.Concat(
		[]testCase{
			{"a user round-trips through create and find", testUserRoundTrip},
			{"a taken phone or username is a named conflict", testUserConflicts},
			{"concurrent creates of one phone give one user", testConcurrentCreate},
			{"deleting a device ends its sessions", testDeviceCascade},
			{"deleting a user removes devices, sessions and consents", testUserCascade},
			{"codes are stored, counted, replaced and burnt", testCodes},
			{"the consent ledger keeps order and the latest entry wins", testConsents},
			{"the newest policy is current", testPolicies},
			{"many concurrent writers never fail", testConcurrentWriters},
			{"a transaction the database failed to break a deadlock runs again, nothing else does", testUpdateRetrying},
			{"timelines hold exactly the posts each viewer may see, through every change", testTimelines},
			{"throttle counters count every hit once, across writers and windows", testThrottles},
			{"the store answers, names its dialect and commits groups of writes slot by slot", testDB},
		},
		accountCases,
		messagingCases,
		socialCases,
		mediaCases,
		complianceCases,
		opsCases,
		raceCases,
		callCases,
		convCases,
	)
}

// dbMethods says where each exported method of *store.DB is exercised: they
// run no statement of their own, so Observe cannot see them.
var dbMethods = map[string]string{
	"Read":           "every case",
	"Update":         "every case",
	"Close":          "every opener's cleanup, and testDB",
	"Migrate":        "every opener (Open applies the migrations)",
	"Observe":        "Run",
	"OnClose":        "sqlite.Open (its checkpointer), run by every case's Close",
	"WriterPrepares": "sqlite's writer_test (a counter of prepares)",
	"Ping":           "testDB",
	"Dialect":        "testDB",
	"UpdateBatch":    "testDB",
	"UpdateRelaxed":  "testRelaxedUpdate (social.go)",
	"UpdateRetrying": "testUpdateRetrying",
	"Reclaim":        "testExpiry (conv.go)",
	"Statements":     "testDB",
	// SQLite's index file (store/searchfile.go).
	"UseSearchIndex":    "sqlite.Open",
	"SearchIndex":       "testSearch, testSearchFile",
	"ApplyUnindexQueue": "testSearchFile, testSearch",
}

// fileIndexMethods run only where the search index has a file of its own
// (SQLite): on other backends no case can reach them.
var fileIndexMethods = map[string]bool{
	"LogMessages": true, "UnindexQueue": true, "DoneUnindex": true,
	"SearchPosition": true, "SetSearchPosition": true, "ApplyUnindex": true,
	"PurgeMarks": true, "ClearPurgeMarks": true,
}

// Run runs the whole suite against the backend that open makes. When every
// case ran and passed, it then fails if any exported store method was not
// exercised: a new method needs a case here (see Observe).
func Run(t *testing.T, open Opener) {
	var mu sync.Mutex
	called := map[string]bool{}
	observe := func(method string) {
		mu.Lock()
		called[method] = true
		mu.Unlock()
	}
	all := cases()
	ran := 0
	split := false
	for _, tc := range all {
		t.Run(tc.name, func(t *testing.T) {
			ran++
			db := open(t)
			split = split || db.SearchIndex() != db
			db.Observe(observe)
			tc.fn(t, db)
		})
	}
	t.Run("every store method is exercised", func(st *testing.T) {
		if ran < len(all) || t.Failed() {
			st.Skipf("%d of %d cases ran; coverage is judged on a whole, green run", ran, len(all))
		}
		mu.Lock()
		defer mu.Unlock()
		if !split {
			for m := range fileIndexMethods {
				called[m] = true
			}
		}
		if missing := uncovered(called); len(missing) > 0 {
			st.Errorf("store methods no conformance case exercises: %v\n(add a case to storetest that calls each and asserts what its callers rely on)", missing)
		}
	})
}

// uncovered lists the exported methods of *store.Queries that no statement
// reported, and the methods of *store.DB that dbMethods does not account for.
func uncovered(called map[string]bool) []string {
	var missing []string
	qt := reflect.TypeFor[*store.Queries]()
	for i := range qt.NumMethod() {
		if m := qt.Method(i).Name; !called[m] {
			missing = append(missing, "Queries."+m)
		}
	}
	dt := reflect.TypeFor[*store.DB]()
	for i := range dt.NumMethod() {
		if m := dt.Method(i).Name; dbMethods[m] == "" {
			missing = append(missing, "DB."+m)
		}
	}
	return missing
}

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func user(id string) store.UserRecord {
	return store.UserRecord{
		ID: id, UsernameIdx: []byte("u-" + id), PhoneIdx: []byte("p-" + id), Profile: []byte("sealed-" + id),
		PasswordHash: "hash", Status: string(tkesj.UserActive), CreatedAt: now, UpdatedAt: now,
	}
}

func mustCreate(t *testing.T, db *store.DB, u store.UserRecord) {
	t.Helper()
	if err := db.Update(context.Background(), func(q *store.Queries) error { return q.CreateUser(context.Background(), u) }); err != nil {
		t.Fatalf("CreateUser(%s) = %v", u.ID, err)
	}
}

func testUserRoundTrip(t *testing.T, db *store.DB) {
	ctx := context.Background()
	want := user("u1")
	mustCreate(t, db, want)
	for name, find := range map[string]func() (store.UserRecord, error){
		"id":       func() (store.UserRecord, error) { return db.Read().FindUserByID(ctx, "u1") },
		"phone":    func() (store.UserRecord, error) { return db.Read().FindUserByPhoneIdx(ctx, want.PhoneIdx) },
		"username": func() (store.UserRecord, error) { return db.Read().FindUserByUsernameIdx(ctx, want.UsernameIdx) },
	} {
		got, err := find()
		if err != nil {
			t.Fatalf("find by %s = %v", name, err)
		}
		if got.ID != want.ID || !bytes.Equal(got.Profile, want.Profile) || !got.CreatedAt.Equal(want.CreatedAt) || got.Status != want.Status {
			t.Errorf("find by %s = %+v, want %+v", name, got, want)
		}
	}
	if _, err := db.Read().FindUserByID(ctx, "nobody"); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("FindUserByID(nobody) = %v, want not_found", err)
	}
	err := db.Update(ctx, func(q *store.Queries) error {
		return q.UpdateUserProfile(ctx, "u1", []byte("u-new"), []byte("sealed-2"), now.Add(time.Second))
	})
	if err != nil {
		t.Fatalf("UpdateUserProfile = %v", err)
	}
	got, err := db.Read().FindUserByUsernameIdx(ctx, []byte("u-new"))
	if err != nil || string(got.Profile) != "sealed-2" {
		t.Errorf("after update, find by new username = %+v, %v", got, err)
	}
}

func testUserConflicts(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mustCreate(t, db, user("a"))
	samePhone := user("b")
	samePhone.PhoneIdx = []byte("p-a")
	sameName := user("c")
	sameName.UsernameIdx = []byte("u-a")
	for _, tc := range []struct {
		u    store.UserRecord
		code string
	}{{samePhone, "phone_taken"}, {sameName, "username_taken"}} {
		err := db.Update(ctx, func(q *store.Queries) error { return q.CreateUser(ctx, tc.u) })
		if tkesj.ErrorCode(err) != tc.code {
			t.Errorf("CreateUser(%s) = %v, want %s", tc.u.ID, err, tc.code)
		}
	}
	mustCreate(t, db, user("d"))
	err := db.Update(ctx, func(q *store.Queries) error { return q.UpdateUserProfile(ctx, "d", []byte("u-a"), []byte("x"), now) })
	if tkesj.ErrorCode(err) != "username_taken" {
		t.Errorf("renaming to a taken username = %v, want username_taken", err)
	}
}

func testConcurrentCreate(t *testing.T, db *store.DB) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u := user(fmt.Sprintf("c%d", i))
			u.PhoneIdx = []byte("same-phone")
			errs[i] = db.Update(ctx, func(q *store.Queries) error { return q.CreateUser(ctx, u) })
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case tkesj.ErrorCode(err) != "phone_taken":
			t.Errorf("concurrent CreateUser = %v, want nil or phone_taken", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent creates of one phone succeeded, want 1", ok)
	}
}

func device(userID, idx string) store.DeviceRecord {
	return store.DeviceRecord{UserID: userID, DeviceIdx: []byte(idx), Sealed: []byte("dev"), CreatedAt: now, LastSeenAt: now}
}

func mustSession(t *testing.T, db *store.DB, userID, idx, token string) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(q *store.Queries) error {
		if err := q.UpsertDevice(ctx, device(userID, idx)); err != nil {
			return err
		}
		return q.CreateSession(ctx, store.SessionRecord{TokenHash: []byte(token), UserID: userID, DeviceIdx: []byte(idx), CreatedAt: now, LastSeenAt: now})
	})
	if err != nil {
		t.Fatalf("create session %s: %v", token, err)
	}
}

func testDeviceCascade(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mustCreate(t, db, user("u"))
	mustSession(t, db, "u", "phone", "t1")
	mustSession(t, db, "u", "phone", "t2")
	mustSession(t, db, "u", "laptop", "t3")
	devs, err := db.Read().Devices(ctx, "u")
	if err != nil || len(devs) != 2 {
		t.Fatalf("Devices = %d, %v; want 2", len(devs), err)
	}
	var found bool
	err = db.Update(ctx, func(q *store.Queries) (err error) { found, err = q.DeleteDevice(ctx, "u", []byte("phone")); return })
	if err != nil || !found {
		t.Fatalf("DeleteDevice = %v, %v", found, err)
	}
	for tok, alive := range map[string]bool{"t1": false, "t2": false, "t3": true} {
		_, err := db.Read().FindSession(ctx, []byte(tok))
		if (err == nil) != alive {
			t.Errorf("FindSession(%s) after deleting its device = %v, want alive=%v", tok, err, alive)
		}
	}
	err = db.Update(ctx, func(q *store.Queries) (err error) { found, err = q.DeleteDevice(ctx, "u", []byte("phone")); return })
	if err != nil || found {
		t.Errorf("deleting a device twice = %v, %v; want not found", found, err)
	}
}

func testUserCascade(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mustCreate(t, db, user("gone"))
	mustSession(t, db, "gone", "d", "tok")
	if err := db.Update(ctx, func(q *store.Queries) error {
		return q.AppendConsent(ctx, "gone", tkesj.Consent{Kind: "policy", Subject: "1", Granted: true, At: now})
	}); err != nil {
		t.Fatal(err)
	}
	var found bool
	if err := db.Update(ctx, func(q *store.Queries) (err error) { found, err = q.DeleteUser(ctx, "gone"); return }); err != nil || !found {
		t.Fatalf("DeleteUser = %v, %v", found, err)
	}
	if _, err := db.Read().FindSession(ctx, []byte("tok")); err == nil {
		t.Error("session survived its user")
	}
	if devs, _ := db.Read().Devices(ctx, "gone"); len(devs) != 0 {
		t.Errorf("%d devices survived their user", len(devs))
	}
	if cs, _ := db.Read().Consents(ctx, "gone"); len(cs) != 0 {
		t.Errorf("%d consents survived their user", len(cs))
	}
}

func testCodes(t *testing.T, db *store.DB) {
	ctx := context.Background()
	c := store.CodeRecord{PhoneIdx: []byte("p"), Purpose: "register", CodeMAC: []byte("m1"), ExpiresAt: now.Add(5 * time.Minute), CreatedAt: now}
	up := func(fn func(q *store.Queries) error) {
		t.Helper()
		if err := db.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	up(func(q *store.Queries) error { return q.PutCode(ctx, c) })
	up(func(q *store.Queries) error { return q.CountCodeAttempt(ctx, c.PhoneIdx, c.Purpose) })
	got, err := db.Read().FindCode(ctx, c.PhoneIdx, c.Purpose)
	if err != nil || got.Attempts != 1 || string(got.CodeMAC) != "m1" || !got.ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("FindCode = %+v, %v; want one attempt on m1", got, err)
	}
	c.CodeMAC = []byte("m2")
	up(func(q *store.Queries) error { return q.PutCode(ctx, c) })
	if got, _ = db.Read().FindCode(ctx, c.PhoneIdx, c.Purpose); got.Attempts != 0 || string(got.CodeMAC) != "m2" {
		t.Errorf("a new code = %+v, want m2 with no attempts", got)
	}
	if _, err := db.Read().FindCode(ctx, c.PhoneIdx, "login"); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("a code of another purpose = %v, want not_found", err)
	}
	var n int64
	up(func(q *store.Queries) (err error) { n, err = q.DeleteExpiredCodes(ctx, now.Add(time.Hour)); return })
	if n != 1 {
		t.Errorf("DeleteExpiredCodes removed %d, want 1", n)
	}
}

func testConsents(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mustCreate(t, db, user("c"))
	entries := []tkesj.Consent{
		{Kind: "policy", Subject: "1", Granted: true, PolicyVersion: "1", Method: "registration", At: now},
		{Kind: "permission", Subject: "location", Granted: true, PolicyVersion: "1", Method: "api", At: now},
		{Kind: "permission", Subject: "location", Granted: false, PolicyVersion: "1", Method: "api", At: now},
	}
	for _, e := range entries {
		if err := db.Update(ctx, func(q *store.Queries) error { return q.AppendConsent(ctx, "c", e) }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Read().Consents(ctx, "c")
	if err != nil || len(got) != 3 {
		t.Fatalf("Consents = %d entries, %v; want 3", len(got), err)
	}
	for i := range entries {
		if got[i].Kind != entries[i].Kind || got[i].Granted != entries[i].Granted || !got[i].At.Equal(entries[i].At) {
			t.Errorf("Consents[%d] = %+v, want %+v", i, got[i], entries[i])
		}
	}
	latest, err := db.Read().LatestConsent(ctx, "c", "permission", "location")
	if err != nil || latest.Granted {
		t.Errorf("LatestConsent(location) = %+v, %v; want the withdrawal", latest, err)
	}
	if _, err := db.Read().LatestConsent(ctx, "c", "permission", "camera"); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("LatestConsent(camera) = %v, want not_found", err)
	}
}

func testPolicies(t *testing.T, db *store.DB) {
	ctx := context.Background()
	if _, err := db.Read().CurrentPolicy(ctx); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Fatalf("CurrentPolicy on an empty store = %v, want not_found", err)
	}
	for _, p := range []tkesj.Policy{
		{Version: "1", Major: true, Text: "one", PublishedAt: now},
		{Version: "2", Major: false, Text: "two", PublishedAt: now.Add(time.Hour)},
	} {
		if err := db.Update(ctx, func(q *store.Queries) error { return q.PublishPolicy(ctx, p) }); err != nil {
			t.Fatal(err)
		}
	}
	p, err := db.Read().CurrentPolicy(ctx)
	if err != nil || p.Version != "2" || p.Major || p.Text != "two" {
		t.Errorf("CurrentPolicy = %+v, %v; want version 2, minor", p, err)
	}
	err = db.Update(ctx, func(q *store.Queries) error {
		return q.PublishPolicy(ctx, tkesj.Policy{Version: "2", PublishedAt: now})
	})
	if tkesj.ErrorKindOf(err) != tkesj.EConflict {
		t.Errorf("publishing version 2 again = %v, want conflict", err)
	}
}

func testConcurrentWriters(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mustCreate(t, db, user("w"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				err := db.Update(ctx, func(q *store.Queries) error {
					return q.AppendConsent(ctx, "w", tkesj.Consent{Kind: "permission", Subject: fmt.Sprint(g), Granted: i%2 == 0, At: now})
				})
				if err == nil {
					_, err = db.Read().Consents(ctx, "w")
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d concurrent writes failed, first: %v", len(failures), failures[0])
	}
	if got, _ := db.Read().Consents(ctx, "w"); len(got) != 320 {
		t.Errorf("after 320 concurrent appends the ledger has %d entries", len(got))
	}
}

// testUpdateRetrying: UpdateRetrying (an account's destruction, issue 17)
// runs its transaction again when the database failed it to break a
// deadlock (PostgreSQL's 40P01; the error is made here, a real deadlock is
// in internal/service's TestLeavingGroupsBesideAGroupCommit), and never
// for any other error; SQLite, with one writer, never fails one so.
func testUpdateRetrying(t *testing.T, db *store.DB) {
	ctx := context.Background()
	runs := 0
	err := db.UpdateRetrying(ctx, func(q *store.Queries) error {
		runs++
		if err := q.CreateUser(ctx, user("r")); err != nil {
			return err
		}
		if runs == 1 {
			return &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
		}
		return nil
	})
	_, findErr := db.Read().FindUserByID(ctx, "r")
	switch db.Dialect() {
	case "postgres":
		if err != nil || runs != 2 || findErr != nil {
			t.Errorf("after a deadlock: %v, %d runs, reading the user: %v; want it run again and committed", err, runs, findErr)
		}
	default:
		if err == nil || runs != 1 || findErr == nil {
			t.Errorf("SQLite: %v, %d runs, reading the user: %v; want the error, one run, nothing stored", err, runs, findErr)
		}
	}
	runs = 0
	plain := errors.New("not a conflict")
	if err := db.UpdateRetrying(ctx, func(q *store.Queries) error { runs++; return plain }); !errors.Is(err, plain) || runs != 1 {
		t.Errorf("a plain error: %v after %d runs, want it at once", err, runs)
	}
}
