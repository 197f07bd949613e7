// Package webpush is the built-in push.Provider (R-NTF-1): it encrypts a
// payload for one browser subscription (RFC 8291, aes128gcm) and POSTs it to
// the subscription's push service, identifying this server with VAPID
// (RFC 8292). Only the standard library does the cryptography.
//
// cmd/tkesj wires it: LoadOrCreateKeys at start-up, New, and the public key
// handed to the web client as applicationServerKey. Nothing here logs, and no
// error holds a payload, a key or an endpoint's path.
package webpush

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/publicnet"
	"github.com/tkesj/tkesj/internal/push"
)

const (
	// jwtLifetime is how long a VAPID token is valid; RFC 8292 allows 24 h.
	jwtLifetime = 12 * time.Hour
	// maxTTL is the longest a push service is asked to hold a message; the
	// major services cap TTL at four weeks.
	maxTTL = 28 * 24 * time.Hour
	// defaultTimeout bounds a request when New gets no client and the
	// caller's context has no deadline.
	defaultTimeout = 30 * time.Second
	// maxRetryAfter caps, in seconds, how long a service may tell us to wait.
	maxRetryAfter = 24 * 60 * 60
)

// Sender sends Web Push notifications. It is safe for concurrent use.
type Sender struct {
	key     *ecdsa.PrivateKey
	public  string // base64url, the k= of the Authorization header
	subject string
	confErr error // a bad key pair or subject, reported by every Send
	client  *http.Client
	allow   []string // hosts exempt from the public-address rule (tests only)
	now     func() time.Time
}

var _ push.Provider = (*Sender)(nil)

