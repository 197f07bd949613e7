package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tkesj/tkesj/internal/store/storetest"
)

// The cluster an operator runs (README, "Cluster"): three tkesj processes
// (the built binary) on one PostgreSQL database, one NATS stream and one S3
// bucket, behind HAProxy from Debian with the README's configuration. People
// connected to different nodes chat and share pictures; one node is killed
// with SIGKILL mid-stream; its people reconnect through the proxy to the
// others and catch up; every acknowledged message is stored and seen exactly
// once. Then all three nodes are restarted one after another (SIGTERM,
// drain, start) under load, and no request the proxy can retry fails.
//
// It needs PostgreSQL, NATS, an S3-compatible server (TKESJ_TEST_S3_URL) and
// haproxy, which .ci/run provides; outside CI it is skipped without them. It
// takes about a minute here.
func TestThreeNodesBehindAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	deadline := time.Now().Add(3 * time.Minute)
	c := startCluster(t)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	// Four pairs of people; each pair shares a direct chat.
	type pair struct {
		a, b *roamer
		conv string
	}
	var pairs []*pair
	for i := 0; i < 4; i++ {
		a := c.lb.register(t, fmt.Sprintf("Sender %d", i))
		b := c.lb.register(t, fmt.Sprintf("Reader %d", i))
		c.lb.befriend(t, a, b)
		conv := c.lb.direct(t, a, b)
		pairs = append(pairs, &pair{conv: conv, a: c.roam(t, ctx, a, conv), b: c.roam(t, ctx, b, conv)})
	}
	// Readers land on every node (the proxy balances by least connections).
	nodesUsed := map[string]bool{}
	for _, p := range pairs {
		nodesUsed[p.b.waitReady(t, 0).node] = true
		p.a.waitReady(t, 0)
	}
	if len(nodesUsed) < 2 {
		t.Fatalf("readers all landed on %v; the proxy should spread them", nodesUsed)
	}

	// Senders chat and share pictures through the proxy; every message is
	// retried with its client_id until acknowledged, as the web client does.
	var stop atomic.Bool
	var wg sync.WaitGroup
	acked := make([]*ackLog, len(pairs))
	for i, p := range pairs {
		acked[i] = &ackLog{}
		wg.Add(1)
		go func(i int, p *pair) {
			defer wg.Done()
			for n := 0; !stop.Load() && ctx.Err() == nil; n++ {
				kind := "text"
				if n%10 == 0 {
					kind = "image"
				}
				c.sendUntilAcked(t, ctx, p.a.person, p.conv, fmt.Sprintf("m-%d-%d", i, n), kind, acked[i])
			}
		}(i, p)
	}
	waitFor(t, "some traffic", func() bool { return acked[0].len() >= 5 && acked[3].len() >= 5 })
	t.Logf("traffic flows: %d, %d, %d, %d messages acknowledged", acked[0].len(), acked[1].len(), acked[2].len(), acked[3].len())

	// SIGKILL the node that serves the first reader, mid-stream.
	victimName := pairs[0].b.current().node
	victim := c.nodes[victimName]
	affected := []*roamer{}
	for _, p := range pairs {
		for _, r := range []*roamer{p.a, p.b} {
			if r.current().node == victimName {
				affected = append(affected, r)
			}
		}
	}
	ackedBefore := make([]int, len(pairs))
	for i := range pairs {
		ackedBefore[i] = acked[i].len()
	}
	killedAt := time.Now()
	victim.kill(t)
	var reconnects, catchups []time.Duration
	for _, r := range affected {
		s := r.waitReady(t, 1)
		if s.node == victimName {
			t.Errorf("%s reconnected to the killed node", r.person.Username)
		}
		reconnects = append(reconnects, s.readyAt.Sub(killedAt))
		// Caught up: holding every message acknowledged before the kill.
		for i, p := range pairs {
			if p.a != r && p.b != r {
				continue
			}
			want := acked[i].firstN(ackedBefore[i])
			catchups = append(catchups, r.waitHolds(t, want).Sub(s.readyAt))
		}
	}
	t.Logf("SIGKILL of %s with %d sockets on it: reconnect through the proxy %s; catch-up after ready %s",
		victimName, len(affected), spread(reconnects), spread(catchups))

	// Bring it back, then restart all three, one after another, under load.
	victim.start(t)
	c.waitProxySees(t, victimName, true)
	failsBefore := c.failures.Load()
	for _, name := range []string{"n1", "n2", "n3"} {
		n := c.nodes[name]
		n.term(t)
		n.start(t)
		c.waitProxySees(t, name, true)
	}
	rollingFailures := c.failures.Load() - failsBefore
	waitFor(t, "traffic after the rolling restart", func() bool { return acked[0].len() >= ackedBefore[0]+20 })
	stop.Store(true)
	wg.Wait()

	// Every acknowledged message is stored once and reached its reader once.
	for i, p := range pairs {
		all := acked[i].all()
		stored := c.lb.allMessages(t, p.b.person, p.conv)
		seen := map[string]int{}
		for _, m := range stored {
			seen[fmt.Sprint(m["text"])]++
		}
		for _, m := range all {
			if seen[m.text] != 1 {
				t.Errorf("pair %d: acknowledged %q is stored %d times, want once", i, m.text, seen[m.text])
			}
		}
		p.b.waitHolds(t, all)
		if d := p.b.duplicates(); d > 0 {
			t.Errorf("pair %d: the reader got %d messages twice on one socket", i, d)
		}
	}
	total := 0
	for _, a := range acked {
		total += a.len()
	}
	if rollingFailures != 0 {
		t.Errorf("the rolling restart failed %d requests the proxy could retry", rollingFailures)
	}
	t.Logf("%d messages acknowledged (every tenth a picture, fetched by its reader through the proxy), %d pictures checked; %d client-side retries in all, %d during the rolling restart",
		total, c.pictures.Load(), c.retries.Load(), rollingFailures)
	if c.pictures.Load() == 0 {
		t.Error("no picture reached a reader")
	}
}

