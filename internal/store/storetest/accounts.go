package storetest

import (
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// accountCases: registration, sessions and devices, codes, policies,
// automated decisions and login risk, settings (internal/accounts).
var accountCases = []testCase{
	{"password, status and policy acceptance reach the session's view of the account", testAccountUpdates},
	{"sessions are found, touched and ended one, all-but-one or all at a time", testSessions},
	{"a burnt code answers once and is kept as used until it expires", testBurnCode},
	{"the newest major policy and any version can be found", testPolicyVersions},
	{"decisions list newest first, link their appeal and age out", testDecisions},
	{"known networks, devices and login locks", testLoginRisk},
	{"idle devices go with their sessions; old login IPs are truncated once", testDeviceRetention},
	{"push subscriptions are one per device and go with it", testPushSubscriptions},
	{"settings documents are replaced whole and read in bulk", testSettings},
}

func testAccountUpdates(t *testing.T, db *store.DB) {
	mustCreate(t, db, user("u"))
	mustSession(t, db, "u", "d", "tok")
	later := now.Add(time.Hour)
	write(t, db, "account updates", func(q *store.Queries) error {
		if err := q.UpdatePassword(ctx, "u", "hash2", later); err != nil {
			return err
		}
		if err := q.SetUserStatus(ctx, "u", string(tkesj.UserFrozen), later); err != nil {
			return err
		}
		if err := q.SetPolicyAccepted(ctx, "u", now.Add(-time.Hour)); err != nil {
			return err
		}
		return q.UpdateUserProfile(ctx, "u", nil, []byte("sealed-2"), later) // nil: the username stays
	})
	u := res(db.Read().FindUserByID(ctx, "u")).must(t, "FindUserByID")
	if u.PasswordHash != "hash2" || u.Status != string(tkesj.UserFrozen) || !u.UpdatedAt.Equal(later) || !u.CreatedAt.Equal(now) ||
		string(u.Profile) != "sealed-2" || string(u.UsernameIdx) != "u-u" {
		t.Errorf("after the updates the user is %+v", u)
	}
	s := res(db.Read().FindSession(ctx, []byte("tok"))).must(t, "FindSession")
	if s.UserStatus != string(tkesj.UserFrozen) || !s.PolicyAcceptedAt.Equal(now.Add(-time.Hour)) {
		t.Errorf("FindSession's account view = status %q, policy accepted %v; want frozen, %v", s.UserStatus, s.PolicyAcceptedAt, now.Add(-time.Hour))
	}
	var found bool
	write(t, db, "DeleteUser(nobody)", func(q *store.Queries) (err error) { found, err = q.DeleteUser(ctx, "nobody"); return })
	if found {
		t.Error("DeleteUser(nobody) reported a row")
	}
}

func testSessions(t *testing.T, db *store.DB) {
	users(t, db, "u", "v")
	mustSession(t, db, "u", "phone", "t1")
	mustSession(t, db, "u", "laptop", "t2")
	mustSession(t, db, "u", "laptop", "t3")
	mustSession(t, db, "v", "phone", "t4")
	s := res(db.Read().FindSession(ctx, []byte("t1"))).must(t, "FindSession(t1)")
	want(t, "FindSession(t1)", s, store.SessionRecord{TokenHash: []byte("t1"), UserID: "u", DeviceIdx: []byte("phone"),
		CreatedAt: now, LastSeenAt: now, UserStatus: string(tkesj.UserActive), PolicyAcceptedAt: time.UnixMicro(0).UTC()})
	res(db.Read().FindSession(ctx, []byte("nope"))).notFound(t, "FindSession(unknown)")

	later := now.Add(time.Minute)
	write(t, db, "TouchSession", func(q *store.Queries) error { return q.TouchSession(ctx, s, later) })
	if got := res(db.Read().FindSession(ctx, []byte("t1"))).must(t, "FindSession"); !got.LastSeenAt.Equal(later) {
		t.Errorf("after TouchSession, LastSeenAt = %v, want %v", got.LastSeenAt, later)
	}
	devs := res(db.Read().Devices(ctx, "u")).must(t, "Devices")
	if len(devs) != 2 || string(devs[0].DeviceIdx) != "phone" || !devs[0].LastSeenAt.Equal(later) || !devs[1].LastSeenAt.Equal(now) {
		t.Errorf("Devices after touching the phone = %+v, want the phone first, seen %v", devs, later)
	}
	for idx, known := range map[string]bool{"phone": true, "laptop": true, "tablet": false} {
		if got := res(db.Read().KnownDevice(ctx, "u", []byte(idx))).must(t, "KnownDevice"); got != known {
			t.Errorf("KnownDevice(u, %s) = %v, want %v", idx, got, known)
		}
	}
	if got := res(db.Read().KnownDevice(ctx, "v", []byte("laptop"))).must(t, "KnownDevice"); got {
		t.Error("KnownDevice(v, laptop) = true: another person's device")
	}
	// A repeated login refreshes the device instead of adding one.
	d := device("u", "phone")
	d.Sealed, d.LastSeenAt = []byte("dev2"), now.Add(2*time.Minute)
	write(t, db, "UpsertDevice", func(q *store.Queries) error { return q.UpsertDevice(ctx, d) })
	devs = res(db.Read().Devices(ctx, "u")).must(t, "Devices")
	if len(devs) != 2 || string(devs[0].Sealed) != "dev2" || !devs[0].CreatedAt.Equal(now) {
		t.Errorf("Devices after a second login on the phone = %+v, want two, the phone refreshed, created at %v", devs, now)
	}

	alive := func(want map[string]bool) {
		t.Helper()
		for tok, w := range want {
			_, err := db.Read().FindSession(ctx, []byte(tok))
			if (err == nil) != w {
				t.Errorf("FindSession(%s) = %v, want alive=%v", tok, err, w)
			}
		}
	}
	write(t, db, "DeleteSession", func(q *store.Queries) error { return q.DeleteSession(ctx, []byte("t1")) })
	alive(map[string]bool{"t1": false, "t2": true, "t3": true, "t4": true})
	// A node's cached copy of an ended session learns it when it touches it
	// (issue 17: sessions come from memory).
	if err := writeErr(db, func(q *store.Queries) error { return q.TouchSession(ctx, s, later) }); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("TouchSession(ended session) = %v, want not found", err)
	}
	write(t, db, "DeleteOtherSessions", func(q *store.Queries) error { return q.DeleteOtherSessions(ctx, "u", []byte("t3")) })
	alive(map[string]bool{"t2": false, "t3": true, "t4": true})
	write(t, db, "DeleteAllSessions", func(q *store.Queries) error { return q.DeleteAllSessions(ctx, "u") })
	alive(map[string]bool{"t3": false, "t4": true})
	if devs := res(db.Read().Devices(ctx, "u")).must(t, "Devices"); len(devs) != 2 {
		t.Errorf("ending sessions removed devices: %d left, want 2", len(devs))
	}
}

