package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/media/process"
	"github.com/tkesj/tkesj/internal/privacy"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// MomentInput is a new post (R-MOM-1, R-MOM-2).
type MomentInput struct {
	Text       string
	MediaIDs   []string
	Location   *Location
	Visibility string
	Users      []string // the list for only/except
}

type momentBody struct {
	Text     string    `json:"text,omitempty"`
	Location *Location `json:"location,omitempty"`
}

// Moment is a post as one viewer may see it: likes and comments are only
// those by the viewer and the viewer's friends (R-MOM-3).
type Moment struct {
	ID         string
	Author     Profile
	Text       string
	Media      []MediaInfo
	Location   *Location
	Visibility string   // set only in the author's own view
	Users      []string // likewise
	CreatedAt  time.Time
	Likes      []Profile
	Comments   []Comment
}

// Comment is a comment as a viewer sees it.
type Comment struct {
	ID, ReplyTo string
	User        Profile
	Text        string
	CreatedAt   time.Time
}

func momentAD(id string) string  { return "moments/" + id }
func commentAD(id string) string { return "moment_comments/" + id }

// CreateMoment posts text, up to 9 pictures or one video, and an optional
// location (which needs the location permission, R-PRM-2).
func (s *Service) CreateMoment(ctx context.Context, a Auth, in MomentInput) (Moment, error) {
	if err := s.requireActive(ctx, a); err != nil {
		return Moment{}, err
	}
	in.Text = strings.TrimSpace(in.Text)
	if utf8.RuneCountInString(in.Text) > 2000 || !utf8.ValidString(in.Text) {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_text", "a post has at most 2000 characters")
	}
	if in.Text == "" && len(in.MediaIDs) == 0 {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "empty_post", "a post needs text, pictures or a video")
	}
	q := s.db.Read()
	if in.Visibility == "" {
		st, err := s.settings(ctx, q, a.UserID)
		if err != nil {
			return Moment{}, s.internal(ctx, "create moment", err)
		}
		in.Visibility = st.DefaultPostVisibility
	}
	ok, needsList := privacy.ValidVisibility(in.Visibility)
	if !ok {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_visibility", "visibility.kind must be friends, only, except or private")
	}
	users := uniqueOthers(in.Users, a.UserID)
	if needsList && len(users) == 0 {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_visibility", "visibility %q needs a list of friends in visibility.users", in.Visibility)
	}
	if !needsList {
		users = nil
	}
	if len(users) > 5000 {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_visibility", "the list has too many people")
	}
	if in.Location != nil {
		l := in.Location
		if l.Lat < -90 || l.Lat > 90 || l.Lng < -180 || l.Lng > 180 || utf8.RuneCountInString(l.Name) > 200 {
			return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_location", "a location needs lat in [-90, 90] and lng in [-180, 180]")
		}
		if err := s.RequirePermission(ctx, a.UserID, tkesj.PermLocation, "adding a location to a post"); err != nil {
			return Moment{}, err
		}
	}
	if len(in.MediaIDs) > 9 {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "too_many_media", "a post has at most 9 pictures or one video")
	}
	var media []MediaInfo
	videos := 0
	for _, id := range in.MediaIDs {
		mr, err := q.FindMedia(ctx, id)
		if err != nil || mr.OwnerID != a.UserID {
			return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_media", "media_ids must name pictures or a video you uploaded")
		}
		switch mr.Kind {
		case process.KindImage:
		case process.KindVideo:
			videos++
		default:
			return Moment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_media", "a post holds pictures or one video, not %s files", mr.Kind)
		}
		media = append(media, MediaInfo{ID: mr.ID, Kind: mr.Kind, Mime: mr.Mime, Size: mr.Size})
	}
	if videos > 1 || (videos == 1 && len(in.MediaIDs) > 1) {
		return Moment{}, tkesj.Errorf(tkesj.EInvalid, "too_many_media", "a post has at most 9 pictures or one video")
	}
	id := newID("p")
	sealed, err := s.seal(ctx, a.UserID, momentAD(id), momentBody{Text: in.Text, Location: in.Location})
	if err != nil {
		return Moment{}, s.internal(ctx, "create moment", err)
	}
	now := s.now()
	rec := store.MomentRecord{ID: id, AuthorID: a.UserID, Body: sealed, Visibility: in.Visibility, CreatedAt: now, Audience: users, MediaIDs: in.MediaIDs}
	// The post, the author's own timeline reference and the durable marker
	// of its fan-out commit together: the author sees it at once, and a
	// crash before the worker is done only delays the friends' references.
	if err := s.db.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateMoment(ctx, rec); err != nil {
			return err
		}
		if err := q.AddTimelineRef(ctx, a.UserID, rec); err != nil {
			return err
		}
		if in.Visibility == privacy.Private {
			return nil
		}
		return q.EnqueuePostFanOut(ctx, id, a.UserID, now)
	}); err != nil {
		return Moment{}, s.internal(ctx, "create moment", err)
	}
	s.fanout.kick()
	me, _ := s.profile(ctx, s.db.Read(), a.UserID)
	return Moment{ID: id, Author: me, Text: in.Text, Media: media, Location: in.Location, Visibility: in.Visibility, Users: users, CreatedAt: now}, nil
}

