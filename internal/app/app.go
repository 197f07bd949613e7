// Package app wires tkesj together: it reads the configuration, opens the
// store, the key store and the keyring, and serves HTTP until its context ends.
// cmd/tkesj calls it; end-to-end tests call it to run real servers in-process.
package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/bus/inmem"
	"github.com/tkesj/tkesj/internal/bus/natsbus"
	"github.com/tkesj/tkesj/internal/calls"
	"github.com/tkesj/tkesj/internal/connlimit"
	"github.com/tkesj/tkesj/internal/httpapi"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/metrics"
	"github.com/tkesj/tkesj/internal/presence"
	"github.com/tkesj/tkesj/internal/push/webpush"
	"github.com/tkesj/tkesj/internal/realtime"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/sms"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/postgres"
	"github.com/tkesj/tkesj/internal/store/sqlite"
	"github.com/tkesj/tkesj/web"
)

// Config is everything `tkesj serve` can be told. Every flag has an env var.
type Config struct {
	Addr        string // --addr, TKESJ_ADDR
	Data        string // --data, TKESJ_DATA
	Keys        string // --keys, TKESJ_KEYS: key store and master key; empty is beside Data (KeysDir)
	Media       string // --media, TKESJ_MEDIA: empty for Data/media, a directory, or s3://bucket?endpoint=...
	DB          string // --db, TKESJ_DB: empty for SQLite under Data, or a postgres:// URL
	NATS        string // --nats, TKESJ_NATS: empty for in-process delivery, or nats://... to run several nodes
	NATSStream  string // --nats-stream, TKESJ_NATS_STREAM: JetStream stream; its subject is the lower-cased name + ".events"
	SMSWebhook  string // --sms-webhook, TKESJ_SMS_WEBHOOK
	PhoneRegion string // --phone-region, TKESJ_PHONE_REGION
	LogLevel    string // --log-level, TKESJ_LOG_LEVEL
	PushSubject string // --push-subject, TKESJ_PUSH_SUBJECT: the VAPID contact (mailto: or https:)
	TLSCert     string // --tls-cert, TKESJ_TLS_CERT: PEM certificate chain; with --tls-key, serve HTTPS
	TLSKey      string // --tls-key, TKESJ_TLS_KEY
	MasterKey   string // TKESJ_MASTER_KEY only: never a flag, so it stays out of process lists
	KeySchema   string // PostgreSQL schema of the key store; "tkesj_keys" when empty
	Region      string // --region, TKESJ_REGION: where this deployment keeps data (R-XBT-1)
	MetricsAddr string // --metrics-addr, TKESJ_METRICS_ADDR: Prometheus /metrics listener; empty is off
	FriendCap   string // --friend-cap, TKESJ_FRIEND_CAP: most friends one person may have
	// PushAllowHosts (--push-allow-hosts, TKESJ_PUSH_ALLOW_HOSTS) lists, comma
	// separated, push-service hosts ("host" or "host:port") exempt from the
	// rule that push endpoints are public https hosts: for tests that run a
	// push service on loopback. Empty (the default) exempts none (R-SEC-5).
	PushAllowHosts string
	// ConnsPerAddr (--conns-per-addr) bounds the connections one client
	// address (IPv6: one /64) may hold open at once; default 1000.
	// SocketsPerPerson (--sockets-per-person) bounds one person's WebSockets
	// on a node; default 20 (API.md). Both R-SEC-5.
	ConnsPerAddr     string
	SocketsPerPerson string

	TrustedProxies string // --trusted-proxies, TKESJ_TRUSTED_PROXIES: CIDRs whose client-address header is believed
	ProxyHeader    string // --proxy-header, TKESJ_PROXY_HEADER: X-Forwarded-For or Forwarded
	DrainDelay     string // --drain-delay, TKESJ_DRAIN_DELAY: how long /readyz fails before a stopping node closes its listener

	// S3 credentials, from the environment only (never flags, which process
	// lists show): TKESJ_S3_ACCESS_KEY/TKESJ_S3_SECRET_KEY, else AWS_*.
	S3AccessKey, S3SecretKey string

	// Calls (calls.go): the built-in TURN relay, the SFU's ports, ringing.
	TURNAddr        string // --turn-addr, TKESJ_TURN_ADDR: UDP HOST:PORT of the TURN relay; empty is off
	TURNRelayPorts  string // --turn-relay-ports, TKESJ_TURN_RELAY_PORTS: MIN-MAX
	CallPublicIP    string // --call-public-ip, TKESJ_CALL_PUBLIC_IP: the IP clients reach the relay and the SFU at
	SFUPorts        string // --sfu-ports, TKESJ_SFU_PORTS: MIN-MAX UDP ports of the SFU; empty: any
	CallRingTimeout string // --call-ring-timeout, TKESJ_CALL_RING_TIMEOUT: how long a call rings before it is missed
	// CallPushDelay is how long a ringing call waits before pushing to a
	// member whose socket is live but did not ring (0: 2 s); tests set it.
	CallPushDelay time.Duration
	// Console, when set, gets each one-time code as one readable line when
	// no --sms-webhook is set (development); cmd/tkesj sets it to stderr.
	Console io.Writer

	// Service tunes the service; tests shorten its timings.
	Service service.Config
	// HeaderTimeout bounds reading a request's headers (10 s), and
	// BodyIdleTimeout a body's wait for its next byte (30 s, see
	// httpapi.Options); tests shorten them.
	HeaderTimeout, BodyIdleTimeout time.Duration
}