func testBurnCode(t *testing.T, db *store.DB) {
	c := store.CodeRecord{PhoneIdx: []byte("p"), Purpose: "register", CodeMAC: []byte("m1"), ExpiresAt: now.Add(5 * time.Minute), CreatedAt: now}
	burn := func() bool {
		t.Helper()
		var ok bool
		write(t, db, "BurnCode", func(q *store.Queries) (err error) { ok, err = q.BurnCode(ctx, c.PhoneIdx, c.Purpose); return })
		return ok
	}
	write(t, db, "PutCode", func(q *store.Queries) error { return q.PutCode(ctx, c) })
	if !burn() {
		t.Fatal("burning an unused code = false, want true")
	}
	if burn() {
		t.Error("burning a code twice = true, want false: two racing registrations must not both win")
	}
	res(db.Read().FindCode(ctx, c.PhoneIdx, c.Purpose)).notFound(t, "FindCode after burning")
	used := res(db.Read().FindCode(ctx, c.PhoneIdx, "register_used")).must(t, "FindCode(register_used)")
	if string(used.CodeMAC) != "m1" {
		t.Errorf("the used code = %+v, want m1 kept", used)
	}
	// A fresh code can be burnt too; it replaces the earlier used one.
	c.CodeMAC = []byte("m2")
	write(t, db, "PutCode", func(q *store.Queries) error { return q.PutCode(ctx, c) })
	if !burn() {
		t.Error("burning a fresh code after a used one = false, want true")
	}
	if used := res(db.Read().FindCode(ctx, c.PhoneIdx, "register_used")).must(t, "FindCode(register_used)"); string(used.CodeMAC) != "m2" {
		t.Errorf("the used code = %s, want m2", used.CodeMAC)
	}
	login := store.CodeRecord{PhoneIdx: []byte("p"), Purpose: "login", CodeMAC: []byte("l"), ExpiresAt: now, CreatedAt: now}
	write(t, db, "PutCode(login)", func(q *store.Queries) error { return q.PutCode(ctx, login) })
	write(t, db, "DeleteCode", func(q *store.Queries) error { return q.DeleteCode(ctx, []byte("p"), "login") })
	res(db.Read().FindCode(ctx, []byte("p"), "login")).notFound(t, "FindCode after DeleteCode")
	if _, err := db.Read().FindCode(ctx, []byte("p"), "register_used"); err != nil {
		t.Errorf("DeleteCode(login) touched another purpose: %v", err)
	}
	// Expiry is strict: a code expiring at now is kept.
	write(t, db, "PutCode(edge)", func(q *store.Queries) error { return q.PutCode(ctx, login) })
	var n int64
	write(t, db, "DeleteExpiredCodes", func(q *store.Queries) (err error) { n, err = q.DeleteExpiredCodes(ctx, now); return })
	if n != 0 {
		t.Errorf("DeleteExpiredCodes(now) removed %d codes expiring at now, want 0", n)
	}
}

