package wsnet_test

import (
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/wsnet"
)

// FuzzFrames writes arbitrary bytes as client frames after a proper
// upgrade, in poll mode: the server must neither panic nor hang, must end
// the connection or keep it usable, and must go on serving others.
func FuzzFrames(f *testing.F) {
	r := newRig(f, modes[0], wsnet.Options{ReadLimit: 1024, CloseTimeout: 100 * time.Millisecond})
	for _, seed := range [][]byte{
		text("hello"),
		frame(false, 0x1, []byte("he"), key),
		append(frame(false, 0x1, []byte("he"), key), frame(true, 0x0, []byte("llo"), key)...),
		frame(true, 0x9, []byte("ping"), key),
		frame(true, 0x8, []byte{0x03, 0xe8}, key),
		{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		frame(true, 0x1, []byte{0xff}, key),
		frame(true, 0x1, []byte("unmasked"), nil),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := dialRaw(t, r, nil)
		e := r.handler(t)
		r.conn(t)
		c.Write(b)
		c.Write(text("probe"))
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		buf := make([]byte, 1<<16)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
		e.end(t) // every connection ends, whatever it was sent
		other := dialRaw(t, r, text("other"))
		r.handler(t)
		r.conn(t)
		if _, p := other.next(t); string(p) != "other" {
			t.Fatalf("another client got %q, want its echo", p)
		}
		other.Close()
	})
}
