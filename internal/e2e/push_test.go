package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// browser is a push subscriber: a key pair and an auth secret, and a push
// service endpoint that decrypts what arrives (RFC 8291), as a browser would.
type browser struct {
	priv     *ecdh.PrivateKey
	auth     []byte
	srv      *httptest.Server
	got      chan map[string]any
	requests atomic.Int64
	status   atomic.Int64 // what the push service answers; 201 by default
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	priv, _ := ecdh.P256().GenerateKey(rand.Reader)
	b := &browser{priv: priv, auth: make([]byte, 16), got: make(chan map[string]any, 16)}
	rand.Read(b.auth)
	b.status.Store(201)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if st := b.status.Load(); st != 201 {
			w.WriteHeader(int(st))
			return
		}
		plain, err := b.decrypt(body)
		if err != nil {
			t.Errorf("push body does not decrypt: %v", err)
			w.WriteHeader(400)
			return
		}
		var m map[string]any
		json.Unmarshal(plain, &m)
		b.got <- m
		w.WriteHeader(201)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *browser) subscription() map[string]any {
	return map[string]any{"endpoint": b.srv.URL + "/push/abc", "keys": map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(b.priv.PublicKey().Bytes()),
		"auth":   base64.RawURLEncoding.EncodeToString(b.auth)}}
}

func (b *browser) decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, fmt.Errorf("short body")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || rs < 18 {
		return nil, fmt.Errorf("bad header")
	}
	asPub, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, err
	}
	shared, err := b.priv.ECDH(asPub)
	if err != nil {
		return nil, err
	}
	prkKey, _ := hkdf.Extract(sha256.New, shared, b.auth)
	info := append(append([]byte("WebPush: info\x00"), b.priv.PublicKey().Bytes()...), asPub.Bytes()...)
	ikm, _ := hkdf.Expand(sha256.New, prkKey, string(info), 32)
	prk, _ := hkdf.Extract(sha256.New, ikm, salt)
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, nonce, body[21+idlen:], nil)
	if err != nil {
		return nil, err
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != 2 {
		return nil, fmt.Errorf("no last-record delimiter")
	}
	return plain[:i], nil
}

func (b *browser) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case m := <-b.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no push within 10 s")
	}
	return nil
}

func (b *browser) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-b.got:
		t.Fatalf("unexpected push %v", m)
	case <-time.After(d):
	}
}

