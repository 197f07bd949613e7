package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make and drop schemas and count rows
	_ "modernc.org/sqlite"             // the "sqlite" driver, to read the SQLite file read-only

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/metrics"
	"github.com/tkesj/tkesj/internal/service"
)

// bench is one run.
type bench struct {
	o    Options
	sz   size
	root string
	sms  *http.Server
	smsU string
	seq  int
}

// startSMSSink runs the local no-op SMS gateway the servers are pointed at.
func (b *bench) startSMSSink() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.sms = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 5 * time.Second}
	go b.sms.Serve(ln)
	b.smsU = "http://" + ln.Addr().String() + "/sms"
	return nil
}

// instance is one scenario's store: a data directory and, on PostgreSQL,
// a data schema and a key schema.
type instance struct {
	b        *bench
	cfg      app.Config
	schemas  []string
	seeder   *app.App
	srv      *server
	password string
	appName  string // application_name of the server's PostgreSQL connections
}

const benchPassword = "Bench-pa55-word"

// newInstance prepares a fresh store for a scenario and opens it for seeding.
func (b *bench) newInstance(ctx context.Context, name string) (*instance, error) {
	b.seq++
	dir := filepath.Join(b.root, fmt.Sprintf("%02d-%s", b.seq, name))
	cfg := app.Config{Data: dir, SMSWebhook: b.smsU, PhoneRegion: "CN", LogLevel: "info"}
	cfg.Service.PhoneRegion = "CN"
	in := &instance{b: b, password: benchPassword}
	if b.o.DB != "" {
		admin, err := sql.Open("pgx", b.o.DB)
		if err != nil {
			return nil, err
		}
		defer admin.Close()
		for i := 0; i < 2; i++ {
			r := make([]byte, 5)
			rand.Read(r)
			s := "bench_" + hex.EncodeToString(r)
			if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+s); err != nil {
				in.dropSchemas()
				return nil, fmt.Errorf("create schema: %w", err)
			}
			in.schemas = append(in.schemas, s)
		}
		u, err := url.Parse(b.o.DB)
		if err != nil {
			in.dropSchemas()
			return nil, err
		}
		q := u.Query()
		q.Set("search_path", in.schemas[0])
		// Every connection of the server (its store and its key store)
		// names the instance, so the bench finds the PostgreSQL backends
		// that serve it and reads their CPU (dbCPU).
		in.appName = "tkesj_" + in.schemas[0]
		q.Set("application_name", in.appName)
		u.RawQuery = q.Encode()
		cfg.DB, cfg.KeySchema = u.String(), in.schemas[1]
	}
	in.cfg = cfg
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		in.dropSchemas()
		return nil, err
	}
	in.seeder = a
	return in, nil
}

// svc is the seeding service; it is there until start.
func (in *instance) svc() *service.Service { return in.seeder.Service }

// seedUsers makes n signed-in accounts.
func (in *instance) seedUsers(ctx context.Context, n int, prefix string, phoneBase int) ([]user, error) {
	us, err := in.svc().SeedUsers(ctx, n, prefix, phoneBase, in.password)
	if err != nil {
		return nil, fmt.Errorf("seed users: %w", err)
	}
	out := make([]user, len(us))
	for i, u := range us {
		out[i] = user{ID: u.ID, Token: u.Token}
	}
	return out, nil
}

// directs seeds each pair's friendship and opens their direct chat through
// the service, as the API would; it returns the chat ids.
func (in *instance) directs(ctx context.Context, pairs [][2]user) ([]string, error) {
	ids := make([][2]string, len(pairs))
	for i, p := range pairs {
		ids[i] = [2]string{p[0].ID, p[1].ID}
	}
	if err := in.svc().SeedFriends(ctx, ids); err != nil {
		return nil, fmt.Errorf("seed friends: %w", err)
	}
	convs := make([]string, len(pairs))
	for i, p := range pairs {
		c, _, err := in.svc().CreateDirect(ctx, service.Auth{UserID: p[0].ID}, p[1].ID)
		if err != nil {
			return nil, fmt.Errorf("create direct chat: %w", err)
		}
		convs[i] = c.ID
	}
	return convs, nil
}

// start closes the seeding store and starts the server on it.
func (in *instance) start(ctx context.Context) (*server, error) {
	if in.seeder != nil {
		if err := in.seeder.Close(); err != nil {
			return nil, fmt.Errorf("close seeded store: %w", err)
		}
		in.seeder = nil
	}
	s, err := in.b.startServer(ctx, in.cfg)
	if err != nil {
		return nil, err
	}
	if in.appName != "" {
		admin, err := sql.Open("pgx", in.b.o.DB)
		if err != nil {
			s.stop()
			return nil, err
		}
		admin.SetMaxOpenConns(1)
		s.db = &dbProcs{admin: admin, appName: in.appName}
	}
	in.srv = s
	return s, nil
}

