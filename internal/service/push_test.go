package service_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/push"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/store/sqlite"
)

// fakePush stands in for a push service (the one allowed mock: gateways).
type fakePush struct {
	mu       sync.Mutex
	payloads []map[string]any
	sent     chan struct{}
}

func (f *fakePush) Send(ctx context.Context, sub push.Subscription, payload []byte, ttl time.Duration) error {
	var p map[string]any
	json.Unmarshal(payload, &p)
	f.mu.Lock()
	f.payloads = append(f.payloads, p)
	f.mu.Unlock()
	f.sent <- struct{}{}
	return nil
}

// pushSetup makes a service with two friends in a direct chat, the
// recipient subscribed to pushes through fake; it returns a send function.
func pushSetup(t *testing.T, delay time.Duration, fake *fakePush) (*service.Service, func(text string)) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "p.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys := testKeys(t)
	svc, err := service.New(ctx, service.Deps{DB: db, Keys: keys, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		service.Config{PushDelay: delay, PushAllowHosts: []string{"push.test"}})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetPushProvider(fake)
	users, err := svc.SeedUsers(ctx, 2, "push", 0, "a good long password")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SeedFriends(ctx, [][2]string{{users[0].ID, users[1].ID}}); err != nil {
		t.Fatal(err)
	}
	from, err := svc.Authenticate(ctx, users[0].Token)
	if err != nil {
		t.Fatal(err)
	}
	to, err := svc.Authenticate(ctx, users[1].Token)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	rand.Read(auth)
	var sub push.Subscription
	sub.Endpoint = "https://push.test/endpoint"
	sub.Keys.P256dh = base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes())
	sub.Keys.Auth = base64.RawURLEncoding.EncodeToString(auth)
	if err := svc.SetPushSubscription(ctx, to, sub); err != nil {
		t.Fatal(err)
	}
	conv, _, err := svc.CreateDirect(ctx, from, users[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	return svc, func(text string) {
		n++
		if _, _, err := svc.Send(ctx, from, conv.ID, service.SendInput{ClientID: "c" + string(rune('a'+n)), Kind: "text", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPushAfterDelay: a message nobody received is pushed after the delay,
// with the sender's name read when it is sent (R-NTF-1, R-NTF-2).
func TestPushAfterDelay(t *testing.T) {
	fake := &fakePush{sent: make(chan struct{}, 4)}
	svc, send := pushSetup(t, 10*time.Millisecond, fake)
	defer svc.Close()
	send("hello there")
	select {
	case <-fake.sent:
	case <-time.After(30 * time.Second):
		t.Fatal("no push within 30 s of a 10 ms delay")
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if p := fake.payloads[0]; p["title"] == "" || p["body"] != "sent you a message" {
		t.Errorf("push = %v; want the sender's name and no text (previews are off by default)", p)
	}
}

// TestCloseStopsWaitingPushes: push timers are owned by the service: Close
// returns at once though a push still waits (an hour here), and that push is
// never sent, so nothing runs on a closed store.
func TestCloseStopsWaitingPushes(t *testing.T) {
	fake := &fakePush{sent: make(chan struct{}, 4)}
	svc, send := pushSetup(t, time.Hour, fake)
	send("hello there")
	closed := make(chan struct{})
	go func() { svc.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return within 30 s while a push waited")
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.payloads) != 0 {
		t.Errorf("pushes sent after Close: %v", fake.payloads)
	}
}