// flagSpec names each flag with its env var, default and help.
type flagSpec struct {
	name, env, def, help string
	dst                  *string
}

func (c *Config) specs() []flagSpec {
	return []flagSpec{
		{"addr", "TKESJ_ADDR", "127.0.0.1:8080", "listen address HOST:PORT", &c.Addr},
		{"data", "TKESJ_DATA", "./tkesj-data", "data directory: SQLite database and media (what you back up)", &c.Data},
		{"keys", "TKESJ_KEYS", "", "key store and master key directory, kept out of data backups; empty is DATA-keys beside --data", &c.Keys},
		{"media", "TKESJ_MEDIA", "", "media store: empty for DATA/media, a directory, or s3://BUCKET?endpoint=HOST:PORT[&region=R&prefix=P&tls=false]", &c.Media},
		{"db", "TKESJ_DB", "", "database URL: empty for the embedded SQLite, or postgres://...", &c.DB},
		{"nats", "TKESJ_NATS", "", "NATS URL (JetStream) carrying events between nodes; empty delivers in-process (one node)", &c.NATS},
		{"nats-stream", "TKESJ_NATS_STREAM", natsbus.DefaultStream, "JetStream stream carrying the events (subject: its name in lower case + .events); several deployments on one NATS need one each", &c.NATSStream},
		{"sms-webhook", "TKESJ_SMS_WEBHOOK", "", `URL that one-time codes are POSTed to as {"phone","code","purpose"}; empty writes them to the log`, &c.SMSWebhook},
		{"phone-region", "TKESJ_PHONE_REGION", "CN", "region for phone numbers written without +", &c.PhoneRegion},
		{"log-level", "TKESJ_LOG_LEVEL", "info", "debug, info, warn or error", &c.LogLevel},
		{"push-subject", "TKESJ_PUSH_SUBJECT", "mailto:operator@tkesj.invalid", "contact the Web Push services may reach the operator at (mailto: or https:)", &c.PushSubject},
		{"tls-cert", "TKESJ_TLS_CERT", "", "PEM certificate (chain) file; with --tls-key, serve HTTPS (TLS 1.2+)", &c.TLSCert},
		{"tls-key", "TKESJ_TLS_KEY", "", "PEM private key file for --tls-cert", &c.TLSKey},
		{"key-schema", "TKESJ_KEY_SCHEMA", "tkesj_keys", "PostgreSQL schema of the key store (kept apart from the data)", &c.KeySchema},
		{"region", "TKESJ_REGION", "CN", "region this deployment keeps data in; recipients elsewhere need cross-border consent", &c.Region},
		{"push-allow-hosts", "TKESJ_PUSH_ALLOW_HOSTS", "", "TESTS ONLY: comma-separated push-service hosts (host or host:port) allowed although not public https; empty allows none", &c.PushAllowHosts},
		{"conns-per-addr", "TKESJ_CONNS_PER_ADDR", "1000", "most connections one client address (an IPv6 /64) may hold open at once", &c.ConnsPerAddr},
		{"sockets-per-person", "TKESJ_SOCKETS_PER_PERSON", "20", "most WebSockets one person may hold open on a node at once", &c.SocketsPerPerson},
		{"metrics-addr", "TKESJ_METRICS_ADDR", "", "listen address HOST:PORT for Prometheus /metrics, apart from the API; empty is off", &c.MetricsAddr},
		{"turn-addr", "TKESJ_TURN_ADDR", "", "UDP listen address HOST:PORT of the built-in TURN relay for calls (e.g. 0.0.0.0:3478); empty is off", &c.TURNAddr},
		{"turn-relay-ports", "TKESJ_TURN_RELAY_PORTS", "49152-65535", "UDP port range MIN-MAX the TURN relay allocates relays from", &c.TURNRelayPorts},
		{"call-public-ip", "TKESJ_CALL_PUBLIC_IP", "", "public IP clients reach the TURN relay and the SFU at (behind NAT); empty: the listen address", &c.CallPublicIP},
		{"sfu-ports", "TKESJ_SFU_PORTS", "", "UDP port range MIN-MAX of the group-call SFU; empty lets the system choose", &c.SFUPorts},
		{"call-ring-timeout", "TKESJ_CALL_RING_TIMEOUT", "45s", "how long a call rings before it counts as missed", &c.CallRingTimeout},
		{"friend-cap", "TKESJ_FRIEND_CAP", "10000", "most friends one person may have (each post is written to every friend's Moments timeline)", &c.FriendCap},
		{"trusted-proxies", "TKESJ_TRUSTED_PROXIES", "", "comma-separated CIDRs of reverse proxies whose client-address header is believed; empty believes none", &c.TrustedProxies},
		{"proxy-header", "TKESJ_PROXY_HEADER", "X-Forwarded-For", "the header the trusted proxies write the client's address in: X-Forwarded-For or Forwarded", &c.ProxyHeader},
		{"drain-delay", "TKESJ_DRAIN_DELAY", "0s", "on SIGTERM, how long /readyz answers 503 before the listener closes (the proxy's health-check interval times its fall count)", &c.DrainDelay},
	}
}

