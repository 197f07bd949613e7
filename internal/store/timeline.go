package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fan-out job kinds (moment_fanout.kind).
const (
	FanOutPost     = "post"     // send one post to the author's friends
	FanOutBackfill = "backfill" // send one author's posts to one new viewer
)

// FanOutJob is a fan-out acknowledged but not finished. A post job walks the
// author's friends in id order (AfterID is the last one done); a backfill
// job walks the author's posts in time order (AfterAt, AfterID).
type FanOutJob struct {
	ID                           int64
	Kind                         string
	AuthorID, ViewerID, MomentID string
	AfterAt                      int64 // microseconds
	AfterID                      string
}

// TimelineEntry is a post read from a viewer's timeline with what the
// visibility rules need to know at the moment of reading. Audience and
// MediaIDs are not filled except MediaIDs (the page needs them).
type TimelineEntry struct {
	MomentRecord
	Friends bool // the viewer and the author are friends now
	Blocked bool // either blocks the other now
	Hidden  bool // the author hides their posts from the viewer
	Muted   bool // the viewer does not want the author's posts
	Listed  bool // the viewer is on the post's only/except list
}

// TimelineQuery selects a page of one viewer's timeline, newest first,
// strictly before a cursor (zero BeforeAt: from the newest).
type TimelineQuery struct {
	Viewer   string
	BeforeAt time.Time
	BeforeID string
	Limit    int
}

// visibleTo is the write-time filter of a fan-out: the post m may go to
// the timeline of viewer (an SQL expression), by its visibility and list,
// blocks, hiding and muting. It is an index, not the rule: the read checks
// every reference again with internal/privacy, including the rules that
// depend on the moment of reading (the author's range, friendship now).
func visibleTo(viewer string) string {
	return `m.visibility <> 'private' AND (m.visibility = 'friends'
		OR (m.visibility = 'only' AND EXISTS (SELECT 1 FROM moment_audience a WHERE a.moment_id = m.id AND a.user_id = ` + viewer + `))
		OR (m.visibility = 'except' AND NOT EXISTS (SELECT 1 FROM moment_audience a WHERE a.moment_id = m.id AND a.user_id = ` + viewer + `)))
	AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.user_id = m.author_id AND b.blocked_id = ` + viewer + `) OR (b.user_id = ` + viewer + ` AND b.blocked_id = m.author_id))
	AND NOT EXISTS (SELECT 1 FROM moment_prefs p WHERE p.user_id = m.author_id AND p.target_id = ` + viewer + ` AND p.kind = 'hide')
	AND NOT EXISTS (SELECT 1 FROM moment_prefs p WHERE p.user_id = ` + viewer + ` AND p.target_id = m.author_id AND p.kind = 'mute')`
}

// AddTimelineRef puts a post in one viewer's timeline (a repeat is harmless).
// CreateMoment's transaction uses it for the author, who sees their post at once.
func (q *Queries) AddTimelineRef(ctx context.Context, viewerID string, m MomentRecord) error {
	_, err := q.exec(ctx, `INSERT INTO moment_timeline (viewer_id, created_at, moment_id, author_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		viewerID, micros(m.CreatedAt), m.ID, m.AuthorID)
	return err
}

// EnqueuePostFanOut records that a post must reach its author's friends. An
// existing job for the post restarts from the first friend (a widened
// visibility must reach friends the job had passed).
func (q *Queries) EnqueuePostFanOut(ctx context.Context, momentID, authorID string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO moment_fanout (kind, author_id, viewer_id, moment_id, enqueued_at) VALUES ('post', ?, '', ?, ?)
		ON CONFLICT (kind, author_id, viewer_id, moment_id) DO UPDATE SET after_at = 0, after_id = ''`, authorID, momentID, micros(at))
	return err
}

