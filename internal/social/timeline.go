package social

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/privacy"
	"github.com/tkesj/tkesj/internal/store"
)

// Moments timelines by fan-out on write (R-MOM-4, issue 19). A post is
// stored once; its author's timeline gets a reference in the posting
// transaction, with a durable marker (moment_fanout) saying the post must
// reach the author's friends. This node's worker then writes a reference to
// the timeline of every friend the write-time filter allows, in bounded
// batches that each commit their progress, so a crash resumes where it
// stopped and no batch holds the writer for long. A new friendship, an unhide
// and an unmute queue a backfill of the author's existing posts the same way.
// Changes that narrow who sees what (unfriending, blocking, hiding, muting, a
// narrowed visibility, deletion) delete references in their own transaction.
//
// Reading a page is one statement over the viewer's own references (plus the
// posts still pending towards them, so nobody waits for the worker); every
// candidate is then checked by internal/privacy with the facts of the moment
// of reading: friendship now, blocks, hiding, muting, the list, and the
// author's 3-day/6-month range. A reference is an index, never the rule.

// fanOutWorker is the node's fan-out loop. It is owned by the Service:
// started by New, stopped by Close between two batches.
type fanOutWorker struct {
	wake    chan struct{} // one pending nudge at most
	done    chan struct{} // closed to stop
	stopped chan struct{} // closed once stopped

	batches, jobs atomic.Uint64
}

// kick wakes the worker after a transaction queued work; it never blocks.
func (f *fanOutWorker) kick() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (s *Service) startFanOut() {
	f := &fanOutWorker{wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	s.fanout = f
	if s.Cfg.FanOutPaused {
		close(f.stopped)
		return
	}
	go s.fanOutLoop(f)
}

func (s *Service) stopFanOut() {
	select {
	case <-s.fanout.done:
	default:
		close(s.fanout.done)
	}
	<-s.fanout.stopped
}

func (s *Service) fanOutLoop(f *fanOutWorker) {
	defer close(f.stopped)
	// The first pass runs at once: it resumes what a previous process
	// acknowledged but did not finish. Later passes run when this node
	// queues work, and every FanOutPoll for work other nodes left behind.
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-f.done:
			return
		case <-f.wake:
		case <-poll.C:
		}
		if err := s.drainFanOuts(f); err != nil {
			s.Log.Error("moments fan-out", slog.String("err", err.Error()))
		}
		poll.Reset(s.Cfg.FanOutPoll)
	}
}

var errStopping = errors.New("stopping")

// fanOutLease is how long a node holds a job on PostgreSQL before other
// nodes may take it over (a job of 10,000 friends takes about a second).
const fanOutLease = 20 * time.Second

