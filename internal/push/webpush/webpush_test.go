package webpush

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/push"
)

// mustB64 decodes base64url, ignoring the spaces and line breaks the RFC
// prints inside long values.
func mustB64(tb testing.TB, s string) []byte {
	tb.Helper()
	s = strings.Join(strings.Fields(s), "")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// RFC 8291 Appendix A, copied from the RFC.
const (
	rfcPlaintext = "When I grow up, I want to be a watermelon"
	rfcASPublic  = `BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIg
	                Dll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8`
	rfcASPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
	rfcUAPublic  = `BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcx
	                aOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4`
	rfcUAPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
	rfcSalt      = "DGv6ra1nlYgDCS1FRnbzlw"
	rfcAuth      = "BTBZMqHH6r4Tts7J_aSIgg"
	rfcMessage   = `DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml
	                mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT
	                pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN`
)

// encrypt with the RFC's keys and salt gives the RFC's bytes.
func TestEncryptMatchesRFC8291AppendixA(t *testing.T) {
	as, err := ecdh.P256().NewPrivateKey(mustB64(t, rfcASPrivate))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(as.PublicKey().Bytes(), mustB64(t, rfcASPublic)) {
		t.Fatal("the RFC's as_private does not give its as_public; the vector was copied wrongly")
	}
	got, err := encrypt([]byte(rfcPlaintext), mustB64(t, rfcUAPublic), mustB64(t, rfcAuth), as, mustB64(t, rfcSalt), 0)
	if err != nil {
		t.Fatalf("encrypt(RFC 8291 Appendix A) = %v", err)
	}
	if want := mustB64(t, rfcMessage); !bytes.Equal(got, want) {
		t.Errorf("encrypt(RFC 8291 Appendix A):\n got %x\nwant %x", got, want)
	}
}

// The test's decrypt, the browser's side, opens the RFC's message: so a
// round trip through it below is evidence on its own, not just symmetry.
func TestDecryptOpensRFC8291AppendixA(t *testing.T) {
	ua, err := ecdh.P256().NewPrivateKey(mustB64(t, rfcUAPrivate))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decrypt(mustB64(t, rfcMessage), ua, mustB64(t, rfcAuth))
	if err != nil {
		t.Fatalf("decrypt(RFC 8291 Appendix A) = %v", err)
	}
	if string(got) != rfcPlaintext {
		t.Errorf("decrypt(RFC 8291 Appendix A) = %q, want %q", got, rfcPlaintext)
	}
}

// decrypt is what a user agent does with a push message (RFC 8291 section 3
// and RFC 8188 section 2), written here independently of encrypt.
func decrypt(body []byte, ua *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body shorter than a header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen {
		return nil, fmt.Errorf("key id length %d, want 65", idlen)
	}
	asPublicBytes, records := body[21:21+idlen], body[21+idlen:]
	if rs < 18 || len(records) > int(rs) {
		return nil, fmt.Errorf("%d bytes of records with record size %d: want exactly one record", len(records), rs)
	}
	asPublic, err := ecdh.P256().NewPublicKey(asPublicBytes)
	if err != nil {
		return nil, err
	}
	shared, err := ua.ECDH(asPublic)
	if err != nil {
		return nil, err
	}
	prkKey, err := hkdf.Extract(sha256.New, shared, auth)
	if err != nil {
		return nil, err
	}
	info := "WebPush: info\x00" + string(ua.PublicKey().Bytes()) + string(asPublicBytes)
	ikm, err := hkdf.Expand(sha256.New, prkKey, info, 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, records, nil)
	if err != nil {
		return nil, err
	}
	plain = bytes.TrimRight(plain, "\x00")
	if len(plain) == 0 || plain[len(plain)-1] != 2 {
		return nil, errors.New("last record lacks the 0x02 delimiter")
	}
	return plain[:len(plain)-1], nil
}

// browser is a subscriber as a browser would make it: a P-256 key pair and
// a 16-byte auth secret, handed to the server as a push.Subscription.
type browser struct {
	key  *ecdh.PrivateKey
	auth []byte
}

func newBrowser(t *testing.T) browser {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return browser{key: k, auth: auth}
}

func (b browser) subscription(endpoint string) push.Subscription {
	var s push.Subscription
	s.Endpoint = endpoint
	s.Keys.P256dh = b64(b.key.PublicKey().Bytes())
	s.Keys.Auth = b64(b.auth)
	return s
}

func mustKeys(t *testing.T) Keys {
	t.Helper()
	k, err := generateKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// received is one request as the fake push service saw it.
type received struct {
	header http.Header
	body   []byte
	path   string
}

// pushService is an httptest server standing in for a browser vendor's push
// service: it records each request and answers with status.
func pushService(t *testing.T, status int, extra http.Header) (*httptest.Server, *[]received, *atomic.Int32) {
	t.Helper()
	var (
		got   []received
		count atomic.Int32
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", r.Method)
		}
		got = append(got, received{header: r.Header.Clone(), body: body, path: r.URL.Path})
		for k, v := range extra {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		io.WriteString(w, "push service says no: details here")
	}))
	t.Cleanup(srv.Close)
	return srv, &got, &count
}