// EnqueueBackfill records that viewer must get author's existing posts (a
// new friendship, an unhide, an unmute); nothing when author has no posts.
func (q *Queries) EnqueueBackfill(ctx context.Context, authorID, viewerID string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO moment_fanout (kind, author_id, viewer_id, moment_id, enqueued_at)
		SELECT 'backfill', ?, ?, '', ? WHERE EXISTS (SELECT 1 FROM moments WHERE author_id = ?)
		ON CONFLICT (kind, author_id, viewer_id, moment_id) DO UPDATE SET after_at = 0, after_id = ''`, authorID, viewerID, micros(at), authorID)
	return err
}

const fanOutCols = `id, kind, author_id, viewer_id, moment_id, after_at, after_id`

func scanFanOutJob(sc scanner) (FanOutJob, error) {
	var j FanOutJob
	return j, sc.Scan(&j.ID, &j.Kind, &j.AuthorID, &j.ViewerID, &j.MomentID, &j.AfterAt, &j.AfterID)
}

// FanOutJobs lists up to limit pending fan-outs not leased at now, oldest first.
func (q *Queries) FanOutJobs(ctx context.Context, now time.Time, limit int) ([]FanOutJob, error) {
	return collect(ctx, q, scanFanOutJob, `SELECT `+fanOutCols+` FROM moment_fanout WHERE leased_until < ? ORDER BY id LIMIT ?`, micros(now), limit)
}

// ReleaseFanOuts ends leases early (the worker stopped, or a job was
// restarted while it ran and must be picked up again).
func (q *Queries) ReleaseFanOuts(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	_, err := q.exec(ctx, `UPDATE moment_fanout SET leased_until = 0 WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	return err
}