// New returns a Sender that signs with keys and names subject (a "mailto:"
// or "https:" URI the push service may use to reach the operator) in every
// token. A nil client means a default one with a 30-second timeout. The
// Sender never follows redirects, whatever client says: the endpoint is
// where the message goes, or nowhere.
//
// Endpoints are chosen by whoever subscribes, so the Sender connects only to
// public addresses (R-SEC-5): every name is resolved and every address
// checked at connect time by a publicnet.Dialer, and no proxy from the
// environment is used. allow lists hosts ("host" or "host:port") exempt
// from that rule, for a push service a test runs on loopback; production
// passes none. Whatever transport client has is replaced by one built so.
//
// New does not fail: an invalid key pair or subject makes every Send return
// an internal error, so a misconfigured server is visible without panicking.
func New(keys Keys, subject string, client *http.Client, allow ...string) *Sender {
	s := &Sender{public: keys.Public, subject: subject, now: time.Now, allow: allow}
	s.key, s.confErr = parseKeys(keys)
	if s.confErr == nil && !strings.HasPrefix(subject, "mailto:") && !strings.HasPrefix(subject, "https://") {
		s.confErr = errors.New(`vapid subject must start with "mailto:" or "https://"`)
	}
	var c http.Client
	if client != nil {
		c = *client
	} else {
		c.Timeout = defaultTimeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t := http.DefaultTransport.(*http.Transport).Clone()
	if ct, ok := c.Transport.(*http.Transport); ok {
		t = ct.Clone() // keeps, say, a test's TLS roots
	}
	t.Proxy = nil // a proxy would connect on our behalf, unchecked
	t.DialContext = (&publicnet.Dialer{Allow: allow}).DialContext
	t.DialTLSContext = nil
	t.MaxResponseHeaderBytes = 16 << 10
	t.ResponseHeaderTimeout = defaultTimeout
	c.Transport = t
	s.client = &c
	return s
}

// Send encrypts payload for sub and posts it with the given ttl and urgency
// high. See push.Provider for what its errors mean. A payload over
// MaxPayload bytes is refused before any request is made.
func (s *Sender) Send(ctx context.Context, sub push.Subscription, payload []byte, ttl time.Duration) error {
	if s.confErr != nil {
		return tkesj.Internal(fmt.Errorf("webpush: %w", s.confErr))
	}
	if err := sub.ValidateAllowing(s.allow); err != nil {
		return err
	}
	if len(payload) > MaxPayload {
		return &tkesj.Error{Kind: tkesj.ETooLarge, Code: "push_payload_too_large",
			Message: fmt.Sprintf("the notification is larger than %d bytes; shorten it", MaxPayload)}
	}
	endpoint, err := url.Parse(sub.Endpoint)
	if err != nil { // Validate parsed it already
		return tkesj.Internal(errors.New("webpush: parse endpoint"))
	}
	// Validate accepted both keys; decoding cannot fail now.
	uaPublic, _ := push.DecodeKey(sub.Keys.P256dh)
	authSecret, _ := push.DecodeKey(sub.Keys.Auth)

	as, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return tkesj.Internal(fmt.Errorf("webpush: ephemeral key: %w", err))
	}
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails
	body, err := encrypt(payload, uaPublic, authSecret, as, salt, padding(len(payload)))
	if err != nil {
		return tkesj.Internal(fmt.Errorf("webpush: encrypt: %w", err))
	}
	token, err := s.token(endpoint.Scheme + "://" + endpoint.Host)
	if err != nil {
		return tkesj.Internal(fmt.Errorf("webpush: sign vapid token: %w", err))
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return tkesj.Internal(errors.New("webpush: build request"))
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Encoding", "aes128gcm")
	req.Header.Set("TTL", strconv.FormatInt(int64(min(max(ttl, 0), maxTTL)/time.Second), 10))
	req.Header.Set("Urgency", "high")
	req.Header.Set("Authorization", "vapid t="+token+", k="+s.public)

	host := endpoint.Host // the path is the secret part; errors name only the host
	resp, err := s.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error quotes the whole endpoint
		}
		if errors.Is(err, publicnet.ErrNotPublic) {
			// The endpoint's name leads off the public Internet: it will not
			// get better, so the subscription is dropped (ErrGone).
			return &tkesj.Error{Kind: tkesj.EInvalid, Code: "invalid_subscription",
				Message: "the push endpoint is not a public push service; subscribe again",
				Err:     fmt.Errorf("push service %s: %w: %w", host, err, push.ErrGone)}
		}
		return &tkesj.Error{Kind: tkesj.EUnavailable, Code: "push_unavailable",
			Message: "the push service could not be reached; retry later",
			Err:     fmt.Errorf("post to push service %s: %w", host, err)}
	}
	// Drain a little so the connection can be reused; the body is not kept,
	// since it is the service's text and of no use to the caller.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()

	cause := fmt.Errorf("push service %s answered %d", host, resp.StatusCode)
	switch code := resp.StatusCode; {
	case code == http.StatusOK || code == http.StatusCreated || code == http.StatusAccepted:
		return nil
	case code == http.StatusNotFound || code == http.StatusGone:
		return &tkesj.Error{Kind: tkesj.EGone, Code: "push_subscription_gone",
			Message: "the push subscription has expired; subscribe again",
			Err:     fmt.Errorf("%w: %w", cause, push.ErrGone)}
	case code == http.StatusRequestEntityTooLarge:
		return &tkesj.Error{Kind: tkesj.ETooLarge, Code: "push_payload_too_large",
			Message: "the push service refused the notification as too large; shorten it", Err: cause}
	case code == http.StatusTooManyRequests:
		return &tkesj.Error{Kind: tkesj.ERateLimited, Code: "push_rate_limited",
			Message:    "the push service is rate limiting notifications; retry later",
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), s.now()), Err: cause}
	case code >= 500:
		return &tkesj.Error{Kind: tkesj.EUnavailable, Code: "push_unavailable",
			Message:    "the push service is temporarily unavailable; retry later",
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), s.now()), Err: cause}
	default:
		// 400, 401, 403 (often: the subscription belongs to another VAPID
		// key), redirects and the rest will not improve with retries.
		return &tkesj.Error{Kind: tkesj.EInternal, Code: "push_rejected",
			Message: "the push service refused the notification", Err: cause}
	}
}

// token returns a VAPID JWT (RFC 8292 section 2) for the push service at
// audience (scheme://host[:port]), signed ES256 with the raw r||s signature
// of RFC 7518 section 3.4.
func (s *Sender) token(audience string) (string, error) {
	header := b64([]byte(`{"typ":"JWT","alg":"ES256"}`))
	claims, err := json.Marshal(struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}{audience, s.now().Add(jwtLifetime).Unix(), s.subject})
	if err != nil {
		return "", err
	}
	signed := header + "." + b64(claims)
	digest := sha256.Sum256([]byte(signed))
	r, sig, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", err
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	sig.FillBytes(raw[32:])
	return signed + "." + b64(raw), nil
}

// retryAfter reads a Retry-After header: seconds or an HTTP date. It returns
// 0 when the header is absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		d = time.Duration(min(n, maxRetryAfter)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now)
	}
	return min(d, maxRetryAfter*time.Second)
}
