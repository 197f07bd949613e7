package push

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tkesj/tkesj"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// validSubscription is what a browser would hand us.
func validSubscription(t *testing.T) Subscription {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var s Subscription
	s.Endpoint = "https://push.example.net/wpush/v2/gAAAAABk"
	s.Keys.P256dh = b64(k.PublicKey().Bytes())
	s.Keys.Auth = b64(make([]byte, 16))
	return s
}

// R-NTF-1, R-SEC-5: a subscription is checked before it is stored or used;
// endpoints must be public https push services.
func TestValidate(t *testing.T) {
	good := validSubscription(t)
	offCurve := append([]byte{4}, make([]byte, 64)...) // (0,0) is not on P-256
	offCurve[64] = 1
	compressed := append([]byte{2}, make([]byte, 32)...)
	tests := []struct {
		name  string
		edit  func(*Subscription)
		valid bool
	}{
		{"a browser's https subscription is accepted", func(*Subscription) {}, true},
		{"keys with base64 padding are accepted", func(s *Subscription) { s.Keys.Auth += "==" }, true},
		{"issue 14 item 6: plain http to 127.0.0.1 is refused", func(s *Subscription) { s.Endpoint = "http://127.0.0.1:8080/push" }, false},
		{"issue 14 item 6: https to 127.0.0.1 is refused", func(s *Subscription) { s.Endpoint = "https://127.0.0.1:8080/push" }, false},
		{"issue 14 item 6: https to localhost is refused", func(s *Subscription) { s.Endpoint = "https://localhost/push" }, false},
		{"issue 14 item 6: https to [::1] is refused", func(s *Subscription) { s.Endpoint = "https://[::1]:9/push" }, false},
		{"issue 14 item 6: https to 10.x is refused", func(s *Subscription) { s.Endpoint = "https://10.1.2.3/push" }, false},
		{"issue 14 item 6: https to the metadata address is refused", func(s *Subscription) { s.Endpoint = "https://169.254.169.254/latest/meta-data" }, false},
		{"issue 14 item 6: https to a ULA is refused", func(s *Subscription) { s.Endpoint = "https://[fd00:ec2::254]/x" }, false},
		{"issue 14 item 6: https to CGNAT space is refused", func(s *Subscription) { s.Endpoint = "https://100.64.0.1/x" }, false},
		{"issue 14 item 6: https to an IPv4-mapped loopback is refused", func(s *Subscription) { s.Endpoint = "https://[::ffff:127.0.0.1]/x" }, false},
		{"issue 14 item 6: https to a decimal-encoded loopback name is refused", func(s *Subscription) { s.Endpoint = "https://2130706433/x" }, false},
		{"issue 14 item 6: https to a .internal name is refused", func(s *Subscription) { s.Endpoint = "https://metadata.google.internal/x" }, false},
		{"https to a public address is accepted", func(s *Subscription) { s.Endpoint = "https://203.0.114.9/x" }, true},
		{"an endpoint of exactly 2048 bytes is accepted", func(s *Subscription) {
			s.Endpoint = "https://push.example.net/" + strings.Repeat("a", MaxEndpointLen-len("https://push.example.net/"))
		}, true},
		{"an empty endpoint is refused", func(s *Subscription) { s.Endpoint = "" }, false},
		{"plain http to another host is refused", func(s *Subscription) { s.Endpoint = "http://push.example.net/x" }, false},
		{"plain http to a private address is refused", func(s *Subscription) { s.Endpoint = "http://10.0.0.1/x" }, false},
		{"a file URL is refused", func(s *Subscription) { s.Endpoint = "file:///etc/passwd" }, false},
		{"a javascript URL is refused", func(s *Subscription) { s.Endpoint = "javascript:alert(1)" }, false},
		{"a relative URL is refused", func(s *Subscription) { s.Endpoint = "/push" }, false},
		{"an https URL without a host is refused", func(s *Subscription) { s.Endpoint = "https:///push" }, false},
		{"an endpoint with user info is refused", func(s *Subscription) { s.Endpoint = "https://u:p@push.example.net/x" }, false},
		{"an endpoint that is not a URL is refused", func(s *Subscription) { s.Endpoint = "https://push.example.net/\x7f" }, false},
		{"an endpoint over 2048 bytes is refused", func(s *Subscription) {
			s.Endpoint = "https://push.example.net/" + strings.Repeat("a", MaxEndpointLen)
		}, false},
		{"a p256dh key that is not base64url is refused", func(s *Subscription) { s.Keys.P256dh = "not*base64" }, false},
		{"a p256dh key in standard base64 is refused", func(s *Subscription) {
			s.Keys.P256dh = strings.NewReplacer("-", "+", "_", "/").Replace(s.Keys.P256dh) + "+/"
		}, false},
		{"a missing p256dh key is refused", func(s *Subscription) { s.Keys.P256dh = "" }, false},
		{"a compressed p256dh point is refused", func(s *Subscription) { s.Keys.P256dh = b64(compressed) }, false},
		{"a p256dh point off the curve is refused", func(s *Subscription) { s.Keys.P256dh = b64(offCurve) }, false},
		{"a truncated p256dh key is refused", func(s *Subscription) { s.Keys.P256dh = s.Keys.P256dh[:80] }, false},
		{"an auth secret of 15 bytes is refused", func(s *Subscription) { s.Keys.Auth = b64(make([]byte, 15)) }, false},
		{"an auth secret of 17 bytes is refused", func(s *Subscription) { s.Keys.Auth = b64(make([]byte, 17)) }, false},
		{"a missing auth secret is refused", func(s *Subscription) { s.Keys.Auth = "" }, false},
		{"an auth secret that is not base64url is refused", func(s *Subscription) { s.Keys.Auth = "!!!!" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.edit(&s)
			err := s.Validate()
			if tt.valid {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var e *tkesj.Error
			if !errors.As(err, &e) || e.Kind != tkesj.EInvalid || e.Code != "invalid_subscription" {
				t.Fatalf("Validate() = %v, want *tkesj.Error invalid/invalid_subscription", err)
			}
			for _, secret := range []string{s.Keys.P256dh, s.Keys.Auth, "gAAAAABk"} {
				if len(secret) >= 8 && strings.Contains(err.Error(), secret) {
					t.Errorf("Validate() = %q, which echoes the subscription", err)
				}
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no error is not retryable", nil, false},
		{"a rate limit is retryable", &tkesj.Error{Kind: tkesj.ERateLimited}, true},
		{"an unavailable service is retryable, even wrapped", fmt.Errorf("send: %w", &tkesj.Error{Kind: tkesj.EUnavailable}), true},
		{"a gone subscription is not retryable", &tkesj.Error{Kind: tkesj.EGone, Err: ErrGone}, false},
		{"a plain error is not retryable", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// Issue 14 item 6: the hosts an operator (in practice a test) lists are the
// only exception to "public https", and only exactly as listed.
func TestValidateAllowing(t *testing.T) {
	s := validSubscription(t)
	tests := []struct {
		endpoint string
		allow    []string
		valid    bool
	}{
		{"http://127.0.0.1:8080/push", []string{"127.0.0.1:8080"}, true},
		{"http://127.0.0.1:8080/push", []string{"127.0.0.1"}, true},
		{"http://localhost/push", []string{"localhost"}, true},
		{"http://[::1]:9/push", []string{"[::1]:9"}, true},
		{"http://127.0.0.1:8081/push", []string{"127.0.0.1:8080"}, false},
		{"http://10.0.0.1/push", []string{"127.0.0.1"}, false},
		{"http://127.0.0.1:8080/push", nil, false},
	}
	for _, tt := range tests {
		s.Endpoint = tt.endpoint
		if err := s.ValidateAllowing(tt.allow); (err == nil) != tt.valid {
			t.Errorf("ValidateAllowing(%q, %q) = %v, want valid %t", tt.endpoint, tt.allow, err, tt.valid)
		}
	}
}
