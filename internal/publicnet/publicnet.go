// Package publicnet lets the server make outbound connections only to the
// public Internet (R-SEC-5): a Dialer that resolves a name, refuses every
// address in a private, loopback, link-local, metadata, shared (CGNAT),
// unique-local, documentation, multicast or otherwise reserved range, and
// checks the address it actually connects to, so a name that resolves to a
// public address once and a private one the next time (DNS rebinding) is
// refused too. Callers that send requests to addresses people choose (Web
// Push endpoints) use it; the operator's own endpoints (SMS webhook,
// database, NATS) do not need to. It imports only the standard library.
package publicnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrNotPublic is wrapped by every refusal.
var ErrNotPublic = errors.New("not a public internet address")

// nonPublic lists the ranges IsPublic refuses beyond what netip's own
// predicates name (loopback, private, link-local, multicast, unspecified).
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",         // "this network"
		"100.64.0.0/10",     // shared address space, carrier-grade NAT
		"169.254.0.0/16",    // link-local, including cloud metadata 169.254.169.254
		"192.0.0.0/24",      // IETF protocol assignments
		"192.0.2.0/24",      // documentation
		"192.88.99.0/24",    // 6to4 relay anycast
		"198.18.0.0/15",     // benchmarking
		"198.51.100.0/24",   // documentation
		"203.0.113.0/24",    // documentation
		"240.0.0.0/4",       // reserved, and the broadcast address
		"64:ff9b::/96",      // NAT64, reaching IPv4 space through a translator
		"64:ff9b:1::/48",    // local-use NAT64
		"100::/64",          // discard
		"2001::/23",         // IETF protocol assignments, including Teredo
		"2001:db8::/32",     // documentation
		"2002::/16",         // 6to4, which embeds an IPv4 address
		"fc00::/7",          // unique local, including fd00:ec2::254 (cloud metadata)
		"fec0::/10",         // site-local (deprecated)
		"fe80::/10",         // link-local
		"ff00::/8",          // multicast
		"::ffff:0:0:0/96",   // IPv4-translated
		"3fff::/20",         // documentation (2024)
		"5f00::/16",         // segment routing
		"::/128", "::1/128", // unspecified, loopback
		"255.255.255.255/32", // broadcast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// IsPublic reports whether a is an address on the public Internet: unicast,
// globally routed and none of the ranges above. An IPv4-mapped IPv6 address
// is judged as the IPv4 address it carries.
func IsPublic(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() ||
		a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// CheckHost refuses, without resolving anything, a host that can only be
// non-public: an IP literal outside the public Internet, "localhost" and
// names under .localhost, .local, .internal, .home.arpa or .localdomain. A
// name that passes may still resolve to a private address; the Dialer
// catches that when connecting.
func CheckHost(host string) error {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		if !IsPublic(a) {
			return fmt.Errorf("%w: %s", ErrNotPublic, a)
		}
		return nil
	}
	if h == "" || !strings.Contains(h, ".") {
		return fmt.Errorf("%w: a name without a dot", ErrNotPublic)
	}
	for _, suffix := range []string{".localhost", ".local", ".internal", ".home.arpa", ".localdomain", ".lan"} {
		if strings.HasSuffix("."+h, suffix) {
			return fmt.Errorf("%w: a local name", ErrNotPublic)
		}
	}
	return nil
}

// Dialer connects only to public addresses. Allow lists hosts ("host" or
// "host:port", as written in the URL) that are exempt: for tests that run a
// push service on loopback, off unless the operator lists them.
type Dialer struct {
	Timeout time.Duration // per connection attempt; 10 s when 0
	Allow   []string
}

// DialContext is net.Dialer.DialContext with every address checked at
// connect time.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.Timeout}
	if nd.Timeout == 0 {
		nd.Timeout = 10 * time.Second
	}
	if d.Allows(address) {
		return nd.DialContext(ctx, network, address)
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if err := CheckHost(host); err != nil {
		return nil, err
	}
	// Control runs after the name is resolved and before each connect, on
	// the very address connected to.
	nd.Control = checkConnect
	return nd.DialContext(ctx, network, address)
}

// checkConnect is a net.Dialer's Control: it refuses to connect to an
// address that is not public.
func checkConnect(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unreadable address", ErrNotPublic)
	}
	if !IsPublic(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrNotPublic, ap.Addr())
	}
	return nil
}

// Allows reports whether address ("host:port", the port always written) or
// its host alone is listed in Allow.
func (d *Dialer) Allows(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	for _, a := range d.Allow {
		a = strings.TrimSpace(a)
		if a != "" && (strings.EqualFold(a, address) || strings.EqualFold(strings.Trim(a, "[]"), host)) {
			return true
		}
	}
	return false
}
