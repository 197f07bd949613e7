package accounts

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Risk control for logins (R-DEV-3). Failed passwords are counted per
// account per network, per account over every network, and per network, in
// the database (store.HitThrottle): every node counts the same tries and a
// restart forgets none (issue 14 item 3, issue 18).
//
// What a stranger can do to an owner is bounded, as Apple and Signal bound
// it: guessing from one network slows, then locks, password logins from that
// network only; guessing from many networks locks password logins from
// networks the account has never used, never from the owner's own. A
// one-time code to the phone always works and clears the counters, and the
// answers are the same whether or not the login names an account: 401
// invalid_credentials, then 429 rate_limited with Retry-After (issue 14
// items 2 and 3).
const (
	freeFailures   = 5                // failures before delays start
	maxDelay       = 5 * time.Minute  // the longest delay between tries
	failureWindow  = 15 * time.Minute // failures older than this are forgotten
	ipFreeFailures = 100              // an address shared by many people (NAT, a test runner) gets more room
	globalLockMul  = 5                // LockAfter times this, over every network, locks unknown networks out
)

// throttleKey names a counter: kind and an opaque index of its subject, so
// the table holds no phone number, login or address in clear.
func (s *Service) throttleKey(kind, subject string) string {
	return kind + ":" + hex.EncodeToString(s.Keys.Index("throttle", kind+"\x00"+subject)[:16])
}

// failuresOf reads a counter: how many failures, and the last one. The
// empty key is a counter that is not kept: always 0.
func (s *Service) failuresOf(ctx context.Context, key string) (int, time.Time) {
	if key == "" {
		return 0, time.Time{}
	}
	n, last, err := s.DB.Read().Throttle(ctx, key, s.Now())
	if err != nil {
		s.Log.WarnContext(ctx, "read throttle", "err", err.Error())
	}
	return n, last
}

// fail counts one failure under key and returns the count in the window.
func (s *Service) fail(ctx context.Context, key string) int {
	if key == "" {
		return 0
	}
	var n int
	err := s.DB.Update(ctx, func(q *store.Queries) (err error) {
		n, _, err = q.HitThrottle(ctx, key, s.Now(), failureWindow, true)
		return err
	})
	if err != nil {
		s.Log.WarnContext(ctx, "count failure", "err", err.Error())
	}
	return n
}