// cluster is three nodes and the proxy in front of them.
type cluster struct {
	lb       *server // the proxy: every client call goes through it
	nodes    map[string]*proc
	haproxy  *exec.Cmd
	statsURL string
	inbox    *smsInbox
	picture  []byte

	retries  atomic.Int64 // client-side retries of a send or upload
	failures atomic.Int64 // requests that failed at the client (non-2xx or transport)
	pictures atomic.Int64 // pictures a reader fetched

	mu     sync.Mutex
	failed []string // the first failures, for the log
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	natsU := natsURL(t)
	s3URL := os.Getenv("TKESJ_TEST_S3_URL")
	haproxy, _ := exec.LookPath("haproxy")
	if haproxy == "" {
		if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
			haproxy = "/usr/sbin/haproxy"
		}
	}
	if s3URL == "" || haproxy == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must provide TKESJ_TEST_S3_URL (%q) and haproxy (%q); .ci/run does", s3URL, haproxy)
		}
		t.Skip("needs TKESJ_TEST_S3_URL and haproxy")
	}
	dbURL := scaleDatabase(t)
	id := make([]byte, 4)
	rand.Read(id)
	tag := hex.EncodeToString(id)
	stream := "TKESJ_SCALE_" + strings.ToUpper(tag)
	t.Cleanup(func() { deleteNATSStream(t, natsU, stream) })
	s3u, err := url.Parse(s3URL)
	if err != nil || s3u.User == nil {
		t.Fatalf("TKESJ_TEST_S3_URL = %q: want http://ACCESS:SECRET@HOST:PORT", s3URL)
	}
	secret, _ := s3u.User.Password()
	bucket := "tkesj-scale-" + tag
	env := []string{
		"TKESJ_MASTER_KEY=" + newMasterKey(),
		"TKESJ_S3_ACCESS_KEY=" + s3u.User.Username(), "TKESJ_S3_SECRET_KEY=" + secret,
	}
	args := []string{"--db", dbURL, "--nats", natsU, "--nats-stream", stream,
		"--media", "s3://" + bucket + "?endpoint=" + s3u.Host + "&tls=" + fmt.Sprint(s3u.Scheme == "https"),
		"--trusted-proxies", "127.0.0.1/32", "--drain-delay", "2s"}

	c := &cluster{nodes: map[string]*proc{}, inbox: &smsInbox{}, picture: testPicture(t)}
	dir := t.TempDir()
	var servers strings.Builder
	for _, name := range []string{"n1", "n2", "n3"} {
		// The first node creates the schema; the others start beside it.
		p := startProcEnv(t, c.inbox, filepath.Join(dir, name), env, args...)
		c.nodes[name] = p
		fmt.Fprintf(&servers, "    server %s %s\n", name, strings.TrimPrefix(p.URL, "http://"))
	}
	front, stats := freePort(t), freePort(t)
	cfg := fmt.Sprintf(haproxyConfig, front, stats, servers.String())
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxy, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	log := &syncBuffer{}
	c.haproxy = exec.Command(haproxy, "-db", "-f", cfgPath)
	c.haproxy.Stdout, c.haproxy.Stderr = log, log
	if err := c.haproxy.Start(); err != nil {
		t.Fatal(err)
	}
	hp := c.haproxy
	t.Cleanup(func() {
		hp.Process.Kill()
		hp.Wait()
		c.mu.Lock()
		if len(c.failed) > 0 {
			t.Logf("first failed requests:\n%s", strings.Join(c.failed, "\n"))
		}
		c.mu.Unlock()
		if t.Failed() {
			t.Logf("haproxy log:\n%s", tail(log.String()))
			for name, n := range c.nodes {
				t.Logf("%s log:\n%s", name, tail(n.log.String()))
			}
		}
	})
	c.lb = &server{URL: "http://" + front, SMS: c.inbox, Log: log}
	c.statsURL = "http://" + stats + "/stats;csv"
	for name := range c.nodes {
		c.waitProxySees(t, name, true)
	}
	return c
}

