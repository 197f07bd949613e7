package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/tkesj/tkesj"
)

// WebSocket tickets let a browser open /api/v1/ws without putting its bearer
// token in the URL, where proxies and server logs keep it: the client POSTs
// for a ticket with its token in the Authorization header, then connects with
// ?ticket=. A ticket is short-lived (Config.WSTicketTTL, 30 s), works once,
// and names its session, so signing out kills it too.
//
// A ticket is "wst_" + base64url(nonce 16 | expiry unix seconds 8 | session
// token hash 32 | MAC 16), the MAC being the keyring's index HMAC over the
// rest, so every node sharing the key store can check it without a database
// write. "Works once" is enforced by the node that redeems it (wsTicketLedger);
// a load balancer spreading one client's attempts over nodes could let a
// stolen ticket be redeemed once per node within its 30 s, each time only
// for the session that asked for it.

const (
	wsTicketPrefix = "wst_"
	wsTicketRaw    = 16 + 8 + 32 + 16
	// maxWSTickets bounds the ledger; a node redeeming more tickets than this
	// within one TTL refuses the rest (clients fall back to retrying).
	maxWSTickets = 100_000
)

var errBadTicket = tkesj.Errorf(tkesj.EUnauthenticated, "unauthenticated", "the WebSocket ticket is missing, used or expired; ask for a new one (POST /api/v1/ws-tickets)")

// wsTicketLedger remembers the nonces of tickets redeemed on this node until
// they expire. The zero value is ready.
type wsTicketLedger struct {
	mu   sync.Mutex
	used map[[16]byte]time.Time
}

// redeem marks nonce used; false when it was already, or the ledger is full.
func (l *wsTicketLedger) redeem(nonce [16]byte, exp, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used == nil {
		l.used = map[[16]byte]time.Time{}
	}
	if _, ok := l.used[nonce]; ok {
		return false
	}
	if len(l.used) >= maxWSTickets/2 {
		for n, e := range l.used {
			if !e.After(now) {
				delete(l.used, n)
			}
		}
	}
	if len(l.used) >= maxWSTickets {
		return false
	}
	l.used[nonce] = exp
	return true
}

func (s *Service) wsTicketMAC(body []byte) []byte {
	return s.keys.Index("ws_ticket", string(body))[:16]
}

// IssueWSTicket returns a ticket for the caller's session and when it expires.
// Any signed-in person may ask, for their own session only.
func (s *Service) IssueWSTicket(ctx context.Context, a Auth) (string, time.Time, error) {
	if len(a.tokenHash) != 32 {
		return "", time.Time{}, errBadToken
	}
	exp := s.now().Add(s.cfg.WSTicketTTL).Truncate(time.Second).Add(time.Second)
	raw := make([]byte, 16, wsTicketRaw)
	rand.Read(raw)
	raw = binary.BigEndian.AppendUint64(raw, uint64(exp.Unix()))
	raw = append(raw, a.tokenHash...)
	raw = append(raw, s.wsTicketMAC(raw)...)
	return wsTicketPrefix + base64.RawURLEncoding.EncodeToString(raw), exp, nil
}

// AuthenticateWSTicket redeems a ticket: the session it names, once, before
// it expires. A forged, used or expired ticket, or one whose session has
// ended, is 401 unauthenticated.
func (s *Service) AuthenticateWSTicket(ctx context.Context, ticket string) (Auth, error) {
	b64, ok := strings.CutPrefix(ticket, wsTicketPrefix)
	if !ok || len(b64) > 2*wsTicketRaw {
		return Auth{}, errBadTicket
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) != wsTicketRaw {
		return Auth{}, errBadTicket
	}
	body, mac := raw[:wsTicketRaw-16], raw[wsTicketRaw-16:]
	if !hmac.Equal(mac, s.wsTicketMAC(body)) {
		return Auth{}, errBadTicket
	}
	now := s.now()
	exp := time.Unix(int64(binary.BigEndian.Uint64(body[16:24])), 0)
	if !now.Before(exp) {
		return Auth{}, errBadTicket
	}
	var nonce [16]byte
	copy(nonce[:], body[:16])
	if !s.wsTickets.redeem(nonce, exp, now) {
		return Auth{}, errBadTicket
	}
	a, err := s.authenticateHash(ctx, body[24:56])
	if tkesj.ErrorKindOf(err) == tkesj.EUnauthenticated {
		return Auth{}, errBadTicket
	}
	return a, err
}