// PendingFanOuts counts the fan-outs not finished.
func (q *Queries) PendingFanOuts(ctx context.Context) (int, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM moment_fanout`).Scan(&n)
	return n, err
}

// ErrFanOutMoved says a job's cursor changed under a batch (it was
// restarted or finished elsewhere meanwhile): read the job again and carry
// on from there.
var ErrFanOutMoved = errors.New("fan-out job moved")

// FanOutBatch writes the next batch of job: references for the next limit
// friends (post) or posts (backfill) past the cursor that the write-time
// filter lets through. It returns how many friends or posts the batch
// covered: limit, and the job advanced; fewer, and the job is finished and
// deleted. ErrFanOutMoved: the job was restarted or finished
// elsewhere meanwhile; nothing was advanced.
//
// On PostgreSQL a batch is one statement, so it holds no locks between round
// trips and never waits on, or holds up, the message writer's transactions.
// On SQLite (one writer connection) it is three short statements, and the
// worker runs the batches of several small jobs in one transaction.
func (q *Queries) FanOutBatch(ctx context.Context, job FanOutJob, limit int) (next FanOutJob, covered int, err error) {
	var batch, insert string
	var bargs, iargs []any
	switch job.Kind {
	case FanOutPost:
		batch = `SELECT friend_id AS k_id, 0 AS k_at FROM friends WHERE user_id = ? AND friend_id > ? ORDER BY friend_id LIMIT ` + strconv.Itoa(limit)
		bargs = []any{job.AuthorID, job.AfterID}
		insert = `INSERT INTO moment_timeline (viewer_id, created_at, moment_id, author_id)
			SELECT bt.k_id, m.created_at, m.id, m.author_id FROM batch bt JOIN moments m ON m.id = ?
			WHERE ` + visibleTo("bt.k_id") + ` ON CONFLICT DO NOTHING`
		iargs = []any{job.MomentID}
	case FanOutBackfill:
		batch = `SELECT id AS k_id, created_at AS k_at FROM moments WHERE author_id = ? AND (created_at > ? OR (created_at = ? AND id > ?))
			ORDER BY created_at, id LIMIT ` + strconv.Itoa(limit)
		bargs = []any{job.AuthorID, job.AfterAt, job.AfterAt, job.AfterID}
		insert = `INSERT INTO moment_timeline (viewer_id, created_at, moment_id, author_id)
			SELECT v.viewer_id, m.created_at, m.id, m.author_id FROM batch bt JOIN moments m ON m.id = bt.k_id, (SELECT CAST(? AS TEXT) AS viewer_id) v
			WHERE EXISTS (SELECT 1 FROM friends f WHERE f.user_id = v.viewer_id AND f.friend_id = m.author_id) AND ` + visibleTo("v.viewer_id") + ` ON CONFLICT DO NOTHING`
		iargs = []any{job.ViewerID}
	default:
		return job, 0, errors.New("unknown fan-out kind " + job.Kind)
	}
	// The job moves only if nobody restarted it meanwhile.
	guard := ` WHERE id = ? AND after_at = ? AND after_id = ?`
	gargs := []any{job.ID, job.AfterAt, job.AfterID}
	var n, changed int
	var at int64
	var id string
	lim := strconv.Itoa(limit)
	if q.d.Name == "postgres" {
		stmt := `WITH batch AS (` + batch + `), ins AS (` + insert + `),
			last AS (SELECT k_at, k_id FROM batch ORDER BY k_at DESC, k_id DESC LIMIT 1),
			upd AS (UPDATE moment_fanout SET after_at = (SELECT k_at FROM last), after_id = (SELECT k_id FROM last)` + guard + `
				AND (SELECT COUNT(*) FROM batch) = ` + lim + ` RETURNING 1),
			del AS (DELETE FROM moment_fanout` + guard + ` AND (SELECT COUNT(*) FROM batch) < ` + lim + ` RETURNING 1)
			SELECT (SELECT COUNT(*) FROM batch), (SELECT COUNT(*) FROM upd) + (SELECT COUNT(*) FROM del),
				COALESCE((SELECT k_at FROM last), 0), COALESCE((SELECT k_id FROM last), '')`
		args := append(append(append(append([]any{}, bargs...), iargs...), gargs...), gargs...)
		if err := q.row(ctx, stmt, args...).Scan(&n, &changed, &at, &id); err != nil {
			return job, 0, err
		}
	} else {
		var last sql.NullString
		var lastAt sql.NullInt64
		err := q.row(ctx, `WITH batch AS (`+batch+`) SELECT COUNT(*), MAX(k_at), (SELECT k_id FROM batch ORDER BY k_at DESC, k_id DESC LIMIT 1) FROM batch`, bargs...).Scan(&n, &lastAt, &last)
		if err != nil {
			return job, 0, err
		}
		if n > 0 {
			if _, err := q.exec(ctx, `WITH batch AS (`+batch+`) `+insert, append(append([]any{}, bargs...), iargs...)...); err != nil {
				return job, 0, err
			}
		}
		at, id = lastAt.Int64, last.String
		var res sql.Result
		if n == limit {
			res, err = q.exec(ctx, `UPDATE moment_fanout SET after_at = ?, after_id = ?`+guard, append([]any{at, id}, gargs...)...)
		} else {
			res, err = q.exec(ctx, `DELETE FROM moment_fanout`+guard, gargs...)
		}
		if err != nil {
			return job, 0, err
		}
		k, _ := res.RowsAffected()
		changed = int(k)
	}
	if changed == 0 {
		return job, 0, ErrFanOutMoved
	}
	job.AfterAt, job.AfterID = at, id
	return job, n, nil
}

// LeaseFanOuts leases up to limit pending jobs that no node holds at now
// to the caller until until, oldest first (on PostgreSQL, rows another node
// is leasing at the same moment are skipped, not waited for).
func (q *Queries) LeaseFanOuts(ctx context.Context, now, until time.Time, limit int) ([]FanOutJob, error) {
	skip := ""
	if q.d.Name == "postgres" {
		skip = ` FOR UPDATE SKIP LOCKED`
	}
	jobs, err := collect(ctx, q, scanFanOutJob, `UPDATE moment_fanout SET leased_until = ? WHERE id IN
		(SELECT id FROM moment_fanout WHERE leased_until < ? ORDER BY id LIMIT ?`+skip+`) RETURNING `+fanOutCols, micros(until), micros(now), limit)
	slices.SortFunc(jobs, func(a, b FanOutJob) int { return cmp.Compare(a.ID, b.ID) })
	return jobs, err
}

// DeleteTimelineRefs removes author's posts from viewer's timeline and any
// backfill of them still pending (viewer unfriended, blocked, hidden from or
// muting author).
func (q *Queries) DeleteTimelineRefs(ctx context.Context, viewerID, authorID string) error {
	if _, err := q.exec(ctx, `DELETE FROM moment_timeline WHERE author_id = ? AND viewer_id = ?`, authorID, viewerID); err != nil {
		return err
	}
	_, err := q.exec(ctx, `DELETE FROM moment_fanout WHERE kind = 'backfill' AND author_id = ? AND viewer_id = ?`, authorID, viewerID)
	return err
}

// DeleteMomentRefs removes a post from every timeline and its pending fan-out.
func (q *Queries) DeleteMomentRefs(ctx context.Context, momentID string) error {
	if _, err := q.exec(ctx, `DELETE FROM moment_timeline WHERE moment_id = ?`, momentID); err != nil {
		return err
	}
	_, err := q.exec(ctx, `DELETE FROM moment_fanout WHERE kind = 'post' AND moment_id = ?`, momentID)
	return err
}

// PruneMomentRefs removes a post from the timelines of everyone but its
// author whom its visibility no longer lets see it (after an edit).
func (q *Queries) PruneMomentRefs(ctx context.Context, momentID string) error {
	_, err := q.exec(ctx, `DELETE FROM moment_timeline WHERE moment_id = ? AND viewer_id <> author_id
		AND NOT EXISTS (SELECT 1 FROM moments m WHERE m.id = moment_timeline.moment_id AND `+visibleTo("moment_timeline.viewer_id")+`)`, momentID)
	return err
}

// UpdateMomentVisibility replaces a post's visibility and audience list.
func (q *Queries) UpdateMomentVisibility(ctx context.Context, momentID, visibility string, audience []string) error {
	res, err := q.exec(ctx, `UPDATE moments SET visibility = ? WHERE id = ?`, visibility, momentID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(sql.ErrNoRows, "moment")
	}
	if _, err := q.exec(ctx, `DELETE FROM moment_audience WHERE moment_id = ?`, momentID); err != nil {
		return err
	}
	for _, u := range audience {
		if _, err := q.exec(ctx, `INSERT INTO moment_audience (moment_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, momentID, u); err != nil {
			return err
		}
	}
	return nil
}