// viewer caches what the visibility rules need about one viewer. Friendship
// is learnt only for the people a page names (knowFriends), so a viewer with
// 10,000 friends costs what one with ten does.
type viewer struct {
	id       string
	friends  map[string]bool // for the ids in known
	known    map[string]bool
	blocked  map[string]bool
	hiders   map[string]bool // authors who hide their posts from the viewer
	muted    map[string]bool // authors whose posts the viewer does not want
	ranges   map[string]string
	profiles map[string]Profile
}

func (s *Service) newViewer(ctx context.Context, q *store.Queries, id string) (*viewer, error) {
	v := &viewer{id: id, friends: map[string]bool{}, known: map[string]bool{}, blocked: map[string]bool{}, hiders: map[string]bool{}, muted: map[string]bool{},
		ranges: map[string]string{}, profiles: map[string]Profile{}}
	for _, f := range []struct {
		load func() ([]string, error)
		set  map[string]bool
	}{
		{func() ([]string, error) { return q.BlocksOf(ctx, id) }, v.blocked},
		{func() ([]string, error) { return q.HidersOf(ctx, id) }, v.hiders},
		{func() ([]string, error) { return q.MomentPrefs(ctx, id, "mute") }, v.muted},
	} {
		ids, err := f.load()
		if err != nil {
			return nil, err
		}
		for _, x := range ids {
			f.set[x] = true
		}
	}
	return v, nil
}

// knowFriends learns, in one query, which of ids not yet known are the
// viewer's friends.
func (s *Service) knowFriends(ctx context.Context, q *store.Queries, v *viewer, ids []string) error {
	var need []string
	for _, id := range ids {
		if !v.known[id] {
			v.known[id] = true
			need = append(need, id)
		}
	}
	friends, err := q.FriendsAmong(ctx, v.id, need)
	if err != nil {
		for _, id := range need {
			delete(v.known, id)
		}
		return err
	}
	for _, f := range friends {
		v.friends[f] = true
	}
	return nil
}

func (s *Service) authorRange(ctx context.Context, q *store.Queries, v *viewer, author string) string {
	if r, ok := v.ranges[author]; ok {
		return r
	}
	st, err := s.settings(ctx, q, author)
	r := privacy.RangeAll
	if err == nil {
		r = st.MomentsRange
	}
	v.ranges[author] = r
	return r
}

func (s *Service) canSee(ctx context.Context, q *store.Queries, v *viewer, m store.MomentRecord) bool {
	if err := s.knowFriends(ctx, q, v, []string{m.AuthorID}); err != nil {
		return false
	}
	listed := map[string]bool{}
	for _, u := range m.Audience {
		listed[u] = true
	}
	return privacy.CanSeePost(
		privacy.Post{Author: m.AuthorID, Visibility: m.Visibility, Listed: listed, CreatedAt: m.CreatedAt},
		privacy.Relation{Viewer: v.id, Friends: v.friends[m.AuthorID], Blocked: v.blocked[m.AuthorID],
			HiddenFromViewer: v.hiders[m.AuthorID], AuthorRange: s.authorRange(ctx, q, v, m.AuthorID)},
		s.now())
}

func (s *Service) profileOf(ctx context.Context, q *store.Queries, v *viewer, id string) (Profile, bool) {
	if p, ok := v.profiles[id]; ok {
		return p, p.ID != ""
	}
	p, err := s.profile(ctx, q, id)
	if err != nil {
		v.profiles[id] = Profile{}
		return Profile{}, false
	}
	v.profiles[id] = p
	return p, true
}

