// Package push is the contract for notifying devices that are offline
// (R-NTF-1): a Provider sends one opaque, already-built payload to one
// subscription. Implementations live in subpackages (webpush); the service
// layer and cmd/tkesj may import this package, and implementations import
// nothing but it and the domain.
//
// The payload is built by the caller, who decides whether a preview shows
// message text (R-NTF-2). No Provider logs a payload or puts it, or a key, in
// an error.
package push

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/publicnet"
)

// MaxEndpointLen bounds a subscription's endpoint URL in bytes.
const MaxEndpointLen = 2048

// Subscription is a browser's push subscription, as PushSubscription.toJSON()
// gives it. The endpoint is a capability: whoever knows it (and, with VAPID,
// holds our key) can wake the device, so it is stored like a secret and never
// logged.
type Subscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"` // base64url, uncompressed P-256 point (65 bytes)
		Auth   string `json:"auth"`   // base64url, 16-byte authentication secret
	} `json:"keys"`
}

// Provider sends one notification to one subscription.
//
// Send returns nil once the push service has accepted the message; it does
// not wait for delivery. ttl says how long the service may hold the message
// for an offline device (0: deliver now or drop). Errors are *tkesj.Error:
//   - an error that matches ErrGone (errors.Is) means the subscription is dead
//     and must be deleted;
//   - kinds tkesj.ERateLimited and tkesj.EUnavailable are worth retrying later
//     (see Retryable; RetryAfter is set when the service said how long);
//   - tkesj.EInvalid means the subscription is malformed, tkesj.ETooLarge that
//     the payload is over the provider's limit; retrying will not help.
//
// Send honours ctx for cancellation and timeouts. It never logs.
type Provider interface {
	Send(ctx context.Context, sub Subscription, payload []byte, ttl time.Duration) error
}

// ErrGone means the push service no longer knows the subscription (HTTP 404
// or 410): the browser unsubscribed or the subscription expired. Delete it.
var ErrGone = errors.New("push: subscription gone")

// Retryable reports whether a Send error is temporary: the push service was
// unreachable, overloaded or rate limiting. Other errors will recur.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	k := tkesj.ErrorKindOf(err)
	return k == tkesj.ERateLimited || k == tkesj.EUnavailable
}

// Validate checks a subscription before it is stored or used: an https
// endpoint of at most MaxEndpointLen bytes on a public host (no IP literal
// outside the public Internet, no localhost or local names: R-SEC-5), a
// p256dh key that is an uncompressed point on P-256 and a 16-byte auth
// secret, both base64url. It returns a *tkesj.Error of kind EInvalid and
// code "invalid_subscription"; the message never echoes the endpoint or the
// keys. A name that resolves to a private address passes here; the sender's
// publicnet.Dialer refuses it when connecting.
func (s Subscription) Validate() error { return s.ValidateAllowing(nil) }

// ValidateAllowing is Validate that also accepts endpoints, http or https,
// on the hosts listed in allow ("host" or "host:port"): push services that
// tests run on loopback. An operator lists none.
func (s Subscription) ValidateAllowing(allow []string) error {
	if err := validateEndpoint(s.Endpoint, allow); err != nil {
		return invalid("the push endpoint must be an https URL of a public push service; subscribe again", err)
	}
	p, err := DecodeKey(s.Keys.P256dh)
	if err != nil {
		return invalid("the push subscription's p256dh key is not base64url; subscribe again", err)
	}
	if _, err := ecdh.P256().NewPublicKey(p); err != nil || len(p) != 65 {
		return invalid("the push subscription's p256dh key is not an uncompressed P-256 point; subscribe again", errors.New("p256dh is not an uncompressed P-256 point"))
	}
	a, err := DecodeKey(s.Keys.Auth)
	if err != nil {
		return invalid("the push subscription's auth secret is not base64url; subscribe again", err)
	}
	if len(a) != 16 {
		return invalid("the push subscription's auth secret must be 16 bytes; subscribe again", errors.New("auth secret is not 16 bytes"))
	}
	return nil
}

func invalid(msg string, cause error) error {
	return &tkesj.Error{Kind: tkesj.EInvalid, Code: "invalid_subscription", Message: msg, Err: cause}
}

func validateEndpoint(endpoint string, allow []string) error {
	if endpoint == "" {
		return errors.New("endpoint is empty")
	}
	if len(endpoint) > MaxEndpointLen {
		return errors.New("endpoint is too long")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		// url.Parse quotes the input; keep the endpoint out of the error.
		return errors.New("endpoint is not a URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("endpoint has no host")
	}
	if u.User != nil {
		return errors.New("endpoint has user info")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	allowed := (&publicnet.Dialer{Allow: allow}).Allows(net.JoinHostPort(u.Hostname(), port))
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("endpoint scheme is not https")
	case allowed:
		return nil
	case u.Scheme == "http":
		return errors.New("endpoint is plain http")
	}
	return publicnet.CheckHost(u.Hostname())
}

// DecodeKey decodes a subscription key: base64url as browsers send it,
// with or without '=' padding.
func DecodeKey(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