// verifyVAPID checks an Authorization header as a push service would
// (RFC 8292): the k= key is ours, the ES256 signature verifies with it, and
// the claims name the right audience, a near expiry and our subject.
func verifyVAPID(t *testing.T, authz string, keys Keys, audience, subject string, before, after time.Time) {
	t.Helper()
	rest, ok := strings.CutPrefix(authz, "vapid ")
	if !ok {
		t.Fatalf("Authorization = %q, want the vapid scheme", authz)
	}
	params := map[string]string{}
	for p := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = v
	}
	if params["k"] != keys.Public {
		t.Errorf("vapid k = %q, want the server's public key %q", params["k"], keys.Public)
	}
	parts := strings.Split(params["t"], ".")
	if len(parts) != 3 {
		t.Fatalf("vapid t has %d parts, want a JWT of 3", len(parts))
	}
	var header struct{ Typ, Alg string }
	if err := json.Unmarshal(mustB64(t, parts[0]), &header); err != nil || header.Alg != "ES256" || header.Typ != "JWT" {
		t.Errorf("JWT header = %+v (%v), want typ JWT, alg ES256", header, err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), mustB64(t, params["k"]))
	if err != nil {
		t.Fatalf("vapid k is not a P-256 key: %v", err)
	}
	sig := mustB64(t, parts[2])
	if len(sig) != 64 {
		t.Fatalf("signature is %d bytes, want 64 (raw r||s)", len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		t.Fatal("the VAPID signature does not verify with the public key")
	}
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(mustB64(t, parts[1]), &claims); err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	if claims.Aud != audience {
		t.Errorf("aud = %q, want %q", claims.Aud, audience)
	}
	if claims.Sub != subject {
		t.Errorf("sub = %q, want %q", claims.Sub, subject)
	}
	// The token was made between before and after (Send's call), and exp
	// is that time plus 12 h in whole seconds: a Send that began just
	// before a second's end may sign it in the next one.
	exp := time.Unix(claims.Exp, 0)
	if !exp.After(before) || exp.After(after.Add(12*time.Hour)) {
		t.Errorf("exp = %v, want after %v and at most 12 h after %v", exp, before, after)
	}
}

// R-NTF-1: the push service gets a message only the browser can read, signed
// by this server.
func TestSendDeliversAnEncryptedSignedNotification(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		ttl     time.Duration
		wantTTL string
	}{
		{"a preview with message text arrives intact", []byte(`{"title":"Ana","body":"see you at 8 🍉"}`), time.Hour, "3600"},
		{"a preview without text arrives intact", []byte(`{"title":"New message"}`), 90 * time.Second, "90"},
		{"an empty payload arrives as an empty message", []byte{}, 0, "0"},
		{"a payload of exactly the maximum arrives intact", bytes.Repeat([]byte("x"), MaxPayload), time.Minute, "60"},
		{"a negative ttl is sent as zero", []byte("hi"), -time.Second, "0"},
		{"a ttl over four weeks is capped", []byte("hi"), 365 * 24 * time.Hour, "2419200"},
	}
	keys := mustKeys(t)
	const subject = "mailto:ops@example.org"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got, _ := pushService(t, http.StatusCreated, nil)
			b := newBrowser(t)
			s := New(keys, subject, srv.Client(), srv.Listener.Addr().String())
			before := time.Now()
			if err := s.Send(context.Background(), b.subscription(srv.URL+"/wpush/v2/abc"), tt.payload, tt.ttl); err != nil {
				t.Fatalf("Send = %v, want nil", err)
			}
			after := time.Now()
			if len(*got) != 1 {
				t.Fatalf("push service got %d requests, want 1", len(*got))
			}
			req := (*got)[0]
			if req.path != "/wpush/v2/abc" {
				t.Errorf("path = %q, want the endpoint's", req.path)
			}
			for h, want := range map[string]string{
				"Content-Encoding": "aes128gcm",
				"Content-Type":     "application/octet-stream",
				"Urgency":          "high",
				"TTL":              tt.wantTTL,
			} {
				if v := req.header.Get(h); v != want {
					t.Errorf("header %s = %q, want %q", h, v, want)
				}
			}
			verifyVAPID(t, req.header.Get("Authorization"), keys, srv.URL, subject, before, after)
			if len(req.body) > 4096 {
				t.Errorf("body is %d bytes, over the 4096 push services accept", len(req.body))
			}
			plain, err := decrypt(req.body, b.key, b.auth)
			if err != nil {
				t.Fatalf("the browser cannot decrypt the message: %v", err)
			}
			if !bytes.Equal(plain, tt.payload) {
				t.Errorf("decrypted %q, want %q", plain, tt.payload)
			}
			if len(tt.payload) > 0 && bytes.Contains(req.body, tt.payload) {
				t.Error("the body holds the payload in the clear")
			}
		})
	}
}

