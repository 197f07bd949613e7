package compliance

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// purgeBatch bounds one purge transaction of compliance's own (closed
// tickets), so it never holds the writer long enough to stall chat.
const purgeBatch = 500

// PurgeStats says what a purge pass removed.
type PurgeStats struct {
	Accounts      int   // accounts finished
	Bodies        int64 // message bodies emptied
	Media         int   // media files deleted
	RestoredGhost int   // accounts found in restored data whose key is gone
	TimelineRefs  int64 // Moments timeline references removed (either side)
}

// add counts n items a registered purge removed under metric.
func (st *PurgeStats) add(metric string, n int64) {
	switch metric {
	case "bodies":
		st.Bodies += n
	case "media":
		st.Media += int(n)
	case "timeline_refs":
		st.TimelineRefs += n
	}
}

// Purge finishes the destruction of accounts (R-DEL-2, R-DEL-3): first any
// account row whose data key no longer exists (data restored from a backup
// taken before its destruction) is removed and queued; then every queued
// account's message bodies and media are deleted in bounded batches. It is
// idempotent and resumable: a crash part-way leaves the queue entry, and the
// next pass carries on.
func (s *Service) Purge(ctx context.Context) (PurgeStats, error) {
	var st PurgeStats
	after := ""
	for {
		ids, err := s.DB.Read().UserIDs(ctx, after, 1000)
		if err != nil {
			return st, s.Internal(ctx, "purge scan", err)
		}
		if len(ids) == 0 {
			break
		}
		for _, id := range ids {
			ok, err := s.Keys.Exists(ctx, id)
			if err != nil {
				return st, s.Internal(ctx, "purge scan", err)
			}
			if ok {
				continue
			}
			st.RestoredGhost++
			err = s.DB.Update(ctx, func(q *store.Queries) error {
				if _, err := q.DeleteUser(ctx, id); err != nil {
					return err
				}
				return q.EnqueuePurge(ctx, id, s.Now())
			})
			if err != nil {
				return st, s.Internal(ctx, "purge ghost", err)
			}
		}
		after = ids[len(ids)-1]
	}
	queue, err := s.DB.Read().Purges(ctx, 1000)
	if err != nil {
		return st, s.Internal(ctx, "purge queue", err)
	}
	for _, id := range queue {
		// Purges of ids only go first, hold or not (Erase.PurgeDespiteHold).
		if err := s.runPurges(ctx, id, true, &st); err != nil {
			return st, err
		}
		// A legal hold (R-LEG-1) on the person, or on a conversation they
		// wrote in, pauses their purge: the entry stays queued and the next
		// pass after the release carries on. Destruction itself already
		// ended their sessions and visibility.
		if held, err := s.heldFromPurge(ctx, id); err != nil {
			return st, s.Internal(ctx, "purge hold", err)
		} else if held {
			continue
		}
		// No hold (any more): a key kept for one is shredded now.
		if err := s.Keys.Destroy(ctx, heldKeyID(id)); err != nil {
			return st, s.Internal(ctx, "purge held key", err)
		}
		// Every capability's deferred erasure, from the registry, in bounded
		// batches: message bodies (with their search tokens), uploads.
		if err := s.runPurges(ctx, id, false, &st); err != nil {
			return st, err
		}
		if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DonePurge(ctx, id) }); err != nil {
			return st, s.Internal(ctx, "purge done", err)
		}
		st.Accounts++
	}
	return st, nil
}

// runPurges runs the registered purges of one destroyed account: those that
// run despite a legal hold, or the others.
func (s *Service) runPurges(ctx context.Context, id string, despiteHold bool, st *PurgeStats) error {
	for _, d := range s.Personal.All() {
		if d.Erase.Purge == nil || d.Erase.PurgeDespiteHold != despiteHold {
			continue
		}
		for {
			n, more, err := d.Erase.Purge(ctx, id)
			if err != nil {
				return s.Internal(ctx, "purge "+d.Name, err)
			}
			st.add(d.Erase.PurgeMetric, n)
			if !more {
				break
			}
			if err := sleepCtx(ctx, time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RunPurger enforces retention and purges destroyed accounts at start, then
// whenever an account is destroyed (or every interval), until ctx ends.
func (s *Service) RunPurger(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.RunRetention(ctx); err != nil && ctx.Err() == nil {
			s.Log.WarnContext(ctx, "retention", "err", err.Error())
		}
		// Throttle counters whose window ended are dead: drop them.
		if err := s.DB.Update(ctx, func(q *store.Queries) error { _, err := q.PurgeThrottles(ctx, s.Now()); return err }); err != nil && ctx.Err() == nil {
			s.Log.WarnContext(ctx, "purge throttles", "err", err.Error())
		}
		if st, err := s.Purge(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.Log.WarnContext(ctx, "purge", "err", err.Error())
		} else if st.Accounts > 0 || st.RestoredGhost > 0 {
			s.Log.InfoContext(ctx, "purged destroyed accounts", "accounts", st.Accounts, "bodies", st.Bodies, "media", st.Media, "from_restore", st.RestoredGhost)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.purgeNow:
		}
	}
}