// ParseConfig reads flags from args, falling back to env vars, then defaults.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fset := flag.NewFlagSet("tkesj serve", flag.ContinueOnError)
	fset.SetOutput(stderr)
	for _, s := range c.specs() {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		fset.StringVar(s.dst, s.name, def, s.help+" (env "+s.env+")")
	}
	if err := fset.Parse(args); err != nil {
		return Config{}, err
	}
	if fset.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fset.Args(), " "))
	}
	c.MasterKey = getenv("TKESJ_MASTER_KEY")
	c.S3AccessKey, c.S3SecretKey = getenv("TKESJ_S3_ACCESS_KEY"), getenv("TKESJ_S3_SECRET_KEY")
	if c.S3AccessKey == "" && c.S3SecretKey == "" {
		c.S3AccessKey, c.S3SecretKey = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	}
	c.Service.PhoneRegion = c.PhoneRegion
	c.Service.Region = c.Region
	n, err := strconv.Atoi(c.FriendCap)
	if err != nil || n < 1 {
		return Config{}, fmt.Errorf("--friend-cap must be a whole number of at least 1, not %q", c.FriendCap)
	}
	c.Service.FriendCap = n
	return c, nil
}

// NewLogger returns the JSON logger at the configured level.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// App is an opened tkesj: its store, keys and HTTP handler.
type App struct {
	Handler http.Handler
	Service *service.Service
	Hub     *realtime.Hub
	// Presence is who has a live socket on any node; the push path skips
	// them (issue 17).
	Presence *presence.Presence
	turn     *calls.TURN       // the built-in TURN relay; nil when --turn-addr is empty
	Metrics  *metrics.Registry // served on --metrics-addr (metrics.go)
	db       *store.DB
	keys     keyring.Store
	bus      tkesj.Bus

	proxies  *trustedProxies
	draining atomic.Bool // set on SIGTERM: /readyz answers 503 so the proxy sends nothing new
}