func (s *Service) clearFailures(ctx context.Context, keys ...string) {
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		for _, k := range keys {
			if k == "" {
				continue
			}
			if err := q.ResetThrottle(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.Log.WarnContext(ctx, "clear failures", "err", err.Error())
	}
}

// delayAfter is how long after the last of n failures the next try waits.
func delayAfter(n, free int) time.Duration {
	if n < free {
		return 0
	}
	return min(time.Second<<min(n-free, 9), maxDelay)
}

// guessKeys are the counters of secret tries on account (a user id, or for
// a login that names no account the login itself) from ip: per account on
// ip's network, per account over all networks, per network. Tries of
// one-time codes, which burn after five wrong tries and are rate limited per
// phone, keep no account-wide counter, so strangers can never lock codes out.
type guessKeys struct{ local, global, network string }

func (s *Service) guessKeys(account, ip string) guessKeys {
	k := guessKeys{local: s.throttleKey("pw", account+"\x00"+NetworkOf(ip))}
	if !strings.HasPrefix(account, "code\x00") {
		k.global = s.throttleKey("pw", account)
	}
	if ip != "" {
		k.network = s.throttleKey("net", NetworkOf(ip))
	}
	return k
}

// passwordWait says how long a password try on account from ip must wait,
// and whether that is a lock rather than a delay. knownNetwork is whether
// the account has logged in from ip's network before.
func (s *Service) passwordWait(ctx context.Context, k guessKeys, knownNetwork bool) (time.Duration, bool) {
	now := s.Now()
	n, last := s.failuresOf(ctx, k.local)
	locked := n >= s.Cfg.LockAfter
	wait := last.Add(delayAfter(n, freeFailures)).Sub(now)
	if locked {
		wait = last.Add(s.Cfg.LockFor).Sub(now)
	}
	if !knownNetwork {
		if g, glast := s.failuresOf(ctx, k.global); g >= globalLockMul*s.Cfg.LockAfter {
			if w := glast.Add(s.Cfg.LockFor).Sub(now); w > wait {
				wait, locked = w, true
			}
		}
	}
	if nn, nlast := s.failuresOf(ctx, k.network); nn > 0 {
		wait = max(wait, nlast.Add(delayAfter(nn, ipFreeFailures)).Sub(now))
	}
	return wait, locked && wait > 0
}

// beforePassword refuses a password try that must wait. rec is the account
// when the login names one; the answer does not depend on it.
func (s *Service) beforePassword(ctx context.Context, rec *store.UserRecord, account, ip string) error {
	known := false
	if rec != nil {
		known, _ = s.DB.Read().KnownNetwork(ctx, rec.ID, s.networkIdx(rec.ID, ip))
	}
	wait, locked := s.passwordWait(ctx, s.guessKeys(account, ip), known)
	if wait <= 0 {
		return nil
	}
	if rec != nil && !locked {
		s.RecordDecision(ctx, rec.ID, "login_throttle", fmt.Sprintf("logins paused for %d s", int(wait.Seconds()+0.999)),
			"several wrong passwords in a row: each further try must wait longer, which stops password guessing",
			map[string]string{"network": NetworkOf(ip)})
	}
	return RateLimited(wait, "failed logins")
}

// afterFailure counts a wrong password on account from ip. When the count
// reaches LockAfter, password tries from that network lock for LockFor; the
// owner is told, with a decision they can appeal, that a code still works.
func (s *Service) afterFailure(ctx context.Context, rec *store.UserRecord, account, ip string) {
	k := s.guessKeys(account, ip)
	s.fail(ctx, k.network)
	s.fail(ctx, k.global)
	n := s.fail(ctx, k.local)
	if rec == nil || n != s.Cfg.LockAfter {
		return
	}
	until := s.Now().Add(s.Cfg.LockFor)
	s.RecordDecision(ctx, rec.ID, "login_lock", "password logins from one network paused until "+until.Format(time.RFC3339),
		fmt.Sprintf("%d wrong passwords within %s from the network %s: password logins from it are paused for %s; a one-time code to your phone still works, and so does your password from networks you have used", n, failureWindow, NetworkOf(ip), s.Cfg.LockFor),
		map[string]string{"failures": fmt.Sprint(n), "network": NetworkOf(ip)})
	s.Publish(ctx, []string{rec.ID}, wire.SecurityFrame{Type: "security", Event: "account_locked", Until: until.Format(time.RFC3339)})
}

// afterSuccess clears the counters of account: the owner proved who they are.
func (s *Service) afterSuccess(ctx context.Context, account, ip string) {
	k := s.guessKeys(account, ip)
	s.clearFailures(ctx, k.local, k.global)
}

// CheckReverification throttles a signed-in person's password guesses when
// they confirm a sensitive change (PUT /me/password, DELETE /me) with the
// same counters as logins (issue 14 item 8): a stolen session can't be used
// to guess the password at full speed.
func (s *Service) CheckReverification(ctx context.Context, a kernel.Auth, hash, password string) error {
	const ip = "" // one count per account, wherever the session is
	rec := &store.UserRecord{ID: a.UserID}
	if err := s.beforePassword(ctx, rec, "user\x00"+a.UserID, ip); err != nil {
		return err
	}
	ok, err := s.Hasher.Verify(ctx, password, hash)
	if err != nil {
		return s.Internal(ctx, "reverify", err)
	}
	if !ok {
		s.afterFailure(ctx, rec, "user\x00"+a.UserID, ip)
		return tkesj.Errorf(tkesj.EForbidden, "reverification_failed", "the password is wrong")
	}
	s.afterSuccess(ctx, "user\x00"+a.UserID, ip)
	return nil
}

// NetworkOf is the network an address belongs to: its /24 (IPv4) or /48 (IPv6).
func NetworkOf(ip string) string {
	p := net.ParseIP(ip)
	switch {
	case p == nil:
		return ip
	case p.To4() != nil:
		return p.Mask(net.CIDRMask(24, 32)).String()
	}
	return p.Mask(net.CIDRMask(48, 128)).String()
}

func (s *Service) networkIdx(userID, ip string) []byte {
	return s.Keys.Index("network", userID+"\x00"+NetworkOf(ip))
}

// stepUp decides whether a password login needs a one-time code too: a device
// the account has never used, on a network it has never used. It sends the
// code and refuses until the login comes back with it.
func (s *Service) stepUp(ctx context.Context, u tkesj.User, dev tkesj.Device, code string) error {
	q := s.DB.Read()
	knownDevice, err := q.KnownDevice(ctx, u.ID, s.deviceIdx(u.ID, dev.ID))
	if err != nil {
		return s.Internal(ctx, "step up", err)
	}
	knownNetwork, err := q.KnownNetwork(ctx, u.ID, s.networkIdx(u.ID, dev.LoginIP))
	if err != nil {
		return s.Internal(ctx, "step up", err)
	}
	if knownDevice || knownNetwork {
		return nil
	}
	if code != "" {
		if err := s.ConsumeCode(ctx, u.Phone, tkesj.PurposeStepUp, code); err != nil {
			return errBadCredentials
		}
		return nil
	}
	if s.CodeQuota(ctx, u.Phone, dev.LoginIP) == nil {
		if err := s.IssueCode(ctx, u.Phone, tkesj.PurposeStepUp, tkesj.PurposeStepUp); err != nil {
			return err
		}
	}
	s.RecordDecision(ctx, u.ID, "login_step_up", "a one-time code was required",
		"a login from a device and a network this account has never used: to make sure it is you, a code was sent to your phone",
		map[string]string{"device_model": dev.Model, "device_os": dev.OS, "network": NetworkOf(dev.LoginIP)})
	return tkesj.Errorf(tkesj.EForbidden, "step_up_required",
		"this login comes from a new device on a new network: we sent a code to your phone; log in again with it as step_up_code")
}

// afterLogin remembers the network and tells the person's other devices
// about a login from a device they had not used before.
func (s *Service) afterLogin(ctx context.Context, q *store.Queries, u tkesj.User, dev tkesj.Device, newDevice bool) error {
	if err := q.RememberNetwork(ctx, u.ID, s.networkIdx(u.ID, dev.LoginIP), s.Now()); err != nil {
		return err
	}
	if newDevice {
		s.Publish(ctx, []string{u.ID}, wire.SecurityFrame{Type: "security", Event: "new_login",
			Device: &wire.SecurityDevice{Model: dev.Model, OS: dev.OS, AppVersion: dev.AppVersion}, At: s.Now().Format(time.RFC3339)})
	}
	return nil
}
