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
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/bus/inmem"
	"github.com/tkesj/tkesj/internal/bus/natsbus"
	"github.com/tkesj/tkesj/internal/connlimit"
	"github.com/tkesj/tkesj/internal/httpapi"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/media/disk"
	"github.com/tkesj/tkesj/internal/metrics"
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
	DB          string // --db, TKESJ_DB: empty for SQLite under Data, or a postgres:// URL
	NATS        string // --nats, TKESJ_NATS: empty for in-process delivery, or nats://... to run several nodes
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
		{"data", "TKESJ_DATA", "./tkesj-data", "data directory: SQLite database, key store, media", &c.Data},
		{"db", "TKESJ_DB", "", "database URL: empty for the embedded SQLite, or postgres://...", &c.DB},
		{"nats", "TKESJ_NATS", "", "NATS URL (JetStream) carrying events between nodes; empty delivers in-process (one node)", &c.NATS},
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
		{"friend-cap", "TKESJ_FRIEND_CAP", "10000", "most friends one person may have (each post is written to every friend's Moments timeline)", &c.FriendCap},
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
	c.Service.PhoneRegion = c.PhoneRegion
	c.Service.Region = c.Region
	if n, err := strconv.Atoi(c.FriendCap); err != nil || n < 1 {
		return Config{}, fmt.Errorf("--friend-cap must be a whole number of at least 1, not %q", c.FriendCap)
	} else {
		c.Service.FriendCap = n
	}
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
	Metrics *metrics.Registry // served on --metrics-addr (metrics.go)
	db      *store.DB
	keys    keyring.Store
	bus     tkesj.Bus
}

// Open opens everything Config names, creating the data directory if needed.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
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
	var sender tkesj.CodeSender = sms.Log{Logger: log}
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
	blobs, err := disk.Open(filepath.Join(cfg.Data, "media"))
	if err != nil {
		closeAll()
		return nil, err
	}
	var bus tkesj.Bus = inmem.New(0)
	if cfg.NATS != "" {
		if bus, err = natsbus.Open(ctx, cfg.NATS, "", ""); err != nil {
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
	svc, err := service.New(ctx, service.Deps{DB: db, Keys: keys, Codes: sender, Bus: bus, Blobs: blobs, Log: log, KeyIDs: dataKeyIDs(ks)}, cfg.Service)
	if err != nil {
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
	perPerson, err := positive(cfg.SocketsPerPerson, realtime.DefaultMaxPerUser)
	if err != nil {
		svc.Close()
		closeAll(bus)
		return nil, fmt.Errorf("--sockets-per-person: %w", err)
	}
	hub, err := realtime.New(bus, svc, log, realtime.Options{MaxPerUser: perPerson})
	if err != nil {
		svc.Close()
		closeAll(bus)
		return nil, err
	}
	h := httpapi.NewServer(svc, log, httpapi.Options{Web: dist, Realtime: hub, VAPIDPublicKey: vapid.Public, BodyIdleTimeout: cfg.BodyIdleTimeout})
	a := &App{Service: svc, Hub: hub, db: db, keys: ks, bus: bus}
	a.Metrics, a.Handler = instrument(a, h, log)
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

// OpenKeyStore opens where wrapped data keys live: keys.db in the data
// directory, or the key schema on PostgreSQL. It is apart from the data so
// that backups of the data never carry keys (R-DEL-3).
func OpenKeyStore(ctx context.Context, cfg Config) (keyring.Store, error) {
	if isPostgres(cfg.DB) {
		schema := cfg.KeySchema
		if schema == "" {
			schema = "tkesj_keys"
		}
		return keyring.OpenPostgres(ctx, cfg.DB, schema)
	}
	return keyring.OpenSQLite(filepath.Join(cfg.Data, "keys.db"))
}

// OpenKeyring loads the master key and opens the keyring over the key store.
func OpenKeyring(ctx context.Context, cfg Config) (*keyring.Keyring, keyring.Store, error) {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create data dir: %w", err)
	}
	master, err := keyring.LoadOrCreateMasterKey(cfg.Data, cfg.MasterKey)
	if err != nil {
		return nil, nil, err
	}
	ks, err := OpenKeyStore(ctx, cfg)
	if err != nil {
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
	a.Service.Close()
	return errors.Join(hubErr, a.bus.Close(), a.db.Close(), a.keys.Close())
}

// Serve opens the app, listens on cfg.Addr and serves until ctx ends; then it
// lets in-flight requests finish (up to 10 s) and closes the store. ready, when
// not nil, is told the address once the listener is open.
func Serve(ctx context.Context, cfg Config, log *slog.Logger, ready func(addr string)) error {
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
	ln := connlimit.Wrap(inner, perAddr)
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: cmp.Or(cfg.HeaderTimeout, 10*time.Second),
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	purgeCtx, stopPurger := context.WithCancel(context.WithoutCancel(ctx))
	purgerDone := make(chan struct{})
	go func() { defer close(purgerDone); a.Service.RunPurger(purgeCtx, 10*time.Minute) }()
	defer func() { stopPurger(); <-purgerDone }()
	opsDone := make(chan struct{})
	go func() { defer close(opsDone); a.Service.RunOps(purgeCtx, 10*time.Minute) }()
	defer func() { stopPurger(); <-opsDone }()
	stopMetrics, err := serveMetrics(ctx, cfg.MetricsAddr, a.Metrics, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	log.Info("tkesj listening", "addr", ln.Addr().String(), "store", a.db.Dialect())
	if ready != nil {
		ready(ln.Addr().String())
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		ln.Close()
		return errors.New("--tls-cert and --tls-key go together")
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
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// WebSockets are hijacked connections that Shutdown does not wait for:
	// close them first (1001 going away), then let requests finish.
	a.Hub.Close()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