// drainGate answers /readyz with 503 "draining" once the node is stopping,
// so load balancers take it out of rotation before its listener closes.
func (a *App) drainGate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && a.draining.Load() {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"this node is shutting down; other nodes serve","code":"draining"}`+"\n")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Open opens everything Config names, creating the data directory if needed.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	proxies, err := parseTrustedProxies(cfg.TrustedProxies, cfg.ProxyHeader)
	if err != nil {
		return nil, err
	}
	if err := prepareKeysDir(cfg, log); err != nil {
		return nil, err
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	keys, ks, err := OpenKeyring(ctx, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	var sender tkesj.CodeSender = sms.Log{Logger: log, Console: cfg.Console}
	if cfg.SMSWebhook != "" {
		sender = sms.Webhook{URL: cfg.SMSWebhook}
	}
	closeAll := func(more ...interface{ Close() error }) {
		db.Close()
		ks.Close()
		for _, c := range more {
			c.Close()
		}
	}
	blobs, err := openMedia(ctx, cfg)
	if err != nil {
		closeAll()
		return nil, err
	}
	var bus tkesj.Bus = inmem.New(0)
	if cfg.NATS != "" {
		stream, subject := cfg.NATSStream, ""
		if stream != "" && stream != natsbus.DefaultStream {
			subject = strings.ToLower(stream) + ".events"
		}
		if bus, err = natsbus.Open(ctx, cfg.NATS, stream, subject); err != nil {
			closeAll()
			return nil, err
		}
	}
	for _, h := range strings.Split(cfg.PushAllowHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.Service.PushAllowHosts = append(cfg.Service.PushAllowHosts, h)
		}
	}
	cfg.Service.RelayAnnouncements = cfg.NATS == "" // announcements by `tkesj admin` reach this node's sockets (ops.go)
	if cfg.Service.Writers == 0 && isPostgres(cfg.DB) {
		// PostgreSQL commits several transactions at once: two group-commit
		// workers, each conversation's writes through one of them (issue 17),
		// within the pool of 16 connections.
		cfg.Service.Writers = postgresWriters
	}
	callOpts, turn, err := callOptions(cfg, log)
	if err != nil {
		closeAll(bus)
		return nil, err
	}
	svc, err := service.New(ctx, service.Deps{DB: db, Keys: keys, Codes: sender, Bus: bus, Blobs: blobs, Log: log, KeyIDs: dataKeyIDs(ks), Calls: callOpts}, cfg.Service)
	if err != nil {
		turn.Close()
		closeAll(bus)
		return nil, err
	}
	dist, err := fs.Sub(web.Dist, "dist")
	if err != nil {
		dist = nil
	}
	vapid, err := webpush.LoadOrCreateKeys(cfg.Data)
	if err != nil {
		svc.Close()
		closeAll(bus)
		return nil, err
	}
	subject := cfg.PushSubject
	if subject == "" {
		subject = "mailto:operator@tkesj.invalid"
	}
	svc.SetPushProvider(webpush.New(vapid, subject, nil, cfg.Service.PushAllowHosts...))
	svc.Calls.Sweep(ctx)
	perPerson, err := positive(cfg.SocketsPerPerson, realtime.DefaultMaxPerUser)
	if err != nil {
		turn.Close()
		svc.Close()
		closeAll(bus)
		return nil, fmt.Errorf("--sockets-per-person: %w", err)
	}
	// Who is online is shared between nodes over the bus; one node (the
	// in-process bus) has nobody to tell.
	var presenceBus tkesj.Bus
	if cfg.NATS != "" {
		presenceBus = bus
	}
	pres, err := presence.New(presenceBus, presence.Options{Log: log})
	if err != nil {
		turn.Close()
		svc.Close()
		closeAll(bus)
		return nil, err
	}
	svc.SetPresence(pres)
	// Signals carry SDP, larger than chat frames: 64 KiB a frame, still bounded.
	hub, err := realtime.New(bus, svc, log, realtime.Options{MaxPerUser: perPerson, ReadLimit: 64 << 10, Presence: pres.Set})
	if err != nil {
		pres.Close()
		turn.Close()
		svc.Close()
		closeAll(bus)
		return nil, err
	}
	a := &App{Service: svc, Hub: hub, Presence: pres, turn: turn, db: db, keys: ks, bus: bus}
	var observe httpapi.Observer
	a.Metrics, observe = instrument(a)
	a.Handler = httpapi.NewServer(svc, log, httpapi.Options{Web: dist, Realtime: hub, VAPIDPublicKey: vapid.Public, BodyIdleTimeout: cfg.BodyIdleTimeout, Observe: observe})
	a.proxies = proxies
	a.Handler = proxies.wrap(a.drainGate(a.Handler))
	return a, nil
}

// defaultConnsPerAddr is --conns-per-addr's default: room for an office or a
// carrier NAT behind one address, far below a node's file descriptors.
const defaultConnsPerAddr = 1000

// positive reads a count flag: empty is def, anything else a positive integer.
func positive(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive whole number", v)
	}
	return n, nil
}

// postgresWriters is how many group-commit workers a node runs on
// PostgreSQL; SQLite has one writer. Two, not four (issue 17, sixth pass,
// B2 full on one pinned core, two runs each): since a batch's sends are
// one AppendMessages statement, fewer workers make fuller batches, and a
// commit is most of PostgreSQL's CPU at moderate rates. Messages per
// (server+DB) CPU-second at 2,000/s: 4 workers 1,410-1,435, 2: 1,610-1,647,
// 1: 2,008-2,066; at 4,000/s 2,751-2,782, 3,145-3,195, 3,565-3,571. One
// worker is a queue of round trips at the top: it sustained 6,000/s in one
// of four runs that reached it, two workers in two of three (and 7,000/s
// once), four in two of three.
const postgresWriters = 2

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

func openStore(ctx context.Context, cfg Config) (*store.DB, error) {
	switch {
	case isPostgres(cfg.DB):
		return postgres.Open(ctx, cfg.DB, 0)
	case cfg.DB != "":
		return nil, fmt.Errorf("--db must be empty (SQLite) or a postgres:// URL")
	}
	return sqlite.Open(ctx, filepath.Join(cfg.Data, "tkesj.db"), 0)
}

// OpenKeyStore opens where wrapped data keys live: keys.db in the keys
// directory (Config.KeysDir), or the key schema on PostgreSQL. It is apart from the data so
// that backups of the data never carry keys (R-DEL-3).
func OpenKeyStore(ctx context.Context, cfg Config) (keyring.Store, error) {
	if isPostgres(cfg.DB) {
		schema := cfg.KeySchema
		if schema == "" {
			schema = "tkesj_keys"
		}
		return keyring.OpenPostgres(ctx, cfg.DB, schema)
	}
	return keyring.OpenSQLite(filepath.Join(cfg.KeysDir(), "keys.db"))
}

// OpenKeyring loads the master key and opens the keyring over the key store.
func OpenKeyring(ctx context.Context, cfg Config) (*keyring.Keyring, keyring.Store, error) {
	if err := prepareKeysDir(cfg, nil); err != nil {
		return nil, nil, err
	}
	ks, err := OpenKeyStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	// A new master key is made only for an empty key store (a fresh
	// install). When master.key has gone missing but keys sealed under it
	// remain, making a new one would only hide the loss until the first read
	// failed, and lose the chance to restore it (issue 14 item 9).
	if cfg.MasterKey == "" {
		if _, err := os.Stat(filepath.Join(cfg.KeysDir(), "master.key")); errors.Is(err, fs.ErrNotExist) {
			if used, err := keyring.HasKeys(ctx, ks); err != nil || used {
				ks.Close()
				if err == nil {
					err = fmt.Errorf("open keyring: %s is missing but the key store holds keys sealed under it; restore master.key from its backup (or set TKESJ_MASTER_KEY) — a new one would open none of them", filepath.Join(cfg.KeysDir(), "master.key"))
				}
				return nil, nil, err
			}
		}
	}
	master, err := keyring.LoadOrCreateMasterKey(cfg.KeysDir(), cfg.MasterKey)
	if err != nil {
		ks.Close()
		return nil, nil, err
	}
	k, err := keyring.New(master, ks, 0)
	if err != nil {
		ks.Close()
		return nil, nil, err
	}
	return k, ks, nil
}

// Close stops the writer and closes the bus, the store and the key store.
func (a *App) Close() error {
	hubErr := a.Hub.Close()
	a.Presence.Close() // after the hub, whose sockets' ends it publishes
	a.Service.Close()
	a.turn.Close()
	return errors.Join(hubErr, a.bus.Close(), a.db.Close(), a.keys.Close())
}

// Serve opens the app, listens on cfg.Addr and serves until ctx ends. Then
// it drains (README, "Several nodes"): /readyz answers 503 for
// cfg.DrainDelay so a load balancer stops sending new work; the listener
// closes; every WebSocket is closed with 1012 (service restart), which
// clients answer by reconnecting at once, through the balancer, to another
// node; requests in flight finish (up to 10 s); the store closes last.
// ready, when not nil, is told the address once the listener is open.
func Serve(ctx context.Context, cfg Config, log *slog.Logger, ready func(addr string)) error {
	drainDelay, err := parseDrainDelay(cfg.DrainDelay)
	if err != nil {
		return err
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	a, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	perAddr, err := positive(cfg.ConnsPerAddr, defaultConnsPerAddr)
	if err != nil {
		return fmt.Errorf("--conns-per-addr: %w", err)
	}
	inner, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	limited := connlimit.Wrap(inner, perAddr)
	// A trusted proxy carries many people's connections: it is not one
	// client, and limits them itself.
	limited.Exempt = a.proxies.trusted
	ln := &onceCloseListener{Listener: limited}
	var conns connStates
	srv := &http.Server{
		ConnState:         conns.track,
		Handler:           a.Handler,
		ReadHeaderTimeout: cmp.Or(cfg.HeaderTimeout, 10*time.Second),
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// The purger and the operations loop run until a.Close stops every
	// background loop of the service and waits for them.
	a.Service.Start(10 * time.Minute)
	stopMetrics, err := serveMetrics(ctx, cfg.MetricsAddr, a.Metrics, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	log.Info("tkesj listening", "addr", ln.Addr().String(), "store", a.db.Dialect(), "media", mediaKind(cfg))
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	if cfg.TLSCert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		go func() { errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey) }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain_delay", drainDelay.String())
	a.draining.Store(true)
	if drainDelay > 0 {
		t := time.NewTimer(drainDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return err
		}
	}
	// Stop accepting before the sockets are told to go, so that their
	// reconnects find another node. WebSockets are hijacked connections that
	// Shutdown does not wait for: close them (1012), then let requests finish.
	ln.Close()
	a.Hub.Restart()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: requests still running after 10 s (%s): %w", conns.String(), err)
	}
	log.Info("drained: every request finished")
	return nil
}

func parseDrainDelay(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > 5*time.Minute {
		return 0, fmt.Errorf("--drain-delay %q: want a duration from 0s to 5m, such as 2s", s)
	}
	return d, nil
}

func mediaKind(cfg Config) string {
	if isS3(cfg.Media) {
		return "s3"
	}
	return "disk"
}

// connStates counts the server's connections by state, to say what a
// drain that timed out was waiting for.
type connStates struct {
	mu sync.Mutex
	m  map[net.Conn]http.ConnState
}

func (c *connStates) track(conn net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[net.Conn]http.ConnState{}
	}
	if st == http.StateClosed || st == http.StateHijacked {
		delete(c.m, conn)
		return
	}
	c.m[conn] = st
}

func (c *connStates) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := map[http.ConnState]int{}
	for _, st := range c.m {
		n[st]++
	}
	return fmt.Sprintf("%d new, %d active, %d idle connections", n[http.StateNew], n[http.StateActive], n[http.StateIdle])
}

// onceCloseListener lets Serve close the listener before Shutdown does, and
// Shutdown close it again without an error.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
