package publicnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

// Issue 14 item 6, R-SEC-5: the addresses an attacker would aim a push
// subscription at are not public; real push services' addresses are.
func TestIsPublic(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "::",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "169.254.0.1", "fe80::1", // link-local, metadata
		"100.64.0.1", "100.127.255.254", // CGNAT
		"fc00::1", "fd00:ec2::254", // ULA, AWS metadata over IPv6
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", // IPv4-mapped
		"64:ff9b::a00:1", "2002:7f00:1::", "2001:0:4136:e378::1", // NAT64, 6to4, Teredo
		"224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1",
		"192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", "198.18.0.1",
	}
	public := []string{"8.8.8.8", "142.250.72.10", "17.253.144.10", "2607:f8b0:4005:80a::200a", "2a00:1450:4001:82a::200e", "100.128.0.1", "172.32.0.1"}
	for _, s := range refused {
		if IsPublic(netip.MustParseAddr(s)) {
			t.Errorf("IsPublic(%s) = true, want false", s)
		}
	}
	for _, s := range public {
		if !IsPublic(netip.MustParseAddr(s)) {
			t.Errorf("IsPublic(%s) = false, want true", s)
		}
	}
}

func TestCheckHost(t *testing.T) {
	for _, h := range []string{"localhost", "LOCALHOST.", "a.localhost", "printer.local", "metadata.google.internal", "router.home.arpa", "intranet", "2130706433", "[::1]", "127.0.0.1", "169.254.169.254", "[fd00::1]"} {
		if err := CheckHost(h); !errors.Is(err, ErrNotPublic) {
			t.Errorf("CheckHost(%q) = %v, want ErrNotPublic", h, err)
		}
	}
	for _, h := range []string{"fcm.googleapis.com", "updates.push.services.mozilla.com", "web.push.apple.com", "8.8.8.8"} {
		if err := CheckHost(h); err != nil {
			t.Errorf("CheckHost(%q) = %v, want nil", h, err)
		}
	}
}

// The check runs on the address connected to, after resolution: a public
// name that resolves to a private address (DNS rebinding) is refused there.
func TestCheckConnect(t *testing.T) {
	for _, a := range []string{"127.0.0.1:443", "[::1]:443", "10.1.1.1:443", "169.254.169.254:80", "[::ffff:127.0.0.1]:443", "[fd00:ec2::254]:80"} {
		if err := checkConnect("tcp", a, nil); !errors.Is(err, ErrNotPublic) {
			t.Errorf("checkConnect(%s) = %v, want ErrNotPublic", a, err)
		}
	}
	if err := checkConnect("tcp", "8.8.8.8:443", nil); err != nil {
		t.Errorf("checkConnect(8.8.8.8:443) = %v, want nil", err)
	}
}

// A listener on loopback is unreachable through the Dialer unless it is
// listed in Allow.
func TestDialerRefusesLoopbackUnlessAllowed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	if c, err := (&Dialer{}).DialContext(context.Background(), "tcp", addr); !errors.Is(err, ErrNotPublic) {
		if c != nil {
			c.Close()
		}
		t.Errorf("Dialer{}.DialContext(%s) = %v, want ErrNotPublic", addr, err)
	}
	if c, err := (&Dialer{Allow: []string{"127.0.0.1:1"}}).DialContext(context.Background(), "tcp", addr); !errors.Is(err, ErrNotPublic) {
		if c != nil {
			c.Close()
		}
		t.Errorf("DialContext(%s) allowing another port = %v, want ErrNotPublic", addr, err)
	}
	c, err := (&Dialer{Allow: []string{addr}}).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("DialContext(%s) allowing it = %v, want a connection", addr, err)
	}
	c.Close()
}
