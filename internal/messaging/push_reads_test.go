package messaging

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/bus/inmem"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/push"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/sqlite"
)

// onlineSet stands in for internal/presence: who has a live socket.
type onlineSet struct {
	mu sync.Mutex
	on map[string]bool
}

func (o *onlineSet) Online(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.on[id]
}

func (o *onlineSet) set(ids ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.on = map[string]bool{}
	for _, id := range ids {
		o.on[id] = true
	}
}

// recordingPusher stands in for the push services (the one allowed mock:
// gateways); it records who was pushed what.
type recordingPusher struct {
	mu   sync.Mutex
	sent []map[string]any
}

func (r *recordingPusher) Send(ctx context.Context, sub push.Subscription, payload []byte, ttl time.Duration) error {
	var p map[string]any
	json.Unmarshal(payload, &p)
	p["endpoint"] = sub.Endpoint
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, p)
	return nil
}

func (r *recordingPusher) take() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

// TestPushReadsOnlyForPeopleAway (issue 17; R-NTF-1, R-NTF-2, R-MSG-7): a
// push reads nothing for recipients with a live socket, and when everyone
// has one it runs no SQL statement at all; for people away it asks once who
// has a subscription and has not received the message, then their settings,
// and reads the message and the sender's name only when a push is sent.
// Muted chats, mentions, push off and acknowledgements behave as before.
func TestPushReadsOnlyForPeopleAway(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "p.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	var counting atomic.Bool
	var stmtMu sync.Mutex
	var stmts []string
	db.Observe(func(method string) {
		if counting.Load() {
			stmtMu.Lock()
			stmts = append(stmts, method)
			stmtMu.Unlock()
		}
	})
	ks, err := keyring.OpenSQLite(filepath.Join(dir, "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	rand.Read(master)
	keys, err := keyring.New(master, ks, 0)
	if err != nil {
		t.Fatal(err)
	}
	bus := inmem.New(0)
	core := kernel.NewCore(db, keys, bus, nil, slog.New(slog.NewTextHandler(io.Discard, nil)),
		kernel.Config{PushDelay: time.Hour, PushAllowHosts: []string{"push.test"}})
	acc := accounts.New(core, nil)
	so := social.New(core, acc)
	s := New(core, acc, so)
	pusher := &recordingPusher{}
	online := &onlineSet{}
	s.SetPushProvider(pusher)
	s.SetPresence(online)
	t.Cleanup(func() {
		core.Loops.Stop()
		s.Close()
		so.Close()
		bus.Close()
		db.Close()
		ks.Close()
	})
	if err := db.Update(ctx, func(q *store.Queries) error {
		return q.PublishPolicy(ctx, tkesj.Policy{Version: tkesj.FirstPolicyVersion, Major: true, Text: tkesj.FirstPolicyText, PublishedAt: core.Now()})
	}); err != nil {
		t.Fatal(err)
	}

	seeded, err := s.SeedUsers(ctx, 5, "pr", 0, "a good long password")
	if err != nil {
		t.Fatal(err)
	}
	var pairs [][2]string
	auth := make([]kernel.Auth, len(seeded))
	ids := make([]string, len(seeded))
	for i, u := range seeded {
		if auth[i], err = s.Authenticate(ctx, u.Token); err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
		if i > 0 {
			pairs = append(pairs, [2]string{seeded[0].ID, u.ID})
		}
	}
	if err := s.SeedFriends(ctx, pairs); err != nil {
		t.Fatal(err)
	}
	// Writer (0) sends to a group of four: 1 has no subscription, 2, 3 and
	// 4 have one; 4 muted the group.
	writer, noSub, sub2, sub3, muted := 0, 1, 2, 3, 4
	conv, err := s.CreateGroup(ctx, auth[writer], "push reads", ids[1:])
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{sub2, sub3, muted} {
		priv, _ := ecdh.P256().GenerateKey(rand.Reader)
		secret := make([]byte, 16)
		rand.Read(secret)
		var sub push.Subscription
		sub.Endpoint = "https://push.test/" + ids[i]
		sub.Keys.P256dh = base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes())
		sub.Keys.Auth = base64.RawURLEncoding.EncodeToString(secret)
		if err := s.SetPushSubscription(ctx, auth[i], sub); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Mute(ctx, auth[muted], conv.ID, true); err != nil {
		t.Fatal(err)
	}
	plain, _, err := s.Send(ctx, auth[writer], conv.ID, SendInput{ClientID: "plain", Kind: KindText, Text: "hello all"})
	if err != nil {
		t.Fatal(err)
	}
	mention, _, err := s.Send(ctx, auth[writer], conv.ID, SendInput{ClientID: "mention", Kind: KindText, Text: "hello you", Mentions: []string{ids[muted]}})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing in the background runs from here: every statement counted
	// is the push's.
	core.Loops.Stop()
	pending := func(m Message, mentioned ...string) pendingPush {
		return pendingPush{convID: conv.ID, seq: m.Seq, senderID: ids[writer], recipients: ids[1:], mentioned: mentioned}
	}
	endpoint := func(i int) string { return "https://push.test/" + ids[i] }

	tests := []struct {
		name   string
		online []int
		before func(t *testing.T)
		push   pendingPush
		stmts  []string // the statements run, in order
		pushed map[string]string
	}{
		{name: "everyone online: no statement at all, no push", online: []int{noSub, sub2, sub3, muted}, push: pending(plain)},
		{name: "only someone without a subscription away: one statement, no push", online: []int{sub2, sub3, muted}, push: pending(plain),
			stmts: []string{"PushTargets"}},
		{name: "a subscriber away: their settings, then the message and the sender's name, one push", online: []int{noSub, sub3, muted}, push: pending(plain),
			stmts: []string{"PushTargets", "Settings", "FindMessage", "FindUserByID"}, pushed: map[string]string{endpoint(sub2): "sent you a message"}},
		{name: "a subscriber away with push off: no message read, no push", online: []int{noSub, sub3, muted},
			before: func(t *testing.T) { setPush(t, s, auth[sub2], false) }, push: pending(plain),
			stmts: []string{"PushTargets", "Settings"}},
		{name: "R-NTF-2: a muted member away gets no push, and costs one statement", online: []int{noSub, sub2, sub3}, push: pending(plain),
			stmts: []string{"PushTargets"}},
		{name: "R-MSG-7: a muted member away who is mentioned is pushed", online: []int{noSub, sub2, sub3}, push: pending(mention, ids[muted]),
			stmts: []string{"PushTargets", "Settings", "FindMessage", "FindUserByID"}, pushed: map[string]string{endpoint(muted): "mentioned you"}},
		{name: "everyone away: one statement for all, settings for subscribers only", online: nil,
			before: func(t *testing.T) { setPush(t, s, auth[sub2], true) }, push: pending(plain),
			stmts:  []string{"PushTargets", "Settings", "FindMessage", "FindUserByID", "Settings"},
			pushed: map[string]string{endpoint(sub2): "sent you a message", endpoint(sub3): "sent you a message"}},
		{name: "R-NTF-1: someone away whose device acknowledged the message gets no push", online: []int{noSub, sub2, muted},
			before: func(t *testing.T) {
				if err := s.advance(ctx, auth[sub3], conv.ID, plain.Seq, false); err != nil {
					t.Fatal(err)
				}
			}, push: pending(plain), stmts: []string{"PushTargets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before(t)
			}
			var on []string
			for _, i := range tt.online {
				on = append(on, ids[i])
			}
			online.set(on...)
			stmtMu.Lock()
			stmts = nil
			stmtMu.Unlock()
			counting.Store(true)
			s.pushMessage(ctx, tt.push)
			counting.Store(false)
			stmtMu.Lock()
			got := slices.Clone(stmts)
			stmtMu.Unlock()
			// Settings of several people may be read in any order.
			if !slices.Equal(sorted(got), sorted(tt.stmts)) {
				t.Errorf("statements = %v, want %v", got, tt.stmts)
			}
			if len(got) > 0 && got[0] != "PushTargets" {
				t.Errorf("first statement %s, want PushTargets", got[0])
			}
			pushed := map[string]string{}
			for _, p := range pusher.take() {
				pushed[p["endpoint"].(string)] = p["body"].(string)
				if p["title"] != "Bench 1" {
					t.Errorf("push title %v, want the sender's nickname", p["title"])
				}
			}
			if len(pushed) != len(tt.pushed) {
				t.Errorf("pushed %v, want %v", pushed, tt.pushed)
			}
			for k, v := range tt.pushed {
				if pushed[k] != v {
					t.Errorf("push to %s = %q, want %q", k, pushed[k], v)
				}
			}
		})
	}
}

func setPush(t *testing.T, s *Service, a kernel.Auth, on bool) {
	t.Helper()
	if _, err := s.UpdateSettings(context.Background(), a, social.SettingsUpdate{PushEnabled: &on}); err != nil {
		t.Fatal(err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
