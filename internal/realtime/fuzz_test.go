package realtime_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tkesj/tkesj/internal/realtime"
)

// users numbers the people fuzz iterations connect as, so that sockets a
// hub is still closing never count against the next iteration's cap.
var users atomic.Int64

// FuzzRawFrames (issue 14) writes arbitrary bytes as WebSocket frames, after
// a proper upgrade, into a live hub: the frame decoder and the hub must
// neither panic nor hang, and must go on serving others.
func FuzzRawFrames(f *testing.F) {
	r := newRig(f, realtime.Options{}, nil)
	addr := strings.TrimPrefix(r.srv.URL, "http://")
	for _, seed := range [][]byte{
		{0x81, 0x80, 1, 2, 3, 4},                                     // an empty masked text frame
		{0x81, 0x85, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'},            // "hello", masked with zeros
		{0x89, 0x80, 0, 0, 0, 0},                                     // a ping
		{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8},                         // a close
		{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // a 2^63-byte length
		{0x01, 0x80, 0, 0, 0, 0, 0x80, 0x80, 0, 0, 0, 0},             // fragmented
		{0x82, 0x80, 0, 0, 0, 0},                                     // binary
		{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'},                        // unmasked, which clients may not send
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, frames []byte) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("GET /ws?user=" + fmt.Sprint("fuzz", users.Add(1)) + "&device=01 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade = %v, %v", resp, err)
		}
		c.Write(frames)
		// Whatever happens to this connection, it ends within the deadline
		// or stays usable; the hub must still serve someone else at once.
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		br.Discard(1 << 16)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		other, _, err := websocket.Dial(ctx, r.url("other", "02"), nil)
		if err != nil {
			t.Fatalf("the hub no longer serves others: %v", err)
		}
		other.CloseNow()
	})
}

// FuzzTextFrames sends arbitrary text frames, properly framed, to the hub's
// handler path: each gets at most error frames back, and the connection
// goes on answering pings.
func FuzzTextFrames(f *testing.F) {
	r := newRig(f, realtime.Options{FramesPerSec: 1000}, nil)
	for _, s := range []string{`{"type":"ping"}`, `{"type":"ack","conversation_id":"c","seq":1}`, `{`, `[]`, `null`, "\x00", `{"type":"` + strings.Repeat("a", 9000) + `"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, frame string) {
		c := r.connect(t, fmt.Sprint("text", users.Add(1)), "01")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			return // closed for a frame over the read limit: allowed
		}
		c.CloseNow()
	})
}
