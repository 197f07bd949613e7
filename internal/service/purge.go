package service

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// purgeBatch bounds one purge transaction, so a large account never holds
// the writer long enough to stall chat (R-DEL-2).
const purgeBatch = 500

// PurgeStats says what a purge pass removed.
type PurgeStats struct {
	Accounts      int   // accounts finished
	Bodies        int64 // message bodies emptied
	Media         int   // media files deleted
	RestoredGhost int   // accounts found in restored data whose key is gone
	TimelineRefs  int64 // Moments timeline references removed (either side)
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
		ids, err := s.db.Read().UserIDs(ctx, after, 1000)
		if err != nil {
			return st, s.internal(ctx, "purge scan", err)
		}
		if len(ids) == 0 {
			break
		}
		for _, id := range ids {
			ok, err := s.keys.Exists(ctx, id)
			if err != nil {
				return st, s.internal(ctx, "purge scan", err)
			}
			if ok {
				continue
			}
			st.RestoredGhost++
			err = s.db.Update(ctx, func(q *store.Queries) error {
				if _, err := q.DeleteUser(ctx, id); err != nil {
					return err
				}
				return q.EnqueuePurge(ctx, id, s.now())
			})
			if err != nil {
				return st, s.internal(ctx, "purge ghost", err)
			}
		}
		after = ids[len(ids)-1]
	}
	queue, err := s.db.Read().Purges(ctx, 1000)
	if err != nil {
		return st, s.internal(ctx, "purge queue", err)
	}
	for _, id := range queue {
		// Timeline references go first, hold or not: they are ids derived
		// from posts and friendships that are gone already (the posts left
		// with the account row), in either direction.
		for {
			var n int64
			err := s.db.Update(ctx, func(q *store.Queries) (err error) {
				n, err = q.PurgeTimelines(ctx, id, purgeBatch)
				return err
			})
			if err != nil {
				return st, s.internal(ctx, "purge timelines", err)
			}
			st.TimelineRefs += n
			if n < purgeBatch {
				break
			}
			if err := sleepCtx(ctx, time.Millisecond); err != nil {
				return st, err
			}
		}
		// A legal hold (R-LEG-1) on the person, or on a conversation they
		// wrote in, pauses their purge: the entry stays queued and the next
		// pass after the release carries on. Destruction itself already
		// ended their sessions and visibility.
		if held, err := s.heldFromPurge(ctx, id); err != nil {
			return st, s.internal(ctx, "purge hold", err)
		} else if held {
			continue
		}
		// No hold (any more): a key kept for one is shredded now.
		if err := s.keys.Destroy(ctx, heldKeyID(id)); err != nil {
			return st, s.internal(ctx, "purge held key", err)
		}
		for {
			var n int64
			err := s.db.Update(ctx, func(q *store.Queries) (err error) {
				n, err = q.EmptyMessageBodies(ctx, id, purgeBatch)
				return err
			})
			if err != nil {
				return st, s.internal(ctx, "purge bodies", err)
			}
			st.Bodies += n
			if n < purgeBatch {
				break
			}
			if err := sleepCtx(ctx, time.Millisecond); err != nil {
				return st, err
			}
		}
		for {
			ids, err := s.db.Read().OwnedMediaIDs(ctx, id, 100)
			if err != nil {
				return st, s.internal(ctx, "purge media", err)
			}
			for _, m := range ids {
				s.blobs.Delete(ctx, m)
				s.blobs.Delete(ctx, m+"_t")
				if err := s.db.Update(ctx, func(q *store.Queries) error { return q.DeleteMedia(ctx, m) }); err != nil {
					return st, s.internal(ctx, "purge media", err)
				}
				st.Media++
			}
			if len(ids) < 100 {
				break
			}
		}
		if err := s.db.Update(ctx, func(q *store.Queries) error { return q.DonePurge(ctx, id) }); err != nil {
			return st, s.internal(ctx, "purge done", err)
		}
		st.Accounts++
	}
	return st, nil
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
			s.log.WarnContext(ctx, "retention", "err", err.Error())
		}
		if st, err := s.Purge(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.WarnContext(ctx, "purge", "err", err.Error())
		} else if st.Accounts > 0 || st.RestoredGhost > 0 {
			s.log.InfoContext(ctx, "purged destroyed accounts", "accounts", st.Accounts, "bodies", st.Bodies, "media", st.Media, "from_restore", st.RestoredGhost)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.purgeNow:
		}
	}
}