// haproxyConfig is the README's HAProxy configuration without TLS, with
// shorter health-check intervals (the nodes drain for 2 s: 2 × 500 ms and a
// margin for a slow check).
const haproxyConfig = `global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client  65s
    timeout server  65s
    timeout tunnel  1h
    timeout http-request 10s
    timeout client-fin 5s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 503
frontend tkesj
    bind %[1]s
    http-request del-header Forwarded
    option forwardfor
    http-response set-header X-Tkesj-Node %%s
    default_backend tkesj
backend tkesj
    http-request disable-l7-retry if METH_POST !{ path_reg ^/api/v1/conversations/[^/]+/messages$ }
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 1
    timeout check 2s
%[3]s
listen stats
    bind %[2]s
    stats enable
    stats uri /stats
`

// waitProxySees waits until HAProxy's health checks have name up (or down).
func (c *cluster) waitProxySees(t *testing.T, name string, up bool) {
	t.Helper()
	want := "UP"
	if !up {
		want = "DOWN"
	}
	waitFor(t, "haproxy to see "+name+" "+want, func() bool {
		resp, err := http.Get(c.statsURL)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ",")
			if len(f) > 17 && f[0] == "tkesj" && f[1] == name {
				return strings.HasPrefix(f[17], want)
			}
		}
		return false
	})
}

// scaleDatabase creates a PostgreSQL database of its own for the test and
// drops it at the end, so parallel tests never share tables or keys.
func scaleDatabase(t *testing.T) string {
	t.Helper()
	base := storetest.PostgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	rand.Read(b)
	name := "tkesj_scale_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		admin.Close()
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

func deleteNATSStream(t *testing.T, natsURL, stream string) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	js.DeleteStream(ctx, stream)
}

// term stops a node as systemd does (SIGTERM) and waits for it to exit.
func (p *proc) term(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("node exited with %v after SIGTERM\n%s", err, tail(p.log.String()))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node did not exit within 30 s of SIGTERM")
	}
}

func testPicture(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(5 * y), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ackedMsg is a message the server acknowledged.
type ackedMsg struct {
	text, id string
	seq      int
}

type ackLog struct {
	mu   sync.Mutex
	msgs []ackedMsg
}

func (l *ackLog) add(m ackedMsg) { l.mu.Lock(); l.msgs = append(l.msgs, m); l.mu.Unlock() }
func (l *ackLog) len() int       { l.mu.Lock(); defer l.mu.Unlock(); return len(l.msgs) }
func (l *ackLog) all() []ackedMsg {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ackedMsg(nil), l.msgs...)
}
func (l *ackLog) firstN(n int) []ackedMsg { return l.all()[:n] }

