package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// B2ws: B2's ramp with every message sent over the sender's WebSocket as a
// send frame and stored once its sent frame comes back (issue 17), so the
// two can be compared: the same pairs, rates, steps and measures, only the
// transport of the send differs.
func (b *bench) b2ws(ctx context.Context) *Result {
	r := &Result{Name: "B2ws", Title: "one-to-one messages sent over the WebSocket, B2's ramp"}
	r = b.directRamp(ctx, r, "b2ws", overWebSocket, "sent frame")
	r.note("each person's sends go over their one socket, which the server answers one frame at a time in order, within its 20 frames a second (burst 40): above ~20 × the number of people a second, a step fails on rate_limited answers, not on CPU")
	return r
}

// sendTimeout bounds the wait for a send frame's answer, as httpClient's
// Timeout bounds B2's POST.
const sendTimeout = 60 * time.Second

// overWebSocket sends as a send frame on the sender's own socket.
func overWebSocket(_ *server, users []user, conns []*wsConn) sender {
	by := make(map[string]*wsConn, len(users))
	for i, u := range users {
		by[u.ID] = conns[i]
	}
	return func(ctx context.Context, from user, conv string, id int64, sched time.Time) bool {
		w := by[from.ID]
		return w != nil && w.sendText(ctx, conv, id, sched)
	}
}

// sendText sends sendText's message as a send frame and reports whether
// the answer was a sent frame (the message stored).
func (w *wsConn) sendText(ctx context.Context, conv string, id int64, sched time.Time) bool {
	fid := "f" + strconv.FormatInt(id, 10)
	frame := fmt.Sprintf(`{"type":"send","id":%q,"conversation_id":%q,"client_id":%q,"kind":"text","text":"bench message %d: the quick brown fox"}`,
		fid, conv, clientID(id, sched), id)
	ch := make(chan []byte, 1)
	w.answers.Store(fid, ch)
	defer w.answers.Delete(fid)
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		return false
	}
	select {
	case a := <-ch:
		return bytes.HasPrefix(a, []byte(`{"type":"sent"`)) // nil: the socket closed
	case <-ctx.Done():
		return false
	}
}

// answered hands a sent or error frame that answers one of w's send frames
// to its sender, and reports whether b was such a frame.
func (w *wsConn) answered(b []byte) bool {
	if !bytes.HasPrefix(b, []byte(`{"type":"sent"`)) && !bytes.HasPrefix(b, []byte(`{"type":"error"`)) {
		return false
	}
	var f struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &f) != nil || f.ID == "" {
		return false
	}
	if ch, ok := w.answers.Load(f.ID); ok {
		select {
		case ch.(chan []byte) <- b: // buffered: one answer per id
		default:
		}
	}
	return true
}

// abandon ends the wait of every send frame on w, whose socket has closed.
func (w *wsConn) abandon() {
	w.answers.Range(func(_, ch any) bool {
		select {
		case ch.(chan []byte) <- nil:
		default:
		}
		return true
	})
}