func testPolicyVersions(t *testing.T, db *store.DB) {
	res(db.Read().LatestMajorPolicy(ctx)).notFound(t, "LatestMajorPolicy on an empty store")
	for _, p := range []tkesj.Policy{
		{Version: "1", Major: true, Text: "one", PublishedAt: now},
		{Version: "2", Major: true, Text: "two", PublishedAt: now.Add(time.Hour)},
		{Version: "2.1", Major: false, Text: "two-one", PublishedAt: now.Add(2 * time.Hour)},
	} {
		write(t, db, "PublishPolicy", func(q *store.Queries) error { return q.PublishPolicy(ctx, p) })
	}
	want(t, "LatestMajorPolicy", res(db.Read().LatestMajorPolicy(ctx)).must(t, "LatestMajorPolicy"),
		tkesj.Policy{Version: "2", Major: true, Text: "two", PublishedAt: now.Add(time.Hour)})
	want(t, "FindPolicy(1)", res(db.Read().FindPolicy(ctx, "1")).must(t, "FindPolicy"), tkesj.Policy{Version: "1", Major: true, Text: "one", PublishedAt: now})
	res(db.Read().FindPolicy(ctx, "9")).notFound(t, "FindPolicy(9)")
	if p := res(db.Read().CurrentPolicy(ctx)).must(t, "CurrentPolicy"); p.Version != "2.1" {
		t.Errorf("CurrentPolicy = %s, want 2.1 (minor versions are current too)", p.Version)
	}
}

func testDecisions(t *testing.T, db *store.DB) {
	users(t, db, "u", "v")
	for i, id := range []string{"d1", "d2", "d3"} {
		d := store.DecisionRecord{ID: id, UserID: "u", Rule: "r", Outcome: "o" + id, Details: []byte("sealed"), CreatedAt: now.Add(time.Duration(i) * time.Hour)}
		write(t, db, "AddDecision", func(q *store.Queries) error { return q.AddDecision(ctx, d) })
	}
	write(t, db, "AddDecision(v)", func(q *store.Queries) error {
		return q.AddDecision(ctx, store.DecisionRecord{ID: "dv", UserID: "v", Rule: "r", Outcome: "o", Details: []byte("x"), CreatedAt: now})
	})
	ds := res(db.Read().Decisions(ctx, "u", 2)).must(t, "Decisions")
	if len(ds) != 2 || ds[0].ID != "d3" || ds[1].ID != "d2" {
		t.Errorf("Decisions(u, 2) = %+v, want d3, d2", ds)
	}
	write(t, db, "SetAppeal", func(q *store.Queries) error { return q.SetAppeal(ctx, "d1", "appeal-1") })
	want(t, "FindDecision(d1)", res(db.Read().FindDecision(ctx, "d1")).must(t, "FindDecision"), store.DecisionRecord{
		ID: "d1", UserID: "u", Rule: "r", Outcome: "od1", Details: []byte("sealed"), AppealID: "appeal-1", CreatedAt: now})
	if d := res(db.Read().FindDecision(ctx, "d2")).must(t, "FindDecision"); d.AppealID != "" {
		t.Errorf("an unappealed decision has appeal %q", d.AppealID)
	}
	res(db.Read().FindDecision(ctx, "nope")).notFound(t, "FindDecision(nope)")
	var n int64
	write(t, db, "DeleteOldDecisions", func(q *store.Queries) (err error) { n, err = q.DeleteOldDecisions(ctx, now.Add(time.Hour)); return })
	if n != 2 { // d1 and dv, at now; d2 at exactly the cutoff stays
		t.Errorf("DeleteOldDecisions(now+1h) = %d, want 2 (strictly before)", n)
	}
	if ds := res(db.Read().Decisions(ctx, "u", 10)).must(t, "Decisions"); len(ds) != 2 {
		t.Errorf("after the retention, u has %d decisions, want 2", len(ds))
	}
}