// R-NTF-1, R-NTF-2: offline devices get an encrypted Web Push; online ones
// don't; push off, muted conversations and the text-preview choice are honoured.
func TestPushNotifications(t *testing.T) {
	br := newBrowser(t)
	s := startServer(t, "sqlite", func(c *app.Config) {
		c.Service.PushDelay = 300 * time.Millisecond
		c.PushAllowHosts = br.srv.Listener.Addr().String() // the one loopback push service allowed
	})
	a, c := s.register(t, "Recipient"), s.register(t, "Writer Wu")
	s.befriend(t, a, c)
	conv := s.direct(t, a, c)
	key := s.do(t, "", "GET", "/api/v1/push/vapid-key", nil)
	want(t, key, 200, "")
	if raw, err := base64.RawURLEncoding.DecodeString(key.str(t, "public_key")); err != nil || len(raw) != 65 {
		t.Fatalf("VAPID public key = %q", key.str(t, "public_key"))
	}
	want(t, s.do(t, a.Token, "PUT", "/api/v1/me/push-subscription", br.subscription()), 204, "")

	s.send(t, c, conv, "the secret plan")
	m := br.next(t)
	if m["title"] != "Writer Wu" || m["body"] != "sent you a message" || m["conversation_id"] != conv {
		t.Errorf("default push = %v; want who wrote and no text", m)
	}
	want(t, s.do(t, a.Token, "PATCH", "/api/v1/me/settings", map[string]any{"push_show_text": true}), 200, "")
	s.send(t, c, conv, "now with text")
	if m := br.next(t); m["body"] != "now with text" {
		t.Errorf("push with previews on = %v", m)
	}

	t.Run("a device online somewhere acknowledges, so no push", func(t *testing.T) {
		w := s.ws(t, a.Token)
		w.next("ready")
		sent := s.send(t, c, conv, "you are online")
		f := w.next("message")
		w.send(map[string]any{"type": "ack", "conversation_id": conv, "seq": f["message"].(map[string]any)["seq"]})
		_ = sent
		br.none(t, 800*time.Millisecond)
		w.c.CloseNow()
	})
	t.Run("a muted conversation sends no push", func(t *testing.T) {
		want(t, s.do(t, a.Token, "PUT", "/api/v1/conversations/"+conv+"/mute", map[string]any{"muted": true}), 200, "")
		s.send(t, c, conv, "muted")
		br.none(t, 800*time.Millisecond)
		want(t, s.do(t, a.Token, "PUT", "/api/v1/conversations/"+conv+"/mute", map[string]any{"muted": false}), 200, "")
	})
	t.Run("push switched off sends nothing", func(t *testing.T) {
		want(t, s.do(t, a.Token, "PATCH", "/api/v1/me/settings", map[string]any{"push_enabled": false}), 200, "")
		s.send(t, c, conv, "off")
		br.none(t, 800*time.Millisecond)
		want(t, s.do(t, a.Token, "PATCH", "/api/v1/me/settings", map[string]any{"push_enabled": true}), 200, "")
	})
	t.Run("a subscription the push service calls gone is dropped", func(t *testing.T) {
		br.status.Store(410)
		asked := br.requests.Load()
		s.send(t, c, conv, "to a gone subscription")
		deadline := time.Now().Add(5 * time.Second)
		for br.requests.Load() == asked {
			if time.Now().After(deadline) {
				t.Fatal("the push service was never called")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Issue 14: wait until the server says it dropped the subscription,
		// not for a while.
		waitFor(t, "the gone subscription to be dropped", func() bool {
			return strings.Contains(s.Log.String(), `"msg":"push subscription dropped"`)
		})
		before := br.requests.Load()
		br.status.Store(201)
		s.send(t, c, conv, "after gone")
		br.none(t, 800*time.Millisecond)
		if br.requests.Load() != before {
			t.Errorf("the push service was called again after answering 410")
		}
	})
	want(t, s.do(t, a.Token, "PUT", "/api/v1/me/push-subscription", map[string]any{"endpoint": "ftp://x", "keys": map[string]string{"p256dh": "x", "auth": "y"}}), 422, "invalid_subscription")

	// Issue 14 item 6, R-SEC-5: endpoints off the public Internet are refused
	// when subscribing, and the push service allowed for this test is the
	// only exception (another port on the same address is not).
	sub := br.subscription()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the server sent a request to an unlisted loopback port: %s %s", r.Method, r.URL.Path)
	}))
	defer other.Close()
	for _, endpoint := range []string{other.URL + "/x", "http://localhost:1/x", "https://localhost/x", "https://10.0.0.8/x",
		"https://169.254.169.254/latest/meta-data/", "https://[::1]:443/x", "https://[fd00:ec2::254]/x", "https://100.64.1.1/x"} {
		sub["endpoint"] = endpoint
		want(t, s.do(t, a.Token, "PUT", "/api/v1/me/push-subscription", sub), 422, "invalid_subscription")
	}
}

// R-NTF-1, R-CAL-1: a callee with no live socket anywhere gets the call's
// push at once, not after the ringing delay (set to an hour here, so only
// the at-once push can arrive); a callee whose device rings gets none.
func TestCallPushReachesAnOfflineCalleeAtOnce(t *testing.T) {
	br := newBrowser(t)
	s := startServer(t, "sqlite", func(c *app.Config) {
		c.CallPushDelay = time.Hour
		c.PushAllowHosts = br.srv.Listener.Addr().String()
	})
	a, b := s.register(t, "Caller Cao"), s.register(t, "Callee")
	s.befriend(t, a, b)
	conv := s.direct(t, a, b)
	s.grant(t, a, "microphone")
	s.grant(t, b, "microphone")
	want(t, s.do(t, b.Token, "PUT", "/api/v1/me/push-subscription", br.subscription()), 204, "")

	r := s.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"})
	want(t, r, 201, "")
	id := r.JSON(t)["call"].(map[string]any)["id"].(string)
	m := br.next(t)
	if m["type"] != "call" || m["call_id"] != id || m["conversation_id"] != conv || m["title"] != "Caller Cao" || m["media"] != "audio" {
		t.Errorf("call push = %v; want the ringing call from Caller Cao", m)
	}
	br.none(t, 500*time.Millisecond) // one push, not two
	want(t, s.do(t, a.Token, "POST", "/api/v1/calls/"+id+"/leave", nil), 200, "")

	t.Run("a callee whose device rings gets no push", func(t *testing.T) {
		w := s.ws(t, b.Token)
		w.next("ready")
		r := s.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"})
		want(t, r, 201, "")
		id := r.JSON(t)["call"].(map[string]any)["id"].(string)
		w.callFrame(id, "ringing")
		br.none(t, time.Second)
		want(t, s.do(t, a.Token, "POST", "/api/v1/calls/"+id+"/leave", nil), 200, "")
	})
}