// PurgeTimelines removes up to limit timeline references in which userID is
// the viewer or the author, and their pending fan-outs; it reports how many
// references went (fewer than limit: none are left). The purge of a
// destroyed account calls it in batches.
func (q *Queries) PurgeTimelines(ctx context.Context, userID string, limit int) (int64, error) {
	var total int64
	for _, col := range []string{"viewer_id", "author_id"} {
		res, err := q.exec(ctx, `DELETE FROM moment_timeline WHERE (viewer_id, created_at, moment_id) IN
			(SELECT viewer_id, created_at, moment_id FROM moment_timeline WHERE `+col+` = ? LIMIT ?)`, userID, limit)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if total >= int64(limit) {
			return total, nil
		}
	}
	_, err := q.exec(ctx, `DELETE FROM moment_fanout WHERE author_id = ? OR viewer_id = ?`, userID, userID)
	return total, err
}

// TimelineRefs lists the post ids in a viewer's timeline, newest first.
// Only the conformance suite calls it: it is how the suite sees what a
// fan-out wrote, which Timeline blurs with the pending candidates.
func (q *Queries) TimelineRefs(ctx context.Context, viewerID string) ([]string, error) {
	return q.strings(ctx, `SELECT moment_id FROM moment_timeline WHERE viewer_id = ? ORDER BY created_at DESC, moment_id DESC`, viewerID)
}

