package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// user is a seeded, signed-in person.
type user struct {
	ID, Token string
}

// httpClient keeps enough idle loopback connections for open-loop load.
var httpClient = &http.Client{
	Transport: &http.Transport{
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     60 * time.Second,
	},
	Timeout: 60 * time.Second,
}

// call sends one API request and returns the status and body.
func call(ctx context.Context, s *server, token, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// callJSON calls and decodes a JSON answer, failing unless status is want.
func callJSON(ctx context.Context, s *server, token, method, path string, body any, want int, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	st, b, err := call(ctx, s, token, method, path, raw)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if st != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, st, want, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// benchIDs numbers the messages the bench sends; the number and the
// scheduled send time travel in the client_id, so a receiver can compute the
// latency without asking anyone.
var benchIDs atomic.Int64

func clientID(id int64, sched time.Time) string {
	return "b" + strconv.FormatInt(id, 10) + "-" + strconv.FormatInt(sched.UnixNano(), 10)
}

func parseClientID(s string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, "b")
	if !ok {
		return 0, false
	}
	idPart, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(idPart, 10, 64)
	return id, err == nil
}

// sendText posts a text message with a bench client_id; it reports whether
// the server stored it (201).
func sendText(ctx context.Context, s *server, token, conv string, id int64, sched time.Time) bool {
	body := fmt.Sprintf(`{"client_id":%q,"kind":"text","text":"bench message %d: the quick brown fox"}`, clientID(id, sched), id)
	st, _, err := call(ctx, s, token, "POST", "/api/v1/conversations/"+conv+"/messages", []byte(body))
	return err == nil && st == 201
}

// frame is what the bench reads of a server frame.
type frame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Message        struct {
		ClientID string `json:"client_id"`
		SenderID string `json:"sender_id"`
		Seq      int64  `json:"seq"`
	} `json:"message"`
}

// wsConn is one client WebSocket, read by its own goroutine.
type wsConn struct {
	c       *websocket.Conn
	user    string
	ready   []byte
	answers sync.Map // request frame id -> chan []byte (b2ws.go)
}

// deliveryFunc is told of every message frame from someone else.
type deliveryFunc func(id int64, at time.Time)

// dialWS opens an authenticated WebSocket and waits for its ready frame;
// message frames from others whose client_id is a bench id go to onMsg.
func dialWS(ctx context.Context, s *server, u user, onMsg *atomic.Pointer[deliveryFunc]) (*wsConn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, s.ws+"?token="+u.Token, &websocket.DialOptions{HTTPClient: wsHTTP})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	w := &wsConn{c: c, user: u.ID}
	_, first, err := c.Read(dctx)
	if err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("read ready frame: %w", err)
	}
	w.ready = first
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				w.abandon()
				return
			}
			at := time.Now()
			if w.answered(b) {
				continue
			}
			if onMsg == nil || !bytes.Contains(b, []byte(`"message"`)) {
				continue
			}
			var f frame
			if json.Unmarshal(b, &f) != nil || f.Type != "message" || f.Message.SenderID == u.ID {
				continue
			}
			if id, ok := parseClientID(f.Message.ClientID); ok {
				if fn := onMsg.Load(); fn != nil {
					(*fn)(id, at)
				}
			}
		}
	}()
	return w, nil
}

// wsHTTP dials WebSockets without sharing the API client's pool.
var wsHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}

// dialAll opens one WebSocket per user, conc at a time.
func dialAll(ctx context.Context, s *server, users []user, conc int, onMsg *atomic.Pointer[deliveryFunc]) ([]*wsConn, error) {
	out := make([]*wsConn, len(users))
	errs := make(chan error, len(users))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, u := range users {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := dialWS(ctx, s, u, onMsg)
			if err != nil {
				errs <- err
				return
			}
			out[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		closeAll(out)
		return nil, fmt.Errorf("open WebSockets: %w", err)
	}
	return out, nil
}

func closeAll(cs []*wsConn) {
	for _, c := range cs {
		if c != nil {
			c.c.CloseNow()
		}
	}
}

// tracker matches deliveries to sends.
type tracker struct {
	mu         sync.Mutex
	pending    map[int64]*pend
	perDeliv   []time.Duration // every delivery: delivery time - scheduled send time
	perMessage []time.Duration // per message, when its last expected delivery came
	deliveries int64
	complete   int64
	expected   int64
}

type pend struct {
	sched     time.Time
	want, got int
}

func newTracker() *tracker { return &tracker{pending: map[int64]*pend{}} }

func (t *tracker) expect(id int64, sched time.Time, want int) {
	t.mu.Lock()
	t.pending[id] = &pend{sched: sched, want: want}
	t.expected += int64(want)
	t.mu.Unlock()
}

// forget drops a send that failed.
func (t *tracker) forget(id int64) {
	t.mu.Lock()
	if p := t.pending[id]; p != nil {
		t.expected -= int64(p.want - p.got)
		delete(t.pending, id)
	}
	t.mu.Unlock()
}

func (t *tracker) deliver(id int64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pending[id]
	if p == nil {
		return
	}
	lat := at.Sub(p.sched)
	t.perDeliv = append(t.perDeliv, lat)
	t.deliveries++
	p.got++
	if p.got == p.want {
		t.perMessage = append(t.perMessage, lat)
		t.complete++
		delete(t.pending, id)
	}
}

func (t *tracker) outstanding() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.expected - t.deliveries
}

// drain waits until every expected delivery came, or max passed.
func (t *tracker) drain(ctx context.Context, max time.Duration) {
	deadline := time.Now().Add(max)
	for t.outstanding() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// loopStats is what an open loop did.
type loopStats struct {
	Scheduled, OK, Failed, Overflow int
	Window                          time.Duration // the scheduled span: count / rate
	Elapsed                         time.Duration // until the last send finished
}

// openLoop schedules rate*dur sends at fixed intervals from now. Each due
// send runs fire in its own goroutine with its scheduled time; at most
// maxInFlight run at once, and a send that falls due while that many are
// outstanding is not sent but counted as overflow (the generator never
// waits for the server, so it cannot hide latency). It returns once every
// started send has finished.
func openLoop(ctx context.Context, rate float64, dur time.Duration, maxInFlight int, fire func(i int, sched time.Time) bool) loopStats {
	n := int(rate * dur.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	st := loopStats{Scheduled: n, Window: time.Duration(n) * interval}
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sched := start.Add(time.Duration(i) * interval)
		if d := time.Until(sched); d > 0 {
			time.Sleep(d)
		}
		select {
		case sem <- struct{}{}:
		default:
			st.Overflow++
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if fire(i, sched) {
				ok.Add(1)
			} else {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	st.OK, st.Failed = int(ok.Load()), int(failed.Load())
	return st
}

// summarize sorts samples and returns their percentiles in milliseconds.
func summarize(name string, samples []time.Duration) Latency {
	l := Latency{Name: name, Count: len(samples)}
	if len(samples) == 0 {
		return l
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1 // nearest rank
		i = max(0, min(len(s)-1, i))
		return ms(s[i])
	}
	l.P50, l.P90, l.P99, l.P999, l.Max = at(0.50), at(0.90), at(0.99), at(0.999), ms(s[len(s)-1])
	return l
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