// scaleClient gives up on a request after 20 s, as a browser would sooner.
var scaleClient = &http.Client{Timeout: 20 * time.Second}

// call makes one request through the proxy, counting failures; it never
// fails the test, so callers can retry as clients do.
func (c *cluster) call(ctx context.Context, token, method, path, contentType string, body []byte) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.lb.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := scaleClient.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			c.fail(fmt.Sprintf("%s %s: %v", method, path, err))
		}
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && ctx.Err() == nil {
		c.fail(fmt.Sprintf("%s %s: %d %.200s", method, path, resp.StatusCode, b))
	}
	return resp.StatusCode, b, resp.Header, err
}

// fail counts a failed request and keeps the first few for the log.
func (c *cluster) fail(what string) {
	c.failures.Add(1)
	c.mu.Lock()
	if len(c.failed) < 20 {
		c.failed = append(c.failed, time.Now().Format("15:04:05.000")+" "+what)
	}
	c.mu.Unlock()
}

// sendUntilAcked sends one message (uploading a picture first for kind
// image), retrying with the same client_id until the server acknowledges it.
func (c *cluster) sendUntilAcked(t *testing.T, ctx context.Context, p person, conv, text, kind string, log *ackLog) {
	body := map[string]any{"client_id": "cid-" + text, "kind": "text", "text": text}
	if kind == "image" {
		for ctx.Err() == nil {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "picture.png")
			fw.Write(c.picture)
			mw.Close()
			st, b, _, err := c.call(ctx, p.Token, "POST", "/api/v1/media", mw.FormDataContentType(), buf.Bytes())
			if err == nil && st == 201 {
				var m map[string]any
				json.Unmarshal(b, &m)
				body = map[string]any{"client_id": "cid-" + text, "kind": "image", "media_id": m["id"], "text": text}
				break
			}
			if refused(st) {
				t.Errorf("upload refused: %d %s", st, b)
				return
			}
			c.retries.Add(1)
		}
	}
	j, _ := json.Marshal(body)
	for ctx.Err() == nil {
		st, b, _, err := c.call(ctx, p.Token, "POST", "/api/v1/conversations/"+conv+"/messages", "application/json", j)
		if err == nil && (st == 201 || st == 200) {
			var m map[string]any
			json.Unmarshal(b, &m)
			seq, _ := m["seq"].(float64)
			log.add(ackedMsg{text: text, id: fmt.Sprint(m["id"]), seq: int(seq)})
			return
		}
		if refused(st) {
			t.Errorf("send refused: %d %s", st, b)
			return
		}
		c.retries.Add(1)
	}
}

// refused reports a 4xx that retrying cannot change.
func refused(status int) bool {
	return status >= 400 && status < 500 && status != 408 && status != 429
}

// session is one WebSocket connection of a roamer.
type session struct {
	node    string
	readyAt time.Time
}

// roamer is a person's client: a socket through the proxy that reconnects
// whenever it is closed and catches up with GET .../messages?after_seq= after
// every ready frame, keeping what it holds by message id.
type roamer struct {
	c      *cluster
	person person
	conv   string

	mu       sync.Mutex
	sessions []session
	held     map[string]bool // message ids
	seqs     map[int]bool    // their seqs
	contig   int             // every seq up to this one is held
	dups     int
	changed  chan struct{}
}