// Timeline reads a page of a viewer's timeline in one statement: the range
// of the viewer's own references, plus the posts whose fan-out or backfill
// to the viewer is still pending (so a reader never waits for the worker),
// each with the facts the visibility rules check at the moment of reading.
// The caller applies the rules; this returns candidates.
func (q *Queries) Timeline(ctx context.Context, p TimelineQuery) ([]TimelineEntry, error) {
	at, id := int64(math.MaxInt64), ""
	if !p.BeforeAt.IsZero() {
		at, id = micros(p.BeforeAt), p.BeforeID
	}
	lim := strconv.Itoa(p.Limit)
	v := p.Viewer
	query := `SELECT m.id, m.author_id, m.body, m.visibility, m.created_at,
		EXISTS (SELECT 1 FROM friends f WHERE f.user_id = ? AND f.friend_id = m.author_id),
		EXISTS (SELECT 1 FROM blocks b WHERE (b.user_id = ? AND b.blocked_id = m.author_id) OR (b.user_id = m.author_id AND b.blocked_id = ?)),
		EXISTS (SELECT 1 FROM moment_prefs h WHERE h.user_id = m.author_id AND h.target_id = ? AND h.kind = 'hide'),
		EXISTS (SELECT 1 FROM moment_prefs u WHERE u.user_id = ? AND u.target_id = m.author_id AND u.kind = 'mute'),
		EXISTS (SELECT 1 FROM moment_audience a WHERE a.moment_id = m.id AND a.user_id = ?)
	FROM (
		SELECT moment_id FROM (SELECT t.moment_id FROM moment_timeline t WHERE t.viewer_id = ?
			AND (t.created_at < ? OR (t.created_at = ? AND t.moment_id < ?)) ORDER BY t.created_at DESC, t.moment_id DESC LIMIT ` + lim + `) tl
		UNION
		SELECT p.moment_id FROM moment_fanout p JOIN friends f ON f.user_id = ? AND f.friend_id = p.author_id WHERE p.kind = 'post'
		UNION
		SELECT moment_id FROM (SELECT m2.id AS moment_id FROM moment_fanout p JOIN moments m2 ON m2.author_id = p.author_id
			WHERE p.viewer_id = ? AND p.kind = 'backfill' AND (m2.created_at < ? OR (m2.created_at = ? AND m2.id < ?))
			ORDER BY m2.created_at DESC, m2.id DESC LIMIT ` + lim + `) bf
	) c JOIN moments m ON m.id = c.moment_id
	WHERE m.created_at < ? OR (m.created_at = ? AND m.id < ?)
	ORDER BY m.created_at DESC, m.id DESC LIMIT ` + lim
	out, err := collect(ctx, q, func(sc scanner) (TimelineEntry, error) {
		var e TimelineEntry
		var created int64
		err := sc.Scan(&e.ID, &e.AuthorID, &e.Body, &e.Visibility, &created, &e.Friends, &e.Blocked, &e.Hidden, &e.Muted, &e.Listed)
		e.CreatedAt = fromMicros(created)
		return e, err
	}, query, v, v, v, v, v, v, v, at, at, id, v, v, at, at, id, at, at, id)
	if err != nil || len(out) == 0 {
		return out, err
	}
	ptrs := make([]*MomentRecord, len(out))
	for i := range out {
		ptrs[i] = &out[i].MomentRecord
	}
	return out, q.fillMedia(ctx, ptrs)
}

// CountFriends counts a person's friends (the friend cap).
func (q *Queries) CountFriends(ctx context.Context, userID string) (int, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM friends WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// FriendsAmong returns which of ids are userID's friends.
func (q *Queries) FriendsAmong(ctx context.Context, userID string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := inList(ids)
	return q.strings(ctx, `SELECT friend_id FROM friends WHERE user_id = ? AND friend_id IN `+in, append([]any{userID}, args...)...)
}
