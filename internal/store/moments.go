package store

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// MomentRecord is a post; Body is sealed with the author's key.
type MomentRecord struct {
	ID, AuthorID string
	Body         []byte
	Visibility   string
	CreatedAt    time.Time
	Audience     []string // for only/except
	MediaIDs     []string // in order
}

// CommentRecord is a comment; Body is sealed with the commenter's key.
type CommentRecord struct {
	ID, MomentID, UserID, ReplyTo string
	Body                          []byte
	CreatedAt                     time.Time
}

// LikeRecord is a like.
type LikeRecord struct {
	MomentID, UserID string
	CreatedAt        time.Time
}

// CreateMoment stores a post with its audience list and media.
func (q *Queries) CreateMoment(ctx context.Context, m MomentRecord) error {
	if _, err := q.exec(ctx, `INSERT INTO moments (id, author_id, body, visibility, created_at) VALUES (?, ?, ?, ?, ?)`,
		m.ID, m.AuthorID, m.Body, m.Visibility, micros(m.CreatedAt)); err != nil {
		return err
	}
	for _, u := range m.Audience {
		if _, err := q.exec(ctx, `INSERT INTO moment_audience (moment_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, m.ID, u); err != nil {
			return err
		}
	}
	for i, id := range m.MediaIDs {
		if _, err := q.exec(ctx, `INSERT INTO moment_media (moment_id, media_id, position) VALUES (?, ?, ?)`, m.ID, id, i); err != nil {
			return err
		}
	}
	return nil
}

const momentCols = `m.id, m.author_id, m.body, m.visibility, m.created_at`

func scanMoment(sc interface{ Scan(...any) error }) (MomentRecord, error) {
	var m MomentRecord
	var at int64
	err := sc.Scan(&m.ID, &m.AuthorID, &m.Body, &m.Visibility, &at)
	m.CreatedAt = fromMicros(at)
	return m, err
}

// FindMoment returns a post with its audience and media, or not_found.
func (q *Queries) FindMoment(ctx context.Context, id string) (MomentRecord, error) {
	m, err := scanMoment(q.row(ctx, `SELECT `+momentCols+` FROM moments m WHERE m.id = ?`, id))
	if err != nil {
		return m, notFound(err, "moment")
	}
	return m, q.fillMoments(ctx, []*MomentRecord{&m})
}

// MomentPage selects posts newest first, strictly before a cursor.
type MomentPage struct {
	Authors  []string // posts by these people (empty: none)
	BeforeAt time.Time
	BeforeID string
	Limit    int
}

// Moments returns a page of posts by the given authors, newest first.
func (q *Queries) Moments(ctx context.Context, p MomentPage) ([]MomentRecord, error) {
	if len(p.Authors) == 0 {
		return nil, nil
	}
	in, args := inList(p.Authors)
	query := `SELECT ` + momentCols + ` FROM moments m WHERE m.author_id IN ` + in
	if !p.BeforeAt.IsZero() {
		query += ` AND (m.created_at < ? OR (m.created_at = ? AND m.id < ?))`
		args = append(args, micros(p.BeforeAt), micros(p.BeforeAt), p.BeforeID)
	}
	query += ` ORDER BY m.created_at DESC, m.id DESC LIMIT ` + strconv.Itoa(p.Limit)
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []MomentRecord
	for rows.Next() {
		m, err := scanMoment(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ptrs := make([]*MomentRecord, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	return out, q.fillMoments(ctx, ptrs)
}

// inList returns "(?, ?, ...)" for n values and the values as arguments.
func inList(ids []string) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(?" + strings.Repeat(", ?", len(ids)-1) + ")", args
}

// fillMoments loads the audience lists and media of posts, two queries for
// the whole page.
func (q *Queries) fillMoments(ctx context.Context, ms []*MomentRecord) error {
	if err := q.FillAudience(ctx, ms); err != nil {
		return err
	}
	return q.fillMedia(ctx, ms)
}

// FillAudience loads the audience lists of posts in one query.
func (q *Queries) FillAudience(ctx context.Context, ms []*MomentRecord) error {
	if len(ms) == 0 {
		return nil
	}
	byID, in, args := momentIndex(ms)
	rows, err := q.query(ctx, `SELECT moment_id, user_id FROM moment_audience WHERE moment_id IN `+in, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var mid, uid string
		if err := rows.Scan(&mid, &uid); err != nil {
			return err
		}
		byID[mid].Audience = append(byID[mid].Audience, uid)
	}
	return rows.Err()
}

func momentIndex(ms []*MomentRecord) (map[string]*MomentRecord, string, []any) {
	byID := map[string]*MomentRecord{}
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		byID[m.ID] = m
		ids = append(ids, m.ID)
	}
	in, args := inList(ids)
	return byID, in, args
}

// fillMedia loads the media ids of posts, in order, in one query. A
// timeline page needs them but not the audience lists, which may hold
// thousands of ids.
func (q *Queries) fillMedia(ctx context.Context, ms []*MomentRecord) error {
	if len(ms) == 0 {
		return nil
	}
	byID, in, args := momentIndex(ms)
	rows, err := q.query(ctx, `SELECT moment_id, media_id FROM moment_media WHERE moment_id IN `+in+` ORDER BY moment_id, position`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var mid, media string
		if err := rows.Scan(&mid, &media); err != nil {
			return err
		}
		byID[mid].MediaIDs = append(byID[mid].MediaIDs, media)
	}
	return rows.Err()
}

// DeleteMoment removes a post; comments, likes, audience and media links go with it.
func (q *Queries) DeleteMoment(ctx context.Context, id string) error {
	_, err := q.exec(ctx, `DELETE FROM moments WHERE id = ?`, id)
	return err
}

// MomentsWithMedia lists the posts a media file is attached to.
func (q *Queries) MomentsWithMedia(ctx context.Context, mediaID string) ([]string, error) {
	return q.strings(ctx, `SELECT moment_id FROM moment_media WHERE media_id = ?`, mediaID)
}

// MediaInMessages reports whether any message carries the media.
func (q *Queries) MediaInMessages(ctx context.Context, mediaID string) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM messages WHERE media_id = ?`, mediaID).Scan(&n)
	return n > 0, err
}

// Like records a like (a repeat is harmless).
func (q *Queries) Like(ctx context.Context, momentID, userID string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO moment_likes (moment_id, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, momentID, userID, micros(at))
	return err
}

// Unlike removes a like.
func (q *Queries) Unlike(ctx context.Context, momentID, userID string) error {
	_, err := q.exec(ctx, `DELETE FROM moment_likes WHERE moment_id = ? AND user_id = ?`, momentID, userID)
	return err
}

// AddComment stores a comment.
func (q *Queries) AddComment(ctx context.Context, c CommentRecord) error {
	var reply any
	if c.ReplyTo != "" {
		reply = c.ReplyTo
	}
	_, err := q.exec(ctx, `INSERT INTO moment_comments (id, moment_id, user_id, reply_to, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.MomentID, c.UserID, reply, c.Body, micros(c.CreatedAt))
	return err
}

// DeleteComment removes a comment.
func (q *Queries) DeleteComment(ctx context.Context, id string) error {
	_, err := q.exec(ctx, `DELETE FROM moment_comments WHERE id = ?`, id)
	return err
}

// SetMomentPref adds or removes a hide/mute preference.
func (q *Queries) SetMomentPref(ctx context.Context, userID, targetID, kind string, on bool) error {
	if on {
		_, err := q.exec(ctx, `INSERT INTO moment_prefs (user_id, target_id, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, userID, targetID, kind)
		return err
	}
	_, err := q.exec(ctx, `DELETE FROM moment_prefs WHERE user_id = ? AND target_id = ? AND kind = ?`, userID, targetID, kind)
	return err
}

// MomentPrefs lists the targets of a user's preferences of kind.
func (q *Queries) MomentPrefs(ctx context.Context, userID, kind string) ([]string, error) {
	return q.strings(ctx, `SELECT target_id FROM moment_prefs WHERE user_id = ? AND kind = ?`, userID, kind)
}

// HidersOf lists the people who hide their posts from target.
func (q *Queries) HidersOf(ctx context.Context, targetID string) ([]string, error) {
	return q.strings(ctx, `SELECT user_id FROM moment_prefs WHERE target_id = ? AND kind = 'hide'`, targetID)
}

// BlocksOf lists the ids a user blocks or is blocked by.
func (q *Queries) BlocksOf(ctx context.Context, userID string) ([]string, error) {
	return q.strings(ctx, `SELECT blocked_id FROM blocks WHERE user_id = ? UNION SELECT user_id FROM blocks WHERE blocked_id = ?`, userID, userID)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// collect runs query and scans every row it answers.
func collect[T any](ctx context.Context, q *Queries, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanLike(sc scanner) (LikeRecord, error) {
	var l LikeRecord
	var at int64
	err := sc.Scan(&l.MomentID, &l.UserID, &at)
	l.CreatedAt = fromMicros(at)
	return l, err
}

const commentCols = `id, moment_id, user_id, COALESCE(reply_to, ''), body, created_at`

func scanComment(sc scanner) (CommentRecord, error) {
	var c CommentRecord
	var at int64
	err := sc.Scan(&c.ID, &c.MomentID, &c.UserID, &c.ReplyTo, &c.Body, &at)
	c.CreatedAt = fromMicros(at)
	return c, err
}

const mediaCols = `id, owner_id, kind, mime, size, meta, created_at`

func scanMedia(sc scanner) (MediaRecord, error) {
	var m MediaRecord
	var at int64
	err := sc.Scan(&m.ID, &m.OwnerID, &m.Kind, &m.Mime, &m.Size, &m.Meta, &at)
	m.CreatedAt = fromMicros(at)
	return m, err
}

// LikesOf returns the likes of posts, oldest first per post.
func (q *Queries) LikesOf(ctx context.Context, ids []string) (map[string][]LikeRecord, error) {
	out := map[string][]LikeRecord{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	likes, err := collect(ctx, q, scanLike, `SELECT moment_id, user_id, created_at FROM moment_likes WHERE moment_id IN `+in+` ORDER BY created_at, user_id`, args...)
	for _, l := range likes {
		out[l.MomentID] = append(out[l.MomentID], l)
	}
	return out, err
}

// CommentsOf returns the comments of posts, oldest first per post.
func (q *Queries) CommentsOf(ctx context.Context, ids []string) (map[string][]CommentRecord, error) {
	out := map[string][]CommentRecord{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	cs, err := collect(ctx, q, scanComment, `SELECT `+commentCols+` FROM moment_comments WHERE moment_id IN `+in+` ORDER BY created_at, id`, args...)
	for _, c := range cs {
		out[c.MomentID] = append(out[c.MomentID], c)
	}
	return out, err
}

// CommentsBy lists the comments a person wrote, oldest first.
func (q *Queries) CommentsBy(ctx context.Context, userID string) ([]CommentRecord, error) {
	return collect(ctx, q, scanComment, `SELECT `+commentCols+` FROM moment_comments WHERE user_id = ? ORDER BY created_at, id`, userID)
}

// FindComment returns a comment, or not_found.
func (q *Queries) FindComment(ctx context.Context, id string) (CommentRecord, error) {
	c, err := scanComment(q.row(ctx, `SELECT `+commentCols+` FROM moment_comments WHERE id = ?`, id))
	return c, notFound(err, "comment")
}

// MediaByIDs returns media records by id (missing ones are absent).
func (q *Queries) MediaByIDs(ctx context.Context, ids []string) (map[string]MediaRecord, error) {
	out := map[string]MediaRecord{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	ms, err := collect(ctx, q, scanMedia, `SELECT `+mediaCols+` FROM media WHERE id IN `+in, args...)
	for _, m := range ms {
		out[m.ID] = m
	}
	return out, err
}

// SettingsOf returns the settings documents of people (absent: defaults).
func (q *Queries) SettingsOf(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	pairs, err := collect(ctx, q, func(sc scanner) ([2]string, error) {
		var p [2]string
		return p, sc.Scan(&p[0], &p[1])
	}, `SELECT user_id, doc FROM settings WHERE user_id IN `+in, args...)
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out, err
}