// momentViews opens posts for a viewer who may see them, loading the likes,
// comments and media of the whole page in three queries.
func (s *Service) momentViews(ctx context.Context, q *store.Queries, v *viewer, ms []store.MomentRecord) ([]Moment, error) {
	ids := make([]string, 0, len(ms))
	var mediaIDs []string
	for _, m := range ms {
		ids = append(ids, m.ID)
		mediaIDs = append(mediaIDs, m.MediaIDs...)
	}
	likes, err := q.LikesOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	comments, err := q.CommentsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	media, err := q.MediaByIDs(ctx, mediaIDs)
	if err != nil {
		return nil, err
	}
	var writers []string
	for _, ls := range likes {
		for _, l := range ls {
			writers = append(writers, l.UserID)
		}
	}
	for _, cs := range comments {
		for _, c := range cs {
			writers = append(writers, c.UserID)
		}
	}
	if err := s.knowFriends(ctx, q, v, writers); err != nil {
		return nil, err
	}
	out := make([]Moment, 0, len(ms))
	for _, m := range ms {
		var b momentBody
		if err := s.open(ctx, m.AuthorID, momentAD(m.ID), m.Body, &b); err != nil {
			continue // a post whose author's key is gone
		}
		author, _ := s.profileOf(ctx, q, v, m.AuthorID)
		view := Moment{ID: m.ID, Author: author, Text: b.Text, Location: b.Location, CreatedAt: m.CreatedAt,
			Likes: []Profile{}, Comments: []Comment{}, Media: []MediaInfo{}}
		if m.AuthorID == v.id {
			view.Visibility, view.Users = m.Visibility, m.Audience // the audience is the author's business only
		}
		for _, id := range m.MediaIDs {
			if mr, ok := media[id]; ok {
				view.Media = append(view.Media, MediaInfo{ID: mr.ID, Kind: mr.Kind, Mime: mr.Mime, Size: mr.Size})
			}
		}
		for _, l := range likes[m.ID] {
			if privacy.CanSeeInteraction(v.id, l.UserID, v.friends[l.UserID], v.blocked[l.UserID]) {
				if p, ok := s.profileOf(ctx, q, v, l.UserID); ok {
					view.Likes = append(view.Likes, p)
				}
			}
		}
		for _, c := range comments[m.ID] {
			if !privacy.CanSeeInteraction(v.id, c.UserID, v.friends[c.UserID], v.blocked[c.UserID]) {
				continue
			}
			p, ok := s.profileOf(ctx, q, v, c.UserID)
			if !ok {
				continue
			}
			var text string
			if err := s.open(ctx, c.UserID, commentAD(c.ID), c.Body, &text); err != nil {
				continue
			}
			view.Comments = append(view.Comments, Comment{ID: c.ID, ReplyTo: c.ReplyTo, User: p, Text: text, CreatedAt: c.CreatedAt})
		}
		out = append(out, view)
	}
	return out, nil
}

// preloadRanges loads, in one query, the Moments range of authors not yet known.
func (s *Service) preloadRanges(ctx context.Context, q *store.Queries, v *viewer, authors []string) {
	var need []string
	for _, a := range authors {
		if _, ok := v.ranges[a]; !ok {
			need = append(need, a)
			v.ranges[a] = privacy.RangeAll
		}
	}
	docs, err := q.SettingsOf(ctx, need)
	if err != nil {
		for _, id := range need {
			delete(v.ranges, id) // fall back to one query each
		}
		return
	}
	for id, doc := range docs {
		st := DefaultSettings()
		if json.Unmarshal([]byte(doc), &st) == nil {
			v.ranges[id] = st.MomentsRange
		}
	}
}

// visibleMoment returns a post the caller may see, or not_found.
func (s *Service) visibleMoment(ctx context.Context, q *store.Queries, v *viewer, id string) (store.MomentRecord, error) {
	m, err := q.FindMoment(ctx, id)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return m, err
		}
		return m, s.internal(ctx, "moment", err)
	}
	if !s.canSee(ctx, q, v, m) {
		return m, tkesj.ErrNotFound("moment")
	}
	return m, nil
}

// GetMoment returns one post the caller may see; anything else is not_found.
func (s *Service) GetMoment(ctx context.Context, a Auth, id string) (Moment, error) {
	q := s.db.Read()
	v, err := s.newViewer(ctx, q, a.UserID)
	if err != nil {
		return Moment{}, s.internal(ctx, "moment", err)
	}
	m, err := s.visibleMoment(ctx, q, v, id)
	if err != nil {
		return Moment{}, err
	}
	views, err := s.momentViews(ctx, q, v, []store.MomentRecord{m})
	if err != nil {
		return Moment{}, s.internal(ctx, "moment", err)
	}
	if len(views) == 0 {
		return Moment{}, tkesj.ErrNotFound("moment")
	}
	return views[0], nil
}