func testLoginRisk(t *testing.T, db *store.DB) {
	users(t, db, "u", "v")
	known := func(u, n string) bool {
		t.Helper()
		return res(db.Read().KnownNetwork(ctx, u, []byte(n))).must(t, "KnownNetwork")
	}
	if known("u", "net") {
		t.Error("KnownNetwork before any login = true")
	}
	for range 2 { // remembering twice is harmless
		write(t, db, "RememberNetwork", func(q *store.Queries) error { return q.RememberNetwork(ctx, "u", []byte("net"), now) })
	}
	if !known("u", "net") || known("v", "net") || known("u", "other") {
		t.Error("KnownNetwork does not answer for exactly the remembered person and network")
	}
	if until := res(db.Read().LockedUntil(ctx, "u")).must(t, "LockedUntil"); !until.IsZero() {
		t.Errorf("LockedUntil of a new account = %v, want zero", until)
	}
	write(t, db, "LockUntil", func(q *store.Queries) error { return q.LockUntil(ctx, "u", now.Add(time.Hour)) })
	if until := res(db.Read().LockedUntil(ctx, "u")).must(t, "LockedUntil"); !until.Equal(now.Add(time.Hour)) {
		t.Errorf("LockedUntil = %v, want %v", until, now.Add(time.Hour))
	}
	if until := res(db.Read().LockedUntil(ctx, "v")).must(t, "LockedUntil(v)"); !until.IsZero() {
		t.Errorf("locking u locked v until %v", until)
	}
	write(t, db, "unlock", func(q *store.Queries) error { return q.LockUntil(ctx, "u", time.Time{}) })
	if until := res(db.Read().LockedUntil(ctx, "u")).must(t, "LockedUntil"); !until.IsZero() {
		t.Errorf("after unlocking, LockedUntil = %v, want zero", until)
	}
	res(db.Read().LockedUntil(ctx, "nobody")).notFound(t, "LockedUntil(nobody)")
}