// close stops the server and removes the schemas (unless --keep).
func (in *instance) close() {
	if in.seeder != nil {
		in.seeder.Close()
		in.seeder = nil
	}
	if in.srv != nil {
		in.srv.stop()
		in.srv = nil
	}
	if !in.b.o.Keep {
		in.dropSchemas()
		os.RemoveAll(in.cfg.Data)
	}
}

func (in *instance) dropSchemas() {
	if len(in.schemas) == 0 {
		return
	}
	admin, err := sql.Open("pgx", in.b.o.DB)
	if err != nil {
		return
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, s := range in.schemas {
		admin.ExecContext(ctx, `DROP SCHEMA `+s+` CASCADE`)
	}
	in.schemas = nil
}

// readDB opens the store read-only for counting rows: the SQLite file with
// mode=ro, or the data schema on PostgreSQL.
func (in *instance) readDB() (*sql.DB, func(string) string, error) {
	if in.cfg.DB != "" {
		// The bench's own reads are not the server's: another name keeps
		// their backend out of dbCPU.
		u, err := url.Parse(in.cfg.DB)
		if err != nil {
			return nil, nil, err
		}
		q := u.Query()
		q.Set("application_name", "tkesj_bench_reader")
		u.RawQuery = q.Encode()
		db, err := sql.Open("pgx", u.String())
		return db, func(q string) string { return strings.Replace(q, "?", "$1", 1) }, err
	}
	path := filepath.Join(in.cfg.Data, "tkesj.db")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	return db, func(q string) string { return q }, nil
}

// countRows runs a one-argument COUNT query on the read-only store.
func (in *instance) countRows(ctx context.Context, query string, arg any) (int64, error) {
	c, err := in.counter()
	if err != nil {
		return 0, err
	}
	defer c.close()
	return c.count(ctx, query, arg)
}

// rowCounter keeps one read-only connection to the store for polling: a
// connection opened per poll (the schema parsed again each time) cost the
// load generator's core more than the query, and the B2-style load sharing
// that core then measured the poller, not the server.
type rowCounter struct {
	db   *sql.DB
	bind func(string) string
}

func (in *instance) counter() (*rowCounter, error) {
	db, bind, err := in.readDB()
	if err != nil {
		return nil, err
	}
	return &rowCounter{db: db, bind: bind}, nil
}

func (c *rowCounter) count(ctx context.Context, query string, arg any) (int64, error) {
	var n int64
	err := c.db.QueryRowContext(ctx, c.bind(query), arg).Scan(&n)
	return n, err
}

func (c *rowCounter) close() { c.db.Close() }

// server is a running `tkesj serve` child process.
type server struct {
	cmd  *exec.Cmd
	pid  int
	base string // http://127.0.0.1:port
	// metrics is the server's /metrics URL (its own loopback port).
	metrics string
	ws      string // ws://127.0.0.1:port/api/v1/ws
	log     *os.File
	done    chan error
	db      *dbProcs // its PostgreSQL backends; nil on SQLite
}

// dbProcs finds the PostgreSQL backends that serve one server: those whose
// connection carries its application_name (pg_stat_activity), which
// /proc then gives the CPU of. The database must run on this machine.
type dbProcs struct {
	admin   *sql.DB
	appName string
}

// dbCPU is the CPU time (user+system, in seconds) the PostgreSQL backends
// serving the server have used so far; -1 on SQLite or when they cannot be
// read. Take it before and after a step: a backend that opened during the
// step counts whole (it did all its work in it), one that exited during it
// is missed — the server's pools are bounded and keep their connections
// (store: 16, key store: 8, kept idle), so in a step there are next to
// none. PostgreSQL's shared processes (checkpointer, WAL writer, ...) serve
// every database on the cluster and are not counted.
func (s *server) dbCPU(ctx context.Context) float64 {
	if s.db == nil {
		return -1
	}
	rows, err := s.db.admin.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, s.db.appName)
	if err != nil {
		return -1
	}
	defer rows.Close()
	total := 0.0
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return -1
		}
		st, err := readProc(pid)
		if err != nil {
			continue // it exited since
		}
		total += st.CPU
	}
	if rows.Err() != nil {
		return -1
	}
	return total
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer runs `tkesj serve` on cfg's store at a free loopback port and
// waits until /healthz answers.
func (b *bench) startServer(ctx context.Context, cfg app.Config) (*server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	maddr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{}, b.o.ServerCommand...)
	// Every simulated client connects from 127.0.0.1: the per-address cap
	// that keeps one address from using up a node's descriptors (1000 by
	// default) would stop B1 and full-size B2 at their thousandth socket.
	args = append(args, "--addr", addr, "--data", cfg.Data, "--sms-webhook", cfg.SMSWebhook, "--conns-per-addr", "1000000", "--metrics-addr", maddr)
	if cfg.DB != "" {
		args = append(args, "--db", cfg.DB, "--key-schema", cfg.KeySchema)
	}
	if b.o.ServerCPUs != "" {
		if path, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{path, "-c", b.o.ServerCPUs}, args...)
		} else {
			fmt.Fprintln(b.o.Log, "bench: taskset not found; --server-cpus ignored")
		}
	}
	logf, err := os.Create(filepath.Join(cfg.Data, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), b.o.ServerEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &server{cmd: cmd, pid: cmd.Process.Pid, base: "http://" + addr, ws: "ws://" + addr + "/api/v1/ws", metrics: "http://" + maddr + "/metrics", log: logf, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			logf.Close()
			return nil, fmt.Errorf("server exited at start (%v): %s", err, tail(logf.Name()))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server not healthy within 60 s: %s", tail(logf.Name()))
		}
	}
}

