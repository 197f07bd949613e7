// Package connlimit bounds how many connections one client address may hold
// open on a listener at once (R-SEC-5), so that no single address can use up
// the server's file descriptors and shut everyone else out. Only internal/app
// imports it, to wrap the API listener.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Listener wraps a net.Listener. A connection from an address that already
// holds Max connections is closed as soon as it is accepted, before any byte
// is read, and Accept moves on to the next one.
type Listener struct {
	net.Listener
	// Exempt, when set before the first Accept, names addresses that are
	// not counted: trusted reverse proxies, which carry many clients'
	// connections and limit each client themselves.
	Exempt func(netip.Addr) bool

	max     int
	mu      sync.Mutex
	held    map[netip.Addr]int
	refused atomic.Uint64
}

// Wrap returns ln limited to max connections per client address. IPv6
// clients are counted per /64, the block one subscriber usually holds.
func Wrap(ln net.Listener, max int) *Listener {
	return &Listener{Listener: ln, max: max, held: make(map[netip.Addr]int)}
}

// Accept returns the next connection whose address is under the limit.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := keyOf(c.RemoteAddr())
		if !ok {
			return c, nil // not an IP connection (a pipe in tests): uncounted
		}
		if l.Exempt != nil {
			if ip, ok := hostOf(c.RemoteAddr()); ok && l.Exempt(ip) {
				return c, nil
			}
		}
		l.mu.Lock()
		if l.held[key] >= l.max {
			l.mu.Unlock()
			l.refused.Add(1)
			c.Close()
			continue
		}
		l.held[key]++
		l.mu.Unlock()
		return &conn{Conn: c, l: l, key: key}, nil
	}
}

// Refused counts connections closed for going over the limit (a metric).
func (l *Listener) Refused() uint64 { return l.refused.Load() }

func (l *Listener) done(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key]--; l.held[key] <= 0 {
		delete(l.held, key)
	}
}

// hostOf is the peer's address.
func hostOf(a net.Addr) (netip.Addr, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return ip.Unmap(), ok
}

func keyOf(a net.Addr) (netip.Addr, bool) {
	ip, ok := hostOf(a)
	if !ok {
		return netip.Addr{}, false
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// conn gives its place back once, when closed (also after an HTTP server
// hijacked it for a WebSocket: the hijacker closes this same conn).
type conn struct {
	net.Conn
	l    *Listener
	key  netip.Addr
	once sync.Once
}

// UnwrapConn hands internal/wsnet the socket under c, whose bytes c passes
// through unchanged, so that an idle WebSocket can be polled without a
// goroutine. wsnet still closes c when the WebSocket ends, which gives the
// place back.
func (c *conn) UnwrapConn() net.Conn { return c.Conn }

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.done(c.key) })
	return err
}