// Each message has its own ephemeral key and salt, and padding hides the
// length of short notifications from the push service.
func TestSendUsesFreshKeysAndPads(t *testing.T) {
	srv, got, _ := pushService(t, http.StatusCreated, nil)
	b := newBrowser(t)
	s := New(mustKeys(t), "mailto:ops@example.org", srv.Client(), srv.Listener.Addr().String())
	for _, p := range []string{"ok", "a somewhat longer message preview", "ok"} {
		if err := s.Send(context.Background(), b.subscription(srv.URL), []byte(p), time.Minute); err != nil {
			t.Fatalf("Send(%q) = %v", p, err)
		}
	}
	r := *got
	if bytes.Equal(r[0].body[:16], r[2].body[:16]) {
		t.Error("two messages share a salt")
	}
	if bytes.Equal(r[0].body[21:86], r[2].body[21:86]) {
		t.Error("two messages share an ephemeral key")
	}
	if bytes.Equal(r[0].body, r[2].body) {
		t.Error("the same payload encrypted twice gives the same bytes")
	}
	if len(r[0].body) != len(r[1].body) {
		t.Errorf("bodies of %d and %d bytes: payloads of 2 and 33 bytes should pad to the same size", len(r[0].body), len(r[1].body))
	}
}

// ErrGone, retryable and final errors follow the push service's status.
func TestSendMapsStatuses(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		wantKind   tkesj.ErrorKind // "" for success
		gone       bool
		retryable  bool
		retryAfter time.Duration
	}{
		{"201 Created is success", http.StatusCreated, nil, "", false, false, 0},
		{"200 OK is success", http.StatusOK, nil, "", false, false, 0},
		{"202 Accepted is success", http.StatusAccepted, nil, "", false, false, 0},
		{"410 Gone means delete the subscription", http.StatusGone, nil, tkesj.EGone, true, false, 0},
		{"404 Not Found means delete the subscription", http.StatusNotFound, nil, tkesj.EGone, true, false, 0},
		{"413 is a payload too large", http.StatusRequestEntityTooLarge, nil, tkesj.ETooLarge, false, false, 0},
		{"429 is retryable after the service's delay", http.StatusTooManyRequests, http.Header{"Retry-After": {"120"}}, tkesj.ERateLimited, false, true, 2 * time.Minute},
		{"500 is retryable", http.StatusInternalServerError, nil, tkesj.EUnavailable, false, true, 0},
		{"503 is retryable after the service's delay", http.StatusServiceUnavailable, http.Header{"Retry-After": {"7"}}, tkesj.EUnavailable, false, true, 7 * time.Second},
		{"a huge Retry-After is capped at a day", http.StatusServiceUnavailable, http.Header{"Retry-After": {"99999999999999"}}, tkesj.EUnavailable, false, true, 24 * time.Hour},
		{"403 (a subscription for another key) is final", http.StatusForbidden, nil, tkesj.EInternal, false, false, 0},
		{"400 is final", http.StatusBadRequest, nil, tkesj.EInternal, false, false, 0},
		{"a redirect is not followed", http.StatusTemporaryRedirect, http.Header{"Location": {"http://127.0.0.1:1/elsewhere"}}, tkesj.EInternal, false, false, 0},
	}
	keys := mustKeys(t)
	payload := []byte("secret preview: the door code is 4711")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, count := pushService(t, tt.status, tt.header)
			b := newBrowser(t)
			sub := b.subscription(srv.URL + "/capability-path-xyz")
			err := New(keys, "mailto:ops@example.org", srv.Client(), srv.Listener.Addr().String()).Send(context.Background(), sub, payload, time.Minute)
			if n := count.Load(); n != 1 {
				t.Errorf("push service got %d requests, want 1", n)
			}
			if tt.wantKind == "" {
				if err != nil {
					t.Fatalf("Send = %v, want nil", err)
				}
				return
			}
			var e *tkesj.Error
			if !errors.As(err, &e) || e.Kind != tt.wantKind {
				t.Fatalf("Send = %v, want a *tkesj.Error of kind %s", err, tt.wantKind)
			}
			if g := errors.Is(err, push.ErrGone); g != tt.gone {
				t.Errorf("errors.Is(%v, push.ErrGone) = %v, want %v", err, g, tt.gone)
			}
			if r := push.Retryable(err); r != tt.retryable {
				t.Errorf("push.Retryable(%v) = %v, want %v", err, r, tt.retryable)
			}
			if tt.retryable && !strings.Contains(err.Error(), "retry") {
				t.Errorf("Send = %q, want the error to say to retry", err)
			}
			if e.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.retryAfter)
			}
			assertNoSecrets(t, err, payload, sub, keys)
		})
	}
}