// Cursor pages are "micros:id" of the last post, base64url-encoded.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + ":" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	if c == "" {
		return time.Time{}, "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	at, id, ok := strings.Cut(string(b), ":")
	n, perr := strconv.ParseInt(at, 10, 64)
	if err != nil || !ok || perr != nil || id == "" || len(id) > 64 {
		return time.Time{}, "", tkesj.Errorf(tkesj.EInvalid, "invalid_cursor", "the cursor is not one this server gave out")
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// UserMoments returns one person's posts that the caller may see (their album).
func (s *Service) UserMoments(ctx context.Context, a Auth, userID, cursor string, limit int) ([]Moment, string, error) {
	q := s.db.Read()
	v, err := s.newViewer(ctx, q, a.UserID)
	if err != nil {
		return nil, "", s.internal(ctx, "user moments", err)
	}
	if _, ok := s.profileOf(ctx, q, v, userID); !ok || v.blocked[userID] {
		return nil, "", tkesj.ErrNotFound("user")
	}
	return s.momentPage(ctx, q, v, []string{userID}, cursor, limit)
}

func (s *Service) momentPage(ctx context.Context, q *store.Queries, v *viewer, authors []string, cursor string, limit int) ([]Moment, string, error) {
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 50)
	at, id, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	var page []store.MomentRecord
	more := true
	// Over-fetch and filter with the privacy rules; stop after a bounded
	// number of rounds so a viewer who may see little costs little.
	for round := 0; round < 10 && len(page) < limit && more; round++ {
		recs, err := q.Moments(ctx, store.MomentPage{Authors: authors, BeforeAt: at, BeforeID: id, Limit: limit * 2})
		if err != nil {
			return nil, "", s.internal(ctx, "moments", err)
		}
		more = len(recs) == limit*2
		authors := make([]string, len(recs))
		for i, m := range recs {
			authors[i] = m.AuthorID
		}
		s.preloadRanges(ctx, q, v, authors)
		for _, m := range recs {
			at, id = m.CreatedAt, m.ID
			if s.canSee(ctx, q, v, m) {
				page = append(page, m)
				if len(page) == limit {
					more = true
					break
				}
			}
		}
	}
	views, err := s.momentViews(ctx, q, v, page)
	if err != nil {
		return nil, "", s.internal(ctx, "moments", err)
	}
	if !more {
		return views, "", nil
	}
	return views, encodeCursor(at, id), nil
}

// DeleteMoment deletes the caller's post with its comments, likes and media
// (media also sent in a chat stays for the chat) (R-DEL-1).
func (s *Service) DeleteMoment(ctx context.Context, a Auth, id string) error {
	m, err := s.db.Read().FindMoment(ctx, id)
	if err != nil || m.AuthorID != a.UserID {
		return tkesj.ErrNotFound("moment")
	}
	var gone []string
	err = s.db.Update(ctx, func(q *store.Queries) error {
		if err := q.DeleteMomentRefs(ctx, id); err != nil {
			return err
		}
		if err := q.DeleteMoment(ctx, id); err != nil {
			return err
		}
		for _, mid := range m.MediaIDs {
			inChat, err := q.MediaInMessages(ctx, mid)
			if err != nil {
				return err
			}
			others, err := q.MomentsWithMedia(ctx, mid)
			if err != nil {
				return err
			}
			if !inChat && len(others) == 0 {
				if err := q.DeleteMedia(ctx, mid); err != nil {
					return err
				}
				gone = append(gone, mid)
			}
		}
		return nil
	})
	if err != nil {
		return s.internal(ctx, "delete moment", err)
	}
	for _, mid := range gone {
		s.blobs.Delete(ctx, mid)
		s.blobs.Delete(ctx, mid+"_t")
	}
	return nil
}

// Like likes a post the caller may see; the author hears of it.
func (s *Service) Like(ctx context.Context, a Auth, id string, like bool) error {
	q := s.db.Read()
	v, err := s.newViewer(ctx, q, a.UserID)
	if err != nil {
		return s.internal(ctx, "like", err)
	}
	m, err := s.visibleMoment(ctx, q, v, id)
	if err != nil {
		return err
	}
	err = s.db.Update(ctx, func(q *store.Queries) error {
		if like {
			return q.Like(ctx, id, a.UserID, s.now())
		}
		return q.Unlike(ctx, id, a.UserID)
	})
	if err != nil {
		return s.internal(ctx, "like", err)
	}
	if like && m.AuthorID != a.UserID {
		s.publish(ctx, []string{m.AuthorID}, wire.MomentLikeFrame{Type: "moment_like", MomentID: id, UserID: a.UserID})
	}
	return nil
}

