package calls

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // TURN's REST credentials (draft-uberti-behave-turn-rest) are HMAC-SHA1 by definition
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// TURNConfig places the relay.
type TURNConfig struct {
	// Listen is the UDP address the TURN server listens on, HOST:PORT.
	Listen string
	// PublicIP is the address clients reach the relay at (behind NAT: the
	// public one); empty takes Listen's host.
	PublicIP string
	// MinPort and MaxPort bound the relay ports; zero takes 49152-65535.
	MinPort, MaxPort uint16
}

// TURN is the relay built into the binary (R-CAL-3). It accepts only
// time-limited credentials that this node signed for a participant of a call
// (TURN REST style: username "expiry:call:user", password HMAC-SHA1 of the
// username under a key that never leaves the process), and relays only to
// public addresses or to its own public IP (other relays, the SFU).
type TURN struct {
	server *turn.Server
	conn   net.PacketConn
	secret []byte
	url    string
	public net.IP
	allocs atomic.Int64
	denied atomic.Uint64
}

// NewTURN starts the relay.
func NewTURN(cfg TURNConfig, log *slog.Logger) (*TURN, error) {
	conn, err := net.ListenPacket("udp4", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("turn listen: %w", err)
	}
	la := conn.LocalAddr().(*net.UDPAddr)
	public := la.IP
	if cfg.PublicIP != "" {
		if public = net.ParseIP(cfg.PublicIP); public == nil {
			conn.Close()
			return nil, fmt.Errorf("turn: public IP %q is not an IP address", cfg.PublicIP)
		}
	}
	if public.IsUnspecified() {
		conn.Close()
		return nil, fmt.Errorf("turn: listening on %s needs a public IP (--call-public-ip) to hand to clients", la)
	}
	if cfg.MinPort == 0 {
		cfg.MinPort, cfg.MaxPort = 49152, 65535
	}
	if cfg.MaxPort < cfg.MinPort {
		conn.Close()
		return nil, fmt.Errorf("turn: relay port range %d-%d is empty", cfg.MinPort, cfg.MaxPort)
	}
	t := &TURN{conn: conn, secret: make([]byte, 32), public: public}
	rand.Read(t.secret)
	t.url = "turn:" + net.JoinHostPort(public.String(), strconv.Itoa(la.Port)) + "?transport=udp"
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	t.server, err = turn.NewServer(turn.ServerConfig{
		Realm:         "tkesj",
		LoggerFactory: lf,
		AuthHandler:   t.authenticate,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorPortRange{
				RelayAddress: public, Address: la.IP.String(), MinPort: cfg.MinPort, MaxPort: cfg.MaxPort,
			},
			PermissionHandler: t.permit,
		}},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("turn: %w", err)
	}
	return t, nil
}

// URL is the turn: URL clients are given.
func (t *TURN) URL() string { return t.url }

// Close stops the relay.
// A nil TURN (none configured) closes as a no-op.
func (t *TURN) Close() error {
	if t == nil {
		return nil
	}
	return t.server.Close()
}

// Allocations is how many relays are open now; none on a nil TURN (off).
func (t *TURN) Allocations() int {
	if t == nil {
		return 0
	}
	return t.server.AllocationCount()
}

// Credentials are ice_servers for one participant of one call, valid for ttl.
func (t *TURN) Credentials(userID, callID string, ttl time.Duration) []ICEServer {
	user := strconv.FormatInt(time.Now().Add(ttl).Unix(), 10) + ":" + callID + ":" + userID
	return []ICEServer{{URLs: []string{t.url}, Username: user, Credential: t.password(user)}}
}

func (t *TURN) password(user string) string {
	m := hmac.New(sha1.New, t.secret)
	m.Write([]byte(user))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// authenticate admits a username this node signed that has not expired.
func (t *TURN) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	parts := strings.SplitN(ra.Username, ":", 3)
	if len(parts) != 3 {
		t.denied.Add(1)
		return "", nil, false
	}
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || time.Now().Unix() > exp {
		t.denied.Add(1)
		return "", nil, false
	}
	return parts[2], turn.GenerateAuthKey(ra.Username, ra.Realm, t.password(ra.Username)), true
}

// permit keeps the relay from reaching into the operator's network: peers
// must be public addresses, or the relay's own public IP (another relay or
// the SFU on this host).
func (t *TURN) permit(_ net.Addr, peer net.IP) bool {
	if peer.Equal(t.public) {
		return true
	}
	if peer.IsLoopback() || peer.IsPrivate() || peer.IsLinkLocalUnicast() || peer.IsUnspecified() || peer.IsMulticast() {
		t.denied.Add(1)
		return false
	}
	return true
}

// ParsePortRange reads "MIN-MAX"; empty is 0, 0.
func ParsePortRange(s string) (uint16, uint16, error) {
	if s == "" {
		return 0, 0, nil
	}
	lo, hi, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(lo, 10, 16)
	b, err2 := strconv.ParseUint(hi, 10, 16)
	if !ok || err1 != nil || err2 != nil || a == 0 || b < a {
		return 0, 0, fmt.Errorf("port range %q must be MIN-MAX, 1-65535", s)
	}
	return uint16(a), uint16(b), nil
}