func testDeviceRetention(t *testing.T, db *store.DB) {
	users(t, db, "u")
	old, fresh := device("u", "old"), device("u", "fresh")
	old.LastSeenAt, fresh.LastSeenAt = now.Add(-48*time.Hour), now
	write(t, db, "devices", func(q *store.Queries) error {
		for _, d := range []store.DeviceRecord{old, fresh} {
			if err := q.UpsertDevice(ctx, d); err != nil {
				return err
			}
			if err := q.CreateSession(ctx, store.SessionRecord{TokenHash: d.DeviceIdx, UserID: "u", DeviceIdx: d.DeviceIdx, CreatedAt: now, LastSeenAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	// Login IPs older than a day: only the old device's; once truncated it is not listed again.
	olds := res(db.Read().DevicesWithOldIPs(ctx, now.Add(-24*time.Hour), 10)).must(t, "DevicesWithOldIPs")
	if len(olds) != 1 || string(olds[0].DeviceIdx) != "old" {
		t.Fatalf("DevicesWithOldIPs = %+v, want the old device", olds)
	}
	if got := res(db.Read().DevicesWithOldIPs(ctx, now.Add(-48*time.Hour), 10)).must(t, "DevicesWithOldIPs"); len(got) != 0 {
		t.Errorf("DevicesWithOldIPs at exactly its login time = %+v, want none (strictly older)", got)
	}
	write(t, db, "SetTruncatedDevice", func(q *store.Queries) error {
		return q.SetTruncatedDevice(ctx, "u", []byte("old"), []byte("truncated"))
	})
	if got := res(db.Read().DevicesWithOldIPs(ctx, now.Add(time.Second), 10)).must(t, "DevicesWithOldIPs"); len(got) != 1 || string(got[0].DeviceIdx) != "fresh" {
		t.Errorf("after truncating, DevicesWithOldIPs(now+1s) = %+v, want only the fresh one", got)
	}
	devs := res(db.Read().Devices(ctx, "u")).must(t, "Devices")
	if len(devs) != 2 || string(devs[1].Sealed) != "truncated" {
		t.Errorf("Devices = %+v, want the old one's sealed record replaced", devs)
	}
	// A new login on the old device makes its IP whole again.
	write(t, db, "UpsertDevice", func(q *store.Queries) error { return q.UpsertDevice(ctx, old) })
	if got := res(db.Read().DevicesWithOldIPs(ctx, now.Add(-24*time.Hour), 10)).must(t, "DevicesWithOldIPs"); len(got) != 1 {
		t.Errorf("after a new login, DevicesWithOldIPs = %+v, want the old device again", got)
	}
	var n int64
	write(t, db, "DeleteIdleDevices", func(q *store.Queries) (err error) { n, err = q.DeleteIdleDevices(ctx, now); return })
	if n != 1 {
		t.Errorf("DeleteIdleDevices(now) = %d, want 1 (the one seen at now stays)", n)
	}
	if _, err := db.Read().FindSession(ctx, []byte("old")); err == nil {
		t.Error("an idle device's session survived it")
	}
	if _, err := db.Read().FindSession(ctx, []byte("fresh")); err != nil {
		t.Errorf("the fresh device's session = %v", err)
	}
}

func testPushSubscriptions(t *testing.T, db *store.DB) {
	users(t, db, "u")
	mustSession(t, db, "u", "a", "ta")
	mustSession(t, db, "u", "b", "tb")
	put := func(idx, sealed string) {
		t.Helper()
		write(t, db, "PutPushSubscription", func(q *store.Queries) error {
			return q.PutPushSubscription(ctx, store.PushSubscriptionRecord{UserID: "u", DeviceIdx: []byte(idx), Sealed: []byte(sealed), CreatedAt: now})
		})
	}
	put("a", "s1")
	put("a", "s2") // replaces
	put("b", "s3")
	subs := res(db.Read().PushSubscriptions(ctx, "u")).must(t, "PushSubscriptions")
	got := map[string]string{}
	for _, s := range subs {
		got[string(s.DeviceIdx)] = string(s.Sealed)
	}
	want(t, "PushSubscriptions", got, map[string]string{"a": "s2", "b": "s3"})
	write(t, db, "DeletePushSubscription", func(q *store.Queries) error { return q.DeletePushSubscription(ctx, "u", []byte("a")) })
	write(t, db, "DeleteDevice", func(q *store.Queries) error { _, err := q.DeleteDevice(ctx, "u", []byte("b")); return err })
	if subs := res(db.Read().PushSubscriptions(ctx, "u")).must(t, "PushSubscriptions"); len(subs) != 0 {
		t.Errorf("after deleting one subscription and the other's device, %d remain", len(subs))
	}
}

func testSettings(t *testing.T, db *store.DB) {
	users(t, db, "u", "v", "w")
	res(db.Read().Settings(ctx, "u")).notFound(t, "Settings before any")
	write(t, db, "PutSettings", func(q *store.Queries) error {
		if err := q.PutSettings(ctx, "u", `{"a":1}`, now); err != nil {
			return err
		}
		if err := q.PutSettings(ctx, "u", `{"a":2}`, now); err != nil {
			return err
		}
		return q.PutSettings(ctx, "v", `{"b":1}`, now)
	})
	if doc := res(db.Read().Settings(ctx, "u")).must(t, "Settings"); doc != `{"a":2}` {
		t.Errorf("Settings(u) = %s, want the second document", doc)
	}
	want(t, "SettingsOf(u, v, w)", res(db.Read().SettingsOf(ctx, []string{"u", "v", "w"})).must(t, "SettingsOf"),
		map[string]string{"u": `{"a":2}`, "v": `{"b":1}`})
	if got := res(db.Read().SettingsOf(ctx, nil)).must(t, "SettingsOf(nil)"); got == nil || len(got) != 0 {
		t.Errorf("SettingsOf(nil) = %v, want an empty map", got)
	}
}