// stop asks the server to stop (SIGTERM) and kills it after 20 s.
func (s *server) stop() {
	if s.db != nil {
		s.db.admin.Close()
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// metricsText is one scrape of the server's /metrics; nil when it could
// not be read. A step reads it once before and once after, and takes its
// counters and histograms from those two.
type metricsText []string

func (s *server) scrape() metricsText {
	resp, err := http.Get(s.metrics)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil
	}
	return strings.Split(string(b), "\n")
}

// counter is the unlabeled sample name; -1 when it is missing.
func (m metricsText) counter(name string) float64 {
	if v, ok := metrics.Sample(m, name); ok {
		return v
	}
	return -1
}

// buckets is the histogram name: its cumulative counts by upper bound (le,
// +Inf as math.Inf(1)); nil when the scrape failed. labels, when given, are
// the series' other labels as /metrics writes them before le
// (`route="…",`); series whose labels are among them are summed.
func (m metricsText) buckets(name string, labels ...string) map[float64]float64 {
	if m == nil {
		return nil
	}
	out := map[float64]float64{}
	if len(labels) == 0 {
		labels = []string{""}
	}
	for _, l := range m {
		var rest string
		ok := false
		for _, lb := range labels {
			if rest, ok = strings.CutPrefix(l, name+`_bucket{`+lb+`le="`); ok {
				break
			}
		}
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		bound, err1 := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		n, err2 := strconv.ParseFloat(strings.TrimSpace(count), 64)
		if err1 == nil && err2 == nil {
			out[bound] += n
		}
	}
	return out
}

// quantileBound is the upper bound (in the histogram's unit) of the bucket
// that holds quantile q of what was observed between the cumulative
// counts before and after; 0 when nothing was.
func quantileBound(before, after map[float64]float64, q float64) float64 {
	bounds := make([]float64, 0, len(after))
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 {
		return 0
	}
	total := after[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	if total <= 0 {
		return 0
	}
	for _, b := range bounds {
		if after[b]-before[b] >= q*total {
			return b
		}
	}
	return bounds[len(bounds)-1]
}

// p99ms is quantileBound's 99th percentile of a histogram in seconds, in
// ms; -1 when it is past the last bound (JSON has no infinity); 0 when
// either scrape failed.
func p99ms(before, after map[float64]float64) float64 {
	if before == nil || after == nil {
		return 0
	}
	v := quantileBound(before, after, 0.99)
	if math.IsInf(v, 1) {
		return -1
	}
	return v * 1000
}

// procStat is a process's CPU time (user+system) and resident memory.
type procStat struct {
	CPU    float64 // seconds
	RSSKiB int64
}

// clockTicks is USER_HZ, which is 100 on every Linux the kernel ABI allows.
const clockTicks = 100

func readProc(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name may hold spaces; the fields after it start at ") ".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return st, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	st.CPU = float64(ut+stt) / clockTicks
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &st.RSSKiB)
		}
	}
	return st, nil
}

// quietPercent is the share of one core under which a server counts as
// idle (its periodic work only) for quiesce.
const quietPercent = 10

// quiesce waits the least time and then until the server used under
// quietPercent of a core over a quarter of a second (its backlog done),
// or until most has passed, and answers how long it waited.
func (s *server) quiesce(ctx context.Context, least, most time.Duration) time.Duration {
	start := time.Now()
	const window = 250 * time.Millisecond
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	if !sleep(least) {
		return time.Since(start)
	}
	for time.Since(start) < most {
		before := s.stat().CPU
		if !sleep(window) {
			break
		}
		if used := s.stat().CPU - before; used < window.Seconds()*quietPercent/100 {
			break
		}
	}
	return time.Since(start)
}

// selfCPU is the load generator's own CPU time in seconds.
func selfCPU() float64 {
	st, _ := readProc(os.Getpid())
	return st.CPU
}

func (s *server) stat() procStat {
	st, _ := readProc(s.pid)
	return st
}

// rssSampler records the highest RSS seen every 5 ms until stopped.
func (s *server) rssSampler() (stop func() int64) {
	quit := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var max int64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if st, err := readProc(s.pid); err == nil && st.RSSKiB > max {
				max = st.RSSKiB
			}
			select {
			case <-quit:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(quit); return <-peak }
}

// raiseFileLimit lifts the soft open-files limit to the hard one and returns it.
func raiseFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	return l.Cur
}
