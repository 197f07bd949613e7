package connlimit

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// Issue 14 item 7, R-SEC-5: an address holding Max connections gets its
// next one closed before a byte is read; closing one frees its place.
func TestWrapLimitsConnectionsPerAddress(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	next := func() net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no connection accepted within 10 s")
		}
		return nil
	}
	dial()
	first := next()
	dial()
	next()
	third := dial()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
		t.Errorf("the third connection from one address: Read = %v, want it closed by the server", err)
	}
	if ln.Refused() != 1 {
		t.Errorf("Refused() = %d, want 1", ln.Refused())
	}
	first.Close()
	dial()
	next() // accepted again once a place is free
}

func isReset(err error) bool {
	ne, ok := err.(*net.OpError)
	return ok && !ne.Timeout()
}

// A trusted reverse proxy carries everyone's connections: with Exempt it is
// never refused, while other addresses keep their limit.
func TestExemptAddressesAreNotCounted(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(inner, 1)
	l.Exempt = func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") }
	defer l.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case s := <-accepted:
			defer s.Close()
		case <-time.After(10 * time.Second):
			t.Fatalf("connection %d from an exempt address was not accepted", i+1)
		}
	}
	if n := l.Refused(); n != 0 {
		t.Errorf("Refused() = %d, want 0", n)
	}
}

// Issue 17: a WebSocket polled by internal/wsnet holds its place while its
// socket is taken from under the wrapper; closing the wrapper gives it back.
func TestUnwrappedSocketKeepsItsPlace(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(inner, 1)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dialAndRead := func() error {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		return err
	}
	dialAndRead()
	c := <-accepted
	u, ok := c.(interface{ UnwrapConn() net.Conn })
	if !ok {
		t.Fatalf("%T does not offer its socket", c)
	}
	if _, ok := u.UnwrapConn().(*net.TCPConn); !ok {
		t.Fatalf("UnwrapConn() = %T, want the *net.TCPConn", u.UnwrapConn())
	}
	u.UnwrapConn().Close() // wsnet closes the net.Conn it took the socket from
	if err := dialAndRead(); err == nil || isTimeout(err) {
		t.Errorf("second connection: Read = %v, want it refused: the place is still held", err)
	}
	c.Close()
	time.Sleep(10 * time.Millisecond)
	if err := dialAndRead(); !isTimeout(err) {
		t.Errorf("after the wrapper closed: Read = %v, want an open connection (timeout)", err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