// assertNoSecrets fails if err's text holds the payload, a key or the
// endpoint's path.
func assertNoSecrets(t *testing.T, err error, payload []byte, sub push.Subscription, keys Keys) {
	t.Helper()
	msg := err.Error()
	for what, s := range map[string]string{
		"payload":       string(payload),
		"p256dh":        sub.Keys.P256dh,
		"auth secret":   sub.Keys.Auth,
		"vapid private": keys.Private,
		"endpoint path": "capability-path-xyz",
	} {
		if strings.Contains(msg, s) {
			t.Errorf("error %q holds the %s", msg, what)
		}
	}
}

// Over-large payloads and bad subscriptions are refused before any request.
func TestSendRefusesWithoutARequest(t *testing.T) {
	srv, _, count := pushService(t, http.StatusCreated, nil)
	good := newBrowser(t).subscription(srv.URL + "/capability-path-xyz")
	badScheme := good
	badScheme.Endpoint = "ftp://127.0.0.1/capability-path-xyz"
	badKey := good
	badKey.Keys.P256dh = b64(make([]byte, 65))
	tests := []struct {
		name     string
		sub      push.Subscription
		payload  []byte
		wantKind tkesj.ErrorKind
		wantCode string
	}{
		{"a payload one byte over the maximum is refused", good, bytes.Repeat([]byte("x"), MaxPayload+1), tkesj.ETooLarge, "push_payload_too_large"},
		{"a huge payload is refused", good, bytes.Repeat([]byte("x"), 1<<20), tkesj.ETooLarge, "push_payload_too_large"},
		{"an endpoint that is not https is refused", badScheme, []byte("hi"), tkesj.EInvalid, "invalid_subscription"},
		{"a p256dh key off the curve is refused", badKey, []byte("hi"), tkesj.EInvalid, "invalid_subscription"},
	}
	keys := mustKeys(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := count.Load()
			err := New(keys, "mailto:ops@example.org", srv.Client(), srv.Listener.Addr().String()).Send(context.Background(), tt.sub, tt.payload, time.Minute)
			if tkesj.ErrorKindOf(err) != tt.wantKind || tkesj.ErrorCode(err) != tt.wantCode {
				t.Fatalf("Send = %v, want %s/%s", err, tt.wantKind, tt.wantCode)
			}
			if n := count.Load() - before; n != 0 {
				t.Errorf("push service got %d requests, want none", n)
			}
			assertNoSecrets(t, err, tt.payload[:min(len(tt.payload), 64)], tt.sub, keys)
		})
	}
}

// A misconfigured server fails every Send loudly instead of panicking.
func TestSendWithBadConfigurationFails(t *testing.T) {
	srv, _, count := pushService(t, http.StatusCreated, nil)
	good := mustKeys(t)
	other := mustKeys(t)
	tests := []struct {
		name    string
		keys    Keys
		subject string
	}{
		{"a private key that is not base64url fails", Keys{Public: good.Public, Private: "***"}, "mailto:ops@example.org"},
		{"halves of two different pairs fail", Keys{Public: other.Public, Private: good.Private}, "mailto:ops@example.org"},
		{"an empty key pair fails", Keys{}, "mailto:ops@example.org"},
		{"a subject that is neither mailto nor https fails", good, "ops@example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(tt.keys, tt.subject, nil).Send(context.Background(), newBrowser(t).subscription(srv.URL), []byte("hi"), time.Minute)
			if tkesj.ErrorKindOf(err) != tkesj.EInternal {
				t.Fatalf("Send = %v, want an internal error", err)
			}
			if tt.keys.Private != "" && strings.Contains(err.Error(), tt.keys.Private) {
				t.Errorf("Send = %q, which holds the private key", err)
			}
		})
	}
	if n := count.Load(); n != 0 {
		t.Errorf("push service got %d requests, want none", n)
	}
}

