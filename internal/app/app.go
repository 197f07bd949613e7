// Package app wires tkesj together: it reads the configuration, opens the
// store, the key store and the keyring, and serves HTTP until its context ends.
// cmd/tkesj calls it; end-to-end tests call it to run real servers in-process.
package app

import (
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
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/bus/inmem"
	"github.com/tkesj/tkesj/internal/bus/natsbus"
	"github.com/tkesj/tkesj/internal/calls"
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
	// PushAllowHosts (--push-allow-hosts, TKESJ_PUSH_ALLOW_HOSTS) lists, comma
	// separated, push-service hosts ("host" or "host:port") exempt from the
	// rule that push endpoints are public https hosts: for tests that run a
	// push service on loopback. Empty (the default) exempts none (R-SEC-5).
	PushAllowHosts string

	// Calls (calls.go): the built-in TURN relay, the SFU's ports, ringing.
	TURNAddr        string // --turn-addr, TKESJ_TURN_ADDR: UDP HOST:PORT of the TURN relay; empty is off
	TURNRelayPorts  string // --turn-relay-ports, TKESJ_TURN_RELAY_PORTS: MIN-MAX
	CallPublicIP    string // --call-public-ip, TKESJ_CALL_PUBLIC_IP: the IP clients reach the relay and the SFU at
	SFUPorts        string // --sfu-ports, TKESJ_SFU_PORTS: MIN-MAX UDP ports of the SFU; empty: any
	CallRingTimeout string // --call-ring-timeout, TKESJ_CALL_RING_TIMEOUT: how long a call rings before it is missed

	// Service tunes the service; tests shorten its timings.
	Service service.Config
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
		{"metrics-addr", "TKESJ_METRICS_ADDR", "", "listen address HOST:PORT for Prometheus /metrics, apart from the API; empty is off", &c.MetricsAddr},
		{"turn-addr", "TKESJ_TURN_ADDR", "", "UDP listen address HOST:PORT of the built-in TURN relay for calls (e.g. 0.0.0.0:3478); empty is off", &c.TURNAddr},
		{"turn-relay-ports", "TKESJ_TURN_RELAY_PORTS", "49152-65535", "UDP port range MIN-MAX the TURN relay allocates relays from", &c.TURNRelayPorts},
		{"call-public-ip", "TKESJ_CALL_PUBLIC_IP", "", "public IP clients reach the TURN relay and the SFU at (behind NAT); empty: the listen address", &c.CallPublicIP},
		{"sfu-ports", "TKESJ_SFU_PORTS", "", "UDP port range MIN-MAX of the group-call SFU; empty lets the system choose", &c.SFUPorts},
		{"call-ring-timeout", "TKESJ_CALL_RING_TIMEOUT", "45s", "how long a call rings before it counts as missed", &c.CallRingTimeout},
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
	Calls   *calls.Service
	turn    *calls.TURN
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
	cs, turn, err := openCalls(cfg, svc, db, bus, log)
	if err != nil {
		svc.Close()
		closeAll(bus)
		return nil, err
	}
	cs.Sweep(ctx)
	// Signals carry SDP, larger than chat frames: 64 KiB a frame, still bounded.
	hub, err := realtime.New(bus, frameRouter{svc: svc, calls: cs}, log, realtime.Options{ReadLimit: 64 << 10})
	if err != nil {
		cs.Close()
		svc.Close()
		closeAll(bus)
		return nil, err
	}
	h := httpapi.NewServer(svc, log, httpapi.Options{Web: dist, Realtime: hub, VAPIDPublicKey: vapid.Public, Calls: cs})
	a := &App{Service: svc, Hub: hub, Calls: cs, turn: turn, db: db, keys: ks, bus: bus}
	a.Metrics, a.Handler = instrument(a, h, log)
	return a, nil
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
	a.Calls.Close()
	if a.turn != nil {
		a.turn.Close()
	}
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
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
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