// AddComment comments on (or replies within) a post the caller may see.
func (s *Service) AddComment(ctx context.Context, a Auth, id, text, replyTo string) (Comment, error) {
	if err := s.requireActive(ctx, a); err != nil {
		return Comment{}, err
	}
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > 500 || !utf8.ValidString(text) {
		return Comment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_text", "a comment has 1 to 500 characters")
	}
	q := s.db.Read()
	v, err := s.newViewer(ctx, q, a.UserID)
	if err != nil {
		return Comment{}, s.internal(ctx, "comment", err)
	}
	m, err := s.visibleMoment(ctx, q, v, id)
	if err != nil {
		return Comment{}, err
	}
	if replyTo != "" {
		c, err := q.FindComment(ctx, replyTo)
		if err != nil || c.MomentID != id {
			return Comment{}, tkesj.Errorf(tkesj.EInvalid, "invalid_reply", "reply_to must name a comment on this post")
		}
	}
	cid := newID("k")
	sealed, err := s.seal(ctx, a.UserID, commentAD(cid), text)
	if err != nil {
		return Comment{}, s.internal(ctx, "comment", err)
	}
	now := s.now()
	if err := s.db.Update(ctx, func(q *store.Queries) error {
		return q.AddComment(ctx, store.CommentRecord{ID: cid, MomentID: id, UserID: a.UserID, ReplyTo: replyTo, Body: sealed, CreatedAt: now})
	}); err != nil {
		return Comment{}, s.internal(ctx, "comment", err)
	}
	if m.AuthorID != a.UserID {
		s.publish(ctx, []string{m.AuthorID}, wire.MomentCommentFrame{Type: "moment_comment", MomentID: id, CommentID: cid, UserID: a.UserID})
	}
	me, _ := s.profile(ctx, s.db.Read(), a.UserID)
	return Comment{ID: cid, ReplyTo: replyTo, User: me, Text: text, CreatedAt: now}, nil
}

// DeleteComment deletes a comment: its writer or the post's author may.
func (s *Service) DeleteComment(ctx context.Context, a Auth, momentID, commentID string) error {
	q := s.db.Read()
	c, err := q.FindComment(ctx, commentID)
	if err != nil || c.MomentID != momentID {
		return tkesj.ErrNotFound("comment")
	}
	m, err := q.FindMoment(ctx, momentID)
	if err != nil || (c.UserID != a.UserID && m.AuthorID != a.UserID) {
		return tkesj.ErrNotFound("comment")
	}
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.DeleteComment(ctx, commentID) }); err != nil {
		return s.internal(ctx, "delete comment", err)
	}
	return nil
}

// SetMomentPref hides the caller's posts from someone ("hide") or hides
// someone's posts from the caller ("mute") (R-MOM-2).
func (s *Service) SetMomentPref(ctx context.Context, a Auth, target, kind string, on bool) error {
	if kind != "hide" && kind != "mute" {
		return tkesj.ErrNotFound("preference")
	}
	if target == a.UserID {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_target", "name someone other than yourself")
	}
	if _, err := s.profile(ctx, s.db.Read(), target); err != nil {
		return tkesj.ErrNotFound("user")
	}
	// The timeline follows at once: hiding from someone takes the caller's
	// posts out of their timeline, muting someone takes theirs out of the
	// caller's; undoing either backfills what the rules allow again.
	author, viewer := a.UserID, target
	if kind == "mute" {
		author, viewer = target, a.UserID
	}
	if err := s.db.Update(ctx, func(q *store.Queries) error {
		if err := q.SetMomentPref(ctx, a.UserID, target, kind, on); err != nil {
			return err
		}
		if on {
			return q.DeleteTimelineRefs(ctx, viewer, author)
		}
		return q.EnqueueBackfill(ctx, author, viewer, s.now())
	}); err != nil {
		return s.internal(ctx, "moment preference", err)
	}
	s.fanout.kick()
	return nil
}

// momentMediaVisible reports whether viewer may see a post carrying the media.
func (s *Service) momentMediaVisible(ctx context.Context, q *store.Queries, mediaID, viewerID string) (bool, error) {
	ids, err := q.MomentsWithMedia(ctx, mediaID)
	if err != nil || len(ids) == 0 {
		return false, err
	}
	v, err := s.newViewer(ctx, q, viewerID)
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if _, err := s.visibleMoment(ctx, q, v, id); err == nil {
			return true, nil
		}
	}
	return false, nil
}