// Timeouts come from ctx; a slow push service does not hold Send.
func TestSendHonoursTheContextDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := New(mustKeys(t), "mailto:ops@example.org", srv.Client(), srv.Listener.Addr().String()).Send(ctx, newBrowser(t).subscription(srv.URL+"/capability-path-xyz"), []byte("hi"), time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) || !push.Retryable(err) {
		t.Fatalf("Send = %v, want a retryable error wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v after a 100 ms deadline", d)
	}
	if strings.Contains(err.Error(), "capability-path-xyz") {
		t.Errorf("Send = %q, which holds the endpoint's path", err)
	}
}

func TestRetryAfterAcceptsAnHTTPDate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds are read as seconds", "30", 30 * time.Second},
		{"a date in the future is read as the time until it", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"a date in the past means no delay", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"garbage means no delay", "soon", 0},
		{"a missing header means no delay", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.header, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

// The VAPID pair is created once, 0600, and reused across restarts.
func TestLoadOrCreateKeys(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatalf("LoadOrCreateKeys(new dir) = %v", err)
	}
	if _, err := parseKeys(first); err != nil {
		t.Fatalf("the created pair is not valid: %v", err)
	}
	if pub := mustB64(t, first.Public); len(pub) != 65 || pub[0] != 4 {
		t.Errorf("public key is %d bytes starting %#x, want 65 starting 0x04", len(pub), pub[0])
	}
	info, err := os.Stat(filepath.Join(dir, KeysFile))
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %#o, want 0600", KeysFile, mode)
	}
	again, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatalf("LoadOrCreateKeys(second start) = %v", err)
	}
	if again != first {
		t.Error("the second start made a new pair; every subscription would be orphaned")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only %s (no temporary files left)", len(entries), KeysFile)
	}
}

func TestLoadOrCreateKeysNeverReplacesABadFile(t *testing.T) {
	a, b := mustKeys(t), mustKeys(t)
	mixed, _ := json.Marshal(Keys{Public: a.Public, Private: b.Private})
	tests := []struct {
		name    string
		content string
	}{
		{"a truncated file is an error", `{"public":"BP4`},
		{"an empty file is an error", ``},
		{"halves of two pairs are an error", string(mixed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeysFile)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateKeys(dir)
			if err == nil {
				t.Fatal("LoadOrCreateKeys = nil, want an error")
			}
			if strings.Contains(err.Error(), b.Private) {
				t.Errorf("LoadOrCreateKeys = %q, which holds the private key", err)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.content {
				t.Error("the bad file was replaced")
			}
		})
	}
}

func TestLoadOrCreateKeysConcurrentStartsAgree(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	got := make(chan Keys, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			k, err := LoadOrCreateKeys(dir)
			got <- k
			errs <- err
		}()
	}
	first := <-got
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for range n - 1 {
		if k := <-got; k != first {
			t.Error("two concurrent starts got different pairs")
		}
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// Keys never print or log their private half.
func TestKeysHidePrivateKey(t *testing.T) {
	k := mustKeys(t)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "vapid", k)
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), logged.String()} {
		if strings.Contains(out, k.Private) {
			t.Errorf("%q holds the private key", out)
		}
		if !strings.Contains(out, k.Public) {
			t.Errorf("%q lacks the public key", out)
		}
	}
}

// Issue 14 item 6, R-SEC-5: a subscription's endpoint is whatever the
// subscriber says. Without the operator listing it, a push service on
// loopback (standing in for any private or metadata address) gets no request
// and the subscription is reported gone, so the service drops it.
func TestSendRefusesNonPublicEndpoints(t *testing.T) {
	srv, _, count := pushService(t, http.StatusCreated, nil)
	br := newBrowser(t)
	keys := mustKeys(t)
	s := New(keys, "mailto:ops@example.org", srv.Client())
	for _, endpoint := range []string{
		srv.URL + "/capability-path-xyz",
		strings.Replace(srv.URL, "http://", "https://", 1) + "/capability-path-xyz",
		"https://169.254.169.254/latest/meta-data/",
		"https://[::1]:1/x", "https://10.0.0.1/x", "https://localhost/x",
	} {
		err := s.Send(context.Background(), br.subscription(endpoint), []byte("hi"), time.Minute)
		if tkesj.ErrorCode(err) != "invalid_subscription" {
			t.Errorf("Send to %s = %v, want invalid_subscription", endpoint, err)
		}
	}
	if n := count.Load(); n != 0 {
		t.Errorf("the loopback push service got %d requests, want none", n)
	}
}
