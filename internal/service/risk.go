package service

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Risk control for logins (R-DEV-3). Failed logins are counted per account
// and per network address: after a few, each further try must wait twice as
// long as the last (growing delays); enough failures lock the account for a
// while. Every restriction is recorded as a decision the person can read and
// appeal (R-ADM-1). Counters are per node and in memory; locks are in the
// store, so every node honours them.
const (
	freeFailures   = 5                // failures before delays start
	maxDelay       = 5 * time.Minute  // the longest delay between tries
	failureWindow  = 15 * time.Minute // failures older than this are forgotten
	ipFreeFailures = 100              // an address shared by many people (NAT, a test runner) gets more room
)

type failures struct {
	mu    sync.Mutex
	count map[string]*failure
}

type failure struct {
	n    int
	last time.Time
}

func newFailures() *failures { return &failures{count: map[string]*failure{}} }

// wait returns how long key must still wait before another try.
func (f *failures) wait(key string, free int, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := f.count[key]
	if x == nil || now.Sub(x.last) > failureWindow || x.n < free {
		return 0
	}
	d := time.Second << min(x.n-free, 9)
	d = min(d, maxDelay)
	return x.last.Add(d).Sub(now)
}

// fail counts a failure and returns how many there are in the window.
func (f *failures) fail(key string, now time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := f.count[key]
	if x == nil || now.Sub(x.last) > failureWindow {
		if len(f.count) > 100_000 {
			clear(f.count) // a hard bound on memory; a flood loses its own history
		}
		x = &failure{}
		f.count[key] = x
	}
	x.n++
	x.last = now
	return x.n
}

func (f *failures) reset(key string) {
	f.mu.Lock()
	delete(f.count, key)
	f.mu.Unlock()
}

// networkOf is the network an address belongs to: its /24 (IPv4) or /48 (IPv6).
func networkOf(ip string) string {
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
	return s.keys.Index("network", userID+"\x00"+networkOf(ip))
}

// beforePassword refuses a login attempt that must wait or whose account is
// locked. rec is the account, when the login names one.
func (s *Service) beforePassword(ctx context.Context, rec *store.UserRecord, key, ip string) error {
	now := s.now()
	if rec != nil {
		if until, err := s.db.Read().LockedUntil(ctx, rec.ID); err == nil && now.Before(until) {
			e := tkesj.Errorf(tkesj.EForbidden, "account_locked", "too many failed logins: this account is locked until %s UTC; log in with a one-time code instead, or wait", until.Format("15:04"))
			e.RetryAfter = until.Sub(now)
			return e
		}
	}
	wait := max(s.fails.wait(key, freeFailures, now), s.fails.wait("ip:"+ip, ipFreeFailures, now))
	if wait <= 0 {
		return nil
	}
	if rec != nil {
		s.RecordDecision(ctx, rec.ID, "login_throttle", fmt.Sprintf("logins paused for %d s", int(wait.Seconds()+0.999)),
			"several wrong passwords in a row: each further try must wait longer, which stops password guessing",
			map[string]string{"network": networkOf(ip)})
	}
	return rateLimited(wait, "failed logins")
}

// afterFailure counts a wrong password and locks the account after LockAfter
// failures in the window.
func (s *Service) afterFailure(ctx context.Context, rec *store.UserRecord, key, ip string) {
	now := s.now()
	s.fails.fail("ip:"+ip, now)
	n := s.fails.fail(key, now)
	if rec == nil || n < s.cfg.LockAfter {
		return
	}
	until := now.Add(s.cfg.LockFor)
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.LockUntil(ctx, rec.ID, until) }); err != nil {
		s.log.WarnContext(ctx, "lock account", "err", err.Error())
		return
	}
	s.fails.reset(key)
	s.RecordDecision(ctx, rec.ID, "login_lock", "password logins locked until "+until.Format(time.RFC3339),
		fmt.Sprintf("%d wrong passwords within %s: password logins are locked for %s; a one-time code still works", n, failureWindow, s.cfg.LockFor),
		map[string]string{"failures": fmt.Sprint(n), "network": networkOf(ip)})
	s.publish(ctx, []string{rec.ID}, wire.SecurityFrame{Type: "security", Event: "account_locked", Until: until.Format(time.RFC3339)})
}

// stepUp decides whether a password login needs a one-time code too: a device
// the account has never used, on a network it has never used. It sends the
// code and refuses until the login comes back with it.
func (s *Service) stepUp(ctx context.Context, u tkesj.User, dev tkesj.Device, code string) error {
	q := s.db.Read()
	knownDevice, err := q.KnownDevice(ctx, u.ID, s.deviceIdx(u.ID, dev.ID))
	if err != nil {
		return s.internal(ctx, "step up", err)
	}
	knownNetwork, err := q.KnownNetwork(ctx, u.ID, s.networkIdx(u.ID, dev.LoginIP))
	if err != nil {
		return s.internal(ctx, "step up", err)
	}
	if knownDevice || knownNetwork {
		return nil
	}
	if code != "" {
		if err := s.consumeCode(ctx, u.Phone, tkesj.PurposeStepUp, code); err != nil {
			return errBadCredentials
		}
		return nil
	}
	if ok, _ := s.codesPerPhone.Allow(u.Phone); ok {
		if err := s.issueCode(ctx, u.Phone, tkesj.PurposeStepUp, tkesj.PurposeStepUp); err != nil {
			return err
		}
	}
	s.RecordDecision(ctx, u.ID, "login_step_up", "a one-time code was required",
		"a login from a device and a network this account has never used: to make sure it is you, a code was sent to your phone",
		map[string]string{"device_model": dev.Model, "device_os": dev.OS, "network": networkOf(dev.LoginIP)})
	return tkesj.Errorf(tkesj.EForbidden, "step_up_required",
		"this login comes from a new device on a new network: we sent a code to your phone; log in again with it as step_up_code")
}

// afterLogin remembers the network and tells the person's other devices
// about a login from a device they had not used before.
func (s *Service) afterLogin(ctx context.Context, q *store.Queries, u tkesj.User, dev tkesj.Device, newDevice bool) error {
	if err := q.RememberNetwork(ctx, u.ID, s.networkIdx(u.ID, dev.LoginIP), s.now()); err != nil {
		return err
	}
	if newDevice {
		s.publish(ctx, []string{u.ID}, wire.SecurityFrame{Type: "security", Event: "new_login",
			Device: &wire.SecurityDevice{Model: dev.Model, OS: dev.OS, AppVersion: dev.AppVersion}, At: s.now().Format(time.RFC3339)})
	}
	return nil
}