// drainFanOuts runs pending jobs until none is left or the worker stops.
func (s *Service) drainFanOuts(f *fanOutWorker) error {
	ctx := context.Background() // a batch under way finishes; Close waits for it
	// Nodes sharing a PostgreSQL store lease jobs, so each job runs on one
	// node while the others take the next; a node that dies leaves its jobs
	// to the others when the lease runs out. SQLite has one node: no lease,
	// and a restart resumes at once.
	pg := s.DB.Dialect() == "postgres"
	for {
		var jobs []store.FanOutJob
		var err error
		if pg {
			err = s.DB.Update(ctx, func(q *store.Queries) (err error) {
				now := s.Now()
				jobs, err = q.LeaseFanOuts(ctx, now, now.Add(fanOutLease), 32)
				return err
			})
		} else {
			jobs, err = s.DB.Read().FanOutJobs(ctx, s.Now(), 32)
		}
		if err != nil || len(jobs) == 0 {
			return err
		}
		left, err := s.runFanOuts(ctx, f, jobs, pg)
		if pg && len(left) > 0 {
			ids := make([]int64, len(left))
			for i, j := range left {
				ids[i] = j.ID
			}
			if rerr := s.DB.Update(ctx, func(q *store.Queries) error { return q.ReleaseFanOuts(ctx, ids) }); err == nil {
				err = rerr
			}
		}
		if errors.Is(err, errStopping) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// On SQLite the one writer is shared with every message, so the fan-out
// takes it in slices: a transaction writes batches of fanOutStep friends (or
// posts) until it has covered FanOutBatch or held the writer for
// fanOutSlice, yielding the processor between statements, and the worker
// then rests fanOutRest times as long as the slice took. A message that
// arrives meanwhile waits for one slice at most, and the fan-out uses at most
// a third of the writer: on an idle machine 5,000 friends take about 55 ms
// of writer time, so ~170 ms in all (issue 19: ≤ 1 s). The transactions
// commit without waiting for the disk (store.UpdateRelaxed): a crash loses
// at most the last slices, which the job's durable position redoes.
const (
	fanOutStep  = 64
	fanOutSlice = 2 * time.Millisecond
	fanOutRest  = 2
)

// runFanOuts runs jobs to their end, slice by slice, and returns those it
// did not finish. Small jobs (most people have few friends) share a slice,
// so a post to ten friends costs one commit; on PostgreSQL, where the
// fan-out holds no shared writer, every batch of FanOutBatch is its own
// one-statement transaction.
func (s *Service) runFanOuts(ctx context.Context, f *fanOutWorker, jobs []store.FanOutJob, pg bool) ([]store.FanOutJob, error) {
	limit := s.Cfg.FanOutBatch
	step := limit
	if !pg {
		step = min(limit, fanOutStep)
	}
	for len(jobs) > 0 {
		select {
		case <-f.done:
			return jobs, errStopping
		default:
		}
		start := time.Now()
		err := s.DB.UpdateRelaxed(ctx, func(q *store.Queries) error {
			covered := 0
			for len(jobs) > 0 && covered < limit {
				if covered > 0 {
					if time.Since(start) >= fanOutSlice {
						return nil
					}
					runtime.Gosched()
				}
				want := min(step, limit-covered)
				j, n, err := q.FanOutBatch(ctx, jobs[0], want)
				if errors.Is(err, store.ErrFanOutMoved) {
					// Restarted meanwhile: the next listing carries on. The
					// job goes back to the caller to give up its lease.
					if pg {
						return err
					}
					jobs = jobs[1:]
					continue
				}
				if err != nil {
					return err
				}
				f.batches.Add(1)
				covered += n
				if n < want {
					f.jobs.Add(1)
					jobs = jobs[1:]
				} else {
					jobs[0] = j
				}
				if pg {
					return nil
				}
			}
			return nil
		})
		if errors.Is(err, store.ErrFanOutMoved) {
			return jobs, nil
		}
		if err != nil {
			return jobs, err
		}
		if !pg && len(jobs) > 0 {
			rest := time.NewTimer(fanOutRest * time.Since(start))
			select {
			case <-f.done:
				rest.Stop()
				return jobs, errStopping
			case <-rest.C:
			}
		}
	}
	return nil, nil
}

// FanOutStats reports the batches written and jobs finished on this node.
func (s *Service) FanOutStats() (batches, jobs uint64) {
	return s.fanout.batches.Load(), s.fanout.jobs.Load()
}

// PendingFanOuts counts the fan-outs and backfills not finished, on every node.
func (s *Service) PendingFanOuts(ctx context.Context) (int, error) {
	return s.DB.Read().PendingFanOuts(ctx)
}

// WaitFanOut returns once no fan-out is pending (tests and tkesj bench).
func (s *Service) WaitFanOut(ctx context.Context) error {
	for {
		n, err := s.DB.Read().PendingFanOuts(ctx)
		if err != nil || n == 0 {
			return err
		}
		s.fanout.kick()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Timeline returns the caller's own posts and the friends' posts the caller
// may see, newest first, minus people the caller muted (R-MOM-4).
func (s *Service) Timeline(ctx context.Context, a kernel.Auth, cursor string, limit int) ([]Moment, string, error) {
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 50)
	at, id, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	q := s.DB.Read()
	v, err := s.timelineViewer(ctx, q, a.UserID)
	if err != nil {
		return nil, "", s.Internal(ctx, "timeline", err)
	}
	page, at, id, more, err := s.timelinePage(ctx, q, v, at, id, limit)
	if err != nil {
		return nil, "", s.Internal(ctx, "timeline", err)
	}
	// The audience list is shown to the author only: load it for their own.
	var own []*store.MomentRecord
	for i := range page {
		if page[i].AuthorID == a.UserID && page[i].Visibility != privacy.Friends && page[i].Visibility != privacy.Private {
			own = append(own, &page[i])
		}
	}
	if err := q.FillAudience(ctx, own); err != nil {
		return nil, "", s.Internal(ctx, "timeline", err)
	}
	views, err := s.momentViews(ctx, q, v, page)
	if err != nil {
		return nil, "", s.Internal(ctx, "timeline", err)
	}
	if !more {
		return views, "", nil
	}
	return views, encodeCursor(at, id), nil
}

// timelineViewer is a viewer for timeline pages: the facts about each post's
// author come with the page; only the blocks are loaded, for the likes and
// comments.
func (s *Service) timelineViewer(ctx context.Context, q *store.Queries, id string) (*Viewer, error) {
	v := &Viewer{id: id, friends: map[string]bool{}, known: map[string]bool{}, blocked: map[string]bool{}, hiders: map[string]bool{}, muted: map[string]bool{},
		ranges: map[string]string{}, profiles: map[string]Profile{}}
	blocked, err := q.BlocksOf(ctx, id)
	for _, b := range blocked {
		v.blocked[b] = true
	}
	return v, err
}

// timelinePage reads up to limit posts of v's timeline strictly before
// (at, id) that internal/privacy lets v see now, and returns them with the
// cursor after the last post read and whether more may follow.
func (s *Service) timelinePage(ctx context.Context, q *store.Queries, v *Viewer, at time.Time, id string, limit int) ([]store.MomentRecord, time.Time, string, bool, error) {
	now := s.Now()
	var page []store.MomentRecord
	more := true
	// References the rules now refuse (a range that ran out, a race with a
	// change of relationship) are skipped; a bounded number of rounds keeps
	// a viewer who may see little from paying for it.
	for round := 0; round < 10 && len(page) < limit && more; round++ {
		es, err := q.Timeline(ctx, store.TimelineQuery{Viewer: v.id, BeforeAt: at, BeforeID: id, Limit: limit})
		if err != nil {
			return nil, at, id, false, err
		}
		more = len(es) == limit
		authors := make([]string, len(es))
		for i, e := range es {
			authors[i] = e.AuthorID
		}
		s.preloadRanges(ctx, q, v, authors)
		for _, e := range es {
			at, id = e.CreatedAt, e.ID
			p := privacy.Post{Author: e.AuthorID, Visibility: e.Visibility, Listed: map[string]bool{v.id: e.Listed}, CreatedAt: e.CreatedAt}
			r := privacy.Relation{Viewer: v.id, Friends: e.Friends, Blocked: e.Blocked, HiddenFromViewer: e.Hidden, MutedByViewer: e.Muted,
				AuthorRange: s.authorRange(ctx, q, v, e.AuthorID)}
			if !privacy.InTimeline(p, r, now) {
				continue
			}
			v.known[e.AuthorID], v.friends[e.AuthorID] = true, e.Friends
			page = append(page, e.MomentRecord)
			if len(page) == limit {
				more = true
				break
			}
		}
	}
	return page, at, id, more, nil
}

// TimelineExport lists the references in a person's timeline that they may
// see now, newest first (their data export, R-RGT-1): the timeline is their
// personal data only as references, so the export holds ids and times, not
// other people's posts.
func (s *Service) TimelineExport(ctx context.Context, userID string) ([]map[string]any, error) {
	q := s.DB.Read()
	v, err := s.timelineViewer(ctx, q, userID)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	var at time.Time
	id := ""
	for pages := 0; pages < 10_000; pages++ {
		page, nat, nid, more, err := s.timelinePage(ctx, q, v, at, id, 50)
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			out = append(out, map[string]any{"moment_id": m.ID, "author_id": m.AuthorID, "created_at": m.CreatedAt.Format(time.RFC3339)})
		}
		if !more {
			break
		}
		at, id = nat, nid
	}
	return out, nil
}

// EditMomentVisibility changes who may see the caller's post (R-MOM-2). The
// timelines follow: people the new visibility leaves out lose the post at
// once; people it adds get it from the fan-out worker. Someone else's post,
// or none, is not_found.
func (s *Service) EditMomentVisibility(ctx context.Context, a kernel.Auth, id, visibility string, users []string) (Moment, error) {
	ok, needsList := privacy.ValidVisibility(visibility)
	if !ok {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_visibility", "visibility.kind must be friends, only, except or private")
	}
	users = kernel.UniqueOthers(users, a.UserID)
	if needsList && len(users) == 0 {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_visibility", "visibility %q needs a list of friends in visibility.users", visibility)
	}
	if !needsList {
		users = nil
	}
	if len(users) > 5000 {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_visibility", "the list has too many people")
	}
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		m, err := q.FindMoment(ctx, id)
		if err != nil || m.AuthorID != a.UserID {
			return tkesj.ErrNotFound("moment")
		}
		if err := q.UpdateMomentVisibility(ctx, id, visibility, users); err != nil {
			return err
		}
		if err := q.PruneMomentRefs(ctx, id); err != nil {
			return err
		}
		if visibility == privacy.Private {
			return nil
		}
		return q.EnqueuePostFanOut(ctx, id, a.UserID, s.Now())
	})
	if err != nil {
		return Moment{}, s.Internal(ctx, "edit moment", err)
	}
	s.fanout.kick()
	return s.GetMoment(ctx, a, id)
}