func (c *cluster) roam(t *testing.T, ctx context.Context, p person, conv string) *roamer {
	r := &roamer{c: c, person: p, conv: conv, held: map[string]bool{}, seqs: map[int]bool{}, changed: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	t.Cleanup(func() { <-done })
	return r
}

func (r *roamer) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *roamer) run(ctx context.Context) {
	wsURL := strings.Replace(r.c.lb.URL, "http://", "ws://", 1) + "/api/v1/ws?token=" + r.person.Token
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, resp, err := websocket.Dial(dctx, wsURL, nil)
		cancel()
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		conn.SetReadLimit(1 << 20)
		node := resp.Header.Get("X-Tkesj-Node")
		onSocket := map[string]bool{}
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				break
			}
			var f map[string]any
			if json.Unmarshal(b, &f) != nil {
				continue
			}
			switch f["type"] {
			case "ready":
				at := time.Now()
				r.catchUp(ctx)
				r.mu.Lock()
				r.sessions = append(r.sessions, session{node: node, readyAt: at})
				r.mu.Unlock()
				r.notify()
			case "message":
				if f["conversation_id"] != r.conv {
					continue
				}
				m, _ := f["message"].(map[string]any)
				id := fmt.Sprint(m["id"])
				if onSocket[id] {
					r.mu.Lock()
					r.dups++
					r.mu.Unlock()
				}
				onSocket[id] = true
				r.hold(id, m)
				r.fetchPicture(ctx, m)
				// A gap before it: a message whose frame was lost (its
				// node died between the commit and the publish, and the
				// sender's retry found it stored) is pulled, as the web
				// client does.
				if seq, _ := m["seq"].(float64); int(seq) > r.contiguous()+1 {
					r.catchUp(ctx)
				}
			}
		}
		conn.CloseNow()
	}
}

func (r *roamer) hold(id string, m map[string]any) {
	r.mu.Lock()
	r.held[id] = true
	if s, ok := m["seq"].(float64); ok {
		r.seqs[int(s)] = true
	}
	for r.seqs[r.contig+1] {
		r.contig++
	}
	r.mu.Unlock()
	r.notify()
}

func (r *roamer) contiguous() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.contig
}

// fetchPicture gets an image message's picture through the proxy, from
// whichever node, out of the shared bucket.
func (r *roamer) fetchPicture(ctx context.Context, m map[string]any) {
	if m["kind"] != "image" || m["sender_id"] == r.person.ID {
		return
	}
	id, _ := m["media_id"].(string)
	if id == "" {
		if media, ok := m["media"].(map[string]any); ok {
			id, _ = media["id"].(string)
		}
	}
	if id == "" {
		return
	}
	st, b, h, err := r.c.call(ctx, r.person.Token, "GET", "/api/v1/media/"+id, "", nil)
	if err == nil && st == 200 && len(b) > 0 && strings.HasPrefix(h.Get("Content-Type"), "image/") {
		r.c.pictures.Add(1)
	}
}

func (r *roamer) catchUp(ctx context.Context) {
	for ctx.Err() == nil {
		after := r.contiguous()
		st, b, _, err := r.c.call(ctx, r.person.Token, "GET", fmt.Sprintf("/api/v1/conversations/%s/messages?after_seq=%d&limit=100", r.conv, after), "", nil)
		if err != nil || st != 200 {
			continue
		}
		var page struct {
			Messages []map[string]any `json:"messages"`
		}
		json.Unmarshal(b, &page)
		for _, m := range page.Messages {
			r.hold(fmt.Sprint(m["id"]), m)
		}
		if len(page.Messages) < 100 {
			// Everything after `after` that this person can see is held:
			// a seq still missing below the last is not theirs to see.
			if n := len(page.Messages); n > 0 {
				if s, ok := page.Messages[n-1]["seq"].(float64); ok {
					r.mu.Lock()
					r.contig = max(r.contig, int(s))
					r.mu.Unlock()
				}
			}
			return
		}
	}
}

func (r *roamer) current() session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[len(r.sessions)-1]
}

func (r *roamer) duplicates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dups
}

// waitReady waits for the roamer's session number n (0 is the first).
func (r *roamer) waitReady(t *testing.T, n int) session {
	t.Helper()
	var s session
	waitFor(t, fmt.Sprintf("%s's session %d", r.person.Username, n), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.sessions) > n {
			s = r.sessions[n]
			return true
		}
		return false
	})
	return s
}

// waitHolds waits until the roamer holds every message of want and returns
// when it did.
func (r *roamer) waitHolds(t *testing.T, want []ackedMsg) time.Time {
	t.Helper()
	var missing int
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		missing = 0
		for _, m := range want {
			if !r.held[m.id] {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still missing %d of %d acknowledged messages after 30 s", r.person.Username, missing, len(want))
		}
		select {
		case <-r.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// spread formats durations as "min / median / max".
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "(none)"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("min %s, median %s, max %s (n=%d)", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]), len(s))
}
