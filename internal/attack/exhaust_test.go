package attack

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/attack/bombs"
)

// R-SEC-5: clients that send headers or a body a byte at a time are cut off
// within the timeouts, and others are served meanwhile.
func TestSlowClients(t *testing.T) {
	defer budget(t, time.Now(), time.Minute)
	s := start(t, func(c *app.Config) { c.HeaderTimeout, c.BodyIdleTimeout = 500*time.Millisecond, 500*time.Millisecond })
	const n = 20
	slowHeaders := make([]net.Conn, n)
	slowBodies := make([]net.Conn, n)
	for i := range n {
		slowHeaders[i] = dial(t, s.Addr)
		slowHeaders[i].Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")) // never finished
		slowBodies[i] = dial(t, s.Addr)
		slowBodies[i].Write([]byte("POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"))
	}
	must(t, s.do(t, "", "GET", "/healthz", nil), 200, "healthz while 40 slow clients hang on")
	for i := range n {
		if !closedOrAnswered(slowHeaders[i], 10*time.Second) {
			t.Errorf("slow-header client %d still connected after 10 s (header timeout 0.5 s)", i)
		}
		if !closedOrAnswered(slowBodies[i], 10*time.Second) {
			t.Errorf("slow-body client %d still connected after 10 s (body timeout 0.5 s)", i)
		}
	}
	t.Logf("slow clients: %d slow-header and %d slow-body connections, all cut off", n, n)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedOrAnswered reports whether the server answered or closed c within d.
func closedOrAnswered(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// R-SEC-5, issue 14 item 5: pictures that are small on the wire and huge
// decoded are refused from their headers: the 381 KB 7000×7000 16-bit PNG,
// a header claiming 100000×100000 pixels, a GIF claiming 65535×65535. Two at
// once, beside an ordinary upload that still succeeds; the server's heap
// grows by far less than one of them decoded (392 MB).
func TestDecompressionAndDimensionBombs(t *testing.T) {
	defer budget(t, time.Now(), 2*time.Minute)
	s := start(t)
	p := s.register(t, "Bomber Bo")
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	deep := bombs.ZeroPNG(7000, 7000, bombs.Depth16, bombs.RGBA)
	wide := bombs.PNGHeader(100000, 100000)
	gif := []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00")
	results := make(chan string, 3)
	for _, b := range []struct {
		name string
		in   []byte
	}{{"deep.png", deep}, {"deep2.png", deep}, {"gif.gif", gif}} {
		go func() {
			r := s.upload(t, p.Token, b.name, b.in)
			results <- fmt.Sprintf("%s:%d:%s", b.name, r.Status, r.code())
		}()
	}
	for range 3 {
		res := <-results
		if !strings.HasSuffix(res, ":413:image_too_large") {
			t.Errorf("bomb upload = %s, want 413 image_too_large", res)
		}
	}
	if r := s.upload(t, p.Token, "wide.png", wide); r.Status != 413 {
		t.Errorf("a 100000×100000 header = %d %s, want 413 image_too_large", r.Status, r.Body)
	}
	s.uploadPicture(t, p) // ordinary pictures still go through
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 128<<20 {
		t.Errorf("the heap grew by %d MB through the bombs, want far less than one decoded (392 MB)", grew>>20)
	}
	t.Logf("bombs: 2 deep PNGs (%d KB each) at once, 1 GIF and 1 PNG header refused from their headers; peak heap %d MB", len(deep)>>10, after.HeapInuse>>20)
}

// R-SEC-5, issue 14 item 7: one person can't hold more than 20 sockets, and
// one address can't hold more than its connection cap; /healthz and other
// people are served throughout.
func TestSocketExhaustion(t *testing.T) {
	defer budget(t, time.Now(), 2*time.Minute)
	s := start(t, func(c *app.Config) { c.ConnsPerAddr = "60" })
	p, other := s.register(t, "Hoarder Ho"), s.register(t, "Other Ot")
	ws := "ws://" + s.Addr + "/api/v1/ws?token="
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var held []*websocket.Conn
	defer func() {
		for _, c := range held {
			c.CloseNow()
		}
	}()
	refused := 0
	for i := range 25 {
		c, resp, err := websocket.Dial(ctx, ws+p.Token, nil)
		if err != nil {
			if resp == nil || resp.StatusCode != 429 {
				t.Fatalf("socket %d: %v, want 429 beyond 20", i+1, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(b), "too_many_connections") {
				t.Errorf("socket %d refused with %s, want code too_many_connections", i+1, b)
			}
			refused++
			continue
		}
		held = append(held, c)
	}
	if len(held) != 20 || refused != 5 {
		t.Errorf("one person opened %d sockets with %d refused, want 20 and 5 refused", len(held), refused)
	}
	c, _, err := websocket.Dial(ctx, ws+other.Token, nil)
	if err != nil {
		t.Fatalf("someone else can't connect while one person holds 20: %v", err)
	}
	c.CloseNow()

	// From another loopback address, raw connections up to the cap; the
	// next is closed unread, while 127.0.0.1 is still served.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}
	var raw []net.Conn
	defer func() {
		for _, c := range raw {
			c.Close()
		}
	}()
	for range 60 {
		c, err := d.Dial("tcp", s.Addr)
		if err != nil {
			t.Skipf("can't dial from 127.0.0.2 here: %v", err)
		}
		raw = append(raw, c)
	}
	over, err := d.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	over.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(over), nil); err == nil {
		t.Errorf("connection 61 from one address was served (%d), want it closed", resp.StatusCode)
	}
	must(t, s.do(t, "", "GET", "/healthz", nil), 200, "healthz from another address while one is at its cap")
	t.Logf("socket exhaustion: 20 sockets held and 5 refused (429) for one person; 60 connections held and the 61st closed for one address; healthz 200 throughout")
}

// R-SEC-5, issue 14 item 6: push endpoints that lead off the public
// Internet are refused when subscribing. Only URLs: no traffic is sent.
func TestSSRFTargetsAreRefused(t *testing.T) {
	defer budget(t, time.Now(), time.Minute)
	s := start(t)
	p := s.register(t, "Pusher Pu")
	keys := map[string]string{
		"p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
		"auth":   base64.RawURLEncoding.EncodeToString(make([]byte, 16)),
	}
	targets := []string{
		"http://127.0.0.1:" + strings.Split(s.Addr, ":")[1] + "/api/v1/me", "https://127.0.0.1/", "https://localhost/x", "http://localhost:9200/_all",
		"https://10.0.0.1/", "https://172.16.0.1/", "https://192.168.1.1/", "https://169.254.169.254/latest/meta-data/",
		"https://[::1]/", "https://[fd00:ec2::254]/", "https://[fe80::1]/", "https://100.64.0.1/", "https://0.0.0.0/",
		"https://2130706433/", "https://0x7f000001/", "https://[::ffff:127.0.0.1]/", "https://metadata.google.internal/",
		"http://push.example.com/", "file:///etc/passwd", "gopher://127.0.0.1:25/", "https://user:pass@push.example.com/",
	}
	for _, u := range targets {
		r := s.do(t, p.Token, "PUT", "/api/v1/me/push-subscription", map[string]any{"endpoint": u, "keys": keys})
		if r.Status != 422 || r.code() != "invalid_subscription" {
			t.Errorf("PUT push-subscription %s = %d %s, want 422 invalid_subscription", u, r.Status, r.code())
		}
	}
	t.Logf("SSRF: %d endpoint URLs aimed at loopback, private, link-local, metadata, CGNAT, ULA and non-https targets: all refused", len(targets))
}