// addFriendship makes a and b friends inside q's transaction, within the
// friend cap, and queues the backfill of each one's posts to the other (the
// author's range still applies when the new friend reads them).
func (s *Service) addFriendship(ctx context.Context, q *store.Queries, caller, a, b string, now time.Time) error {
	if ok, err := q.AreFriends(ctx, a, b); err != nil || ok {
		return err
	}
	for _, p := range []string{a, b} {
		n, err := q.CountFriends(ctx, p)
		if err != nil {
			return err
		}
		if n >= s.Cfg.FriendCap {
			if p == caller {
				return tkesj.Errorf(tkesj.EConflict, "friend_limit_reached", "you have %d friends, the most allowed; remove someone before adding a friend", s.Cfg.FriendCap)
			}
			return tkesj.Errorf(tkesj.EConflict, "friend_limit_reached", "this person has the most friends allowed (%d) and cannot add more", s.Cfg.FriendCap)
		}
	}
	if err := q.AddFriendship(ctx, a, b, now); err != nil {
		return err
	}
	if err := q.EnqueueBackfill(ctx, a, b, now); err != nil {
		return err
	}
	return q.EnqueueBackfill(ctx, b, a, now)
}

// removeFriendship ends a friendship inside q's transaction and takes each
// one's posts out of the other's timeline.
func removeFriendship(ctx context.Context, q *store.Queries, a, b string) error {
	if err := q.RemoveFriendship(ctx, a, b); err != nil {
		return err
	}
	if err := q.DeleteTimelineRefs(ctx, a, b); err != nil {
		return err
	}
	return q.DeleteTimelineRefs(ctx, b, a)
}
