package app

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Behind a reverse proxy the client's address comes from the proxy's header,
// and only from a proxy the operator named: anyone else who sends the header
// is spoofing and is taken at their own address (per-address limits and
// new-network detection depend on it, R-DEV-3).
func TestClientAddressBehindTrustedProxies(t *testing.T) {
	xff, err := parseTrustedProxies("10.0.0.0/8, 192.168.1.7, fd00::/8", "")
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := parseTrustedProxies("10.0.0.0/8", "Forwarded")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tp      *trustedProxies
		peer    string
		headers map[string][]string
		want    string
	}{
		{"a direct client is taken at its address", xff, "203.0.113.9:5555", nil, "203.0.113.9"},
		{"an untrusted peer's X-Forwarded-For is ignored (spoofing)", xff, "203.0.113.9:5555",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4"}}, "203.0.113.9"},
		{"an untrusted peer's Forwarded is ignored (spoofing)", fwd, "203.0.113.9:5555",
			map[string][]string{"Forwarded": {"for=1.2.3.4"}}, "203.0.113.9"},
		{"a trusted proxy names the client", xff, "10.1.2.3:40000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.20"}}, "198.51.100.20"},
		{"a client's own X-Forwarded-For before the proxy's entry is ignored", xff, "10.1.2.3:40000",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.20"}}, "198.51.100.20"},
		{"a spoofed entry in a second header line is ignored", xff, "10.1.2.3:40000",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4", "198.51.100.20"}}, "198.51.100.20"},
		{"a chain of trusted proxies is walked from the right", xff, "10.1.2.3:40000",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.20, 192.168.1.7, 10.9.9.9"}}, "198.51.100.20"},
		{"when every hop is a trusted proxy the leftmost is the client", xff, "10.1.2.3:40000",
			map[string][]string{"X-Forwarded-For": {"10.5.5.5"}}, "10.5.5.5"},
		{"garbage at the right stops at the proxy", xff, "10.1.2.3:40000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.20, not-an-ip"}}, "10.1.2.3"},
		{"garbage left of the client is never reached", xff, "10.1.2.3:40000",
			map[string][]string{"X-Forwarded-For": {"<script>, 198.51.100.20"}}, "198.51.100.20"},
		{"an entry with a port is read", xff, "10.1.2.3:40000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.20:1234"}}, "198.51.100.20"},
		{"IPv6 hops are read", xff, "[fd00::1]:40000",
			map[string][]string{"X-Forwarded-For": {"2001:db8::5"}}, "2001:db8::5"},
		{"an IPv4-mapped peer counts as IPv4", xff, "[::ffff:10.1.2.3]:40000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.20"}}, "198.51.100.20"},
		{"no header from a trusted proxy leaves the proxy", xff, "10.1.2.3:40000", nil, "10.1.2.3"},
		{"the header the proxy does not write is ignored (X-Forwarded-For mode)", xff, "10.1.2.3:40000",
			map[string][]string{"Forwarded": {"for=1.2.3.4"}, "X-Forwarded-For": {"198.51.100.20"}}, "198.51.100.20"},
		{"the header the proxy does not write is ignored (Forwarded mode)", fwd, "10.1.2.3:40000",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4"}, "Forwarded": {"for=198.51.100.20;proto=https"}}, "198.51.100.20"},
		{"Forwarded with several elements and a quoted IPv6 with port", fwd, "10.1.2.3:40000",
			map[string][]string{"Forwarded": {`for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https`}}, "2001:db8:cafe::17"},
		{"Forwarded for=unknown stops at the proxy", fwd, "10.1.2.3:40000",
			map[string][]string{"Forwarded": {"for=unknown"}}, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := tt.tp.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = splitHost(r.RemoteAddr)
			}))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Errorf("client address of peer %s with %v = %q, want %q", tt.peer, tt.headers, got, tt.want)
			}
		})
	}
}

func splitHost(addr string) (string, bool) {
	a, ok := hostAddr(addr)
	return a.String(), ok
}

func TestTrustedProxiesRefusesNonsense(t *testing.T) {
	for _, tt := range []struct{ list, header string }{
		{"10.0.0.0/33", ""},
		{"example.com", ""},
		{"10.0.0.0/8", "X-Real-IP"},
	} {
		if _, err := parseTrustedProxies(tt.list, tt.header); err == nil {
			t.Errorf("parseTrustedProxies(%q, %q) = nil error, want one", tt.list, tt.header)
		}
	}
	tp, err := parseTrustedProxies("", "")
	if err != nil || len(tp.nets) != 0 {
		t.Fatalf("parseTrustedProxies(empty) = %v, %v", tp, err)
	}
	// With no proxy trusted, the handler is left as it is.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	tp.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RemoteAddr != "10.0.0.1:1" {
			t.Errorf("RemoteAddr = %q with no trusted proxies", r.RemoteAddr)
		}
	})).ServeHTTP(httptest.NewRecorder(), r)
}
