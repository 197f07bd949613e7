package compliance

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/store"
)

// RetentionStats counts what retention removed since start (metrics).
type RetentionStats struct {
	Codes, Devices, IPsTruncated, FriendRequests, Decisions, OrphanUploads atomic.Int64
}

// truncateIP keeps the network of an address and drops the host part.
func truncateIP(ip string) string {
	p := net.ParseIP(ip)
	if p == nil {
		return ""
	}
	return accounts.NetworkOf(ip)
}

// RunRetention enforces the retention periods once (R-SEC-2). Each category
// is bounded per pass; the next pass carries on.
func (s *Service) RunRetention(ctx context.Context) error {
	now := s.Now()
	r := s.Cfg.Retention
	var n int64
	step := func(what string, counter *atomic.Int64, fn func(q *store.Queries) (int64, error)) error {
		err := s.DB.Update(ctx, func(q *store.Queries) (err error) { n, err = fn(q); return err })
		if err != nil {
			return s.Internal(ctx, "retention "+what, err)
		}
		counter.Add(n)
		return nil
	}
	st := &s.retention
	if err := step("codes", &st.Codes, func(q *store.Queries) (int64, error) { return q.DeleteExpiredCodes(ctx, now) }); err != nil {
		return err
	}
	if err := step("devices", &st.Devices, func(q *store.Queries) (int64, error) { return q.DeleteIdleDevices(ctx, now.Add(-r.DeviceIdle)) }); err != nil {
		return err
	}
	if err := step("friend requests", &st.FriendRequests, func(q *store.Queries) (int64, error) {
		return q.DeleteExpiredFriendRequests(ctx, now.Add(-r.FriendRequests))
	}); err != nil {
		return err
	}
	if err := step("decisions", &st.Decisions, func(q *store.Queries) (int64, error) { return q.DeleteOldDecisions(ctx, now.Add(-r.Decisions)) }); err != nil {
		return err
	}
	orphans, err := s.DB.Read().OrphanMedia(ctx, now.Add(-r.OrphanUploads), 500)
	if err != nil {
		return s.Internal(ctx, "retention uploads", err)
	}
	for _, id := range orphans {
		if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DeleteMedia(ctx, id) }); err != nil {
			return s.Internal(ctx, "retention uploads", err)
		}
		s.Blobs.Delete(ctx, id)
		s.Blobs.Delete(ctx, id+"_t")
		st.OrphanUploads.Add(1)
	}
	devs, err := s.DB.Read().DevicesWithOldIPs(ctx, now.Add(-r.LoginIP), 500)
	if err != nil {
		return s.Internal(ctx, "retention ips", err)
	}
	for _, d := range devs {
		var dev tkesj.Device
		if err := s.Open(ctx, d.UserID, accounts.DeviceAD(d.UserID, d.DeviceIdx), d.Sealed, &dev); err != nil {
			continue // a destroyed person's leftover: the purge removes it
		}
		dev.LoginIP = truncateIP(dev.LoginIP)
		sealed, err := s.Seal(ctx, d.UserID, accounts.DeviceAD(d.UserID, d.DeviceIdx), dev)
		if err != nil {
			return s.Internal(ctx, "retention ips", err)
		}
		if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.SetTruncatedDevice(ctx, d.UserID, d.DeviceIdx, sealed) }); err != nil {
			return s.Internal(ctx, "retention ips", err)
		}
		st.IPsTruncated.Add(1)
	}
	return nil
}

// RetentionCounts reports what retention removed since start.
func (s *Service) RetentionCounts() map[string]int64 {
	st := &s.retention
	return map[string]int64{"codes": st.Codes.Load(), "devices": st.Devices.Load(), "login_ips_truncated": st.IPsTruncated.Load(),
		"friend_requests": st.FriendRequests.Load(), "decisions": st.Decisions.Load(), "orphan_uploads": st.OrphanUploads.Load()}
}
