package messaging

import (
	"context"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/search"
	"github.com/tkesj/tkesj/internal/store"
)

// Favorites (R-MSG-9): a person saves a message (with its media) or a
// Moment they can see. The favorite is a copy sealed with their own key —
// text, who wrote it and when, and their own copies of its media — so it is
// theirs alone, stays when the original is recalled or its author leaves,
// is in their export and goes with their account.

// maxFavorites bounds one person's favorites (searching them opens them all).
const maxFavorites = 1000

// MediaCopier makes toOwner their own sealed copy of an upload (media's
// CopyMedia; messaging cannot import media, so internal/service wires it).
type MediaCopier func(ctx context.Context, mediaID, toOwner string) (string, error)

// SetMediaCopier wires the media copier (forwards and favorites need it).
func (s *Service) SetMediaCopier(c MediaCopier) { s.copyMedia = c }

// Favorite is a saved item as its owner sees it.
type Favorite struct {
	ID             string
	Kind           string // message or moment
	ConversationID string
	Seq            int64
	MomentID       string
	AuthorID       string
	AuthorName     string
	ContentKind    string // text, image, ... for a message; moment for a Moment
	Text           string
	Media          []tkesj.MediaInfo
	Location       *tkesj.Location
	SentAt         time.Time
	CreatedAt      time.Time
}

// favoriteBody is the sealed part of a favorite.
type favoriteBody struct {
	Kind           string          `json:"kind"`
	ConversationID string          `json:"conversation_id,omitempty"`
	Seq            int64           `json:"seq,omitempty"`
	MomentID       string          `json:"moment_id,omitempty"`
	AuthorID       string          `json:"author_id"`
	AuthorName     string          `json:"author_name"`
	ContentKind    string          `json:"content_kind"`
	Text           string          `json:"text,omitempty"`
	MediaIDs       []string        `json:"media_ids,omitempty"`
	Location       *tkesj.Location `json:"location,omitempty"`
	SentAt         time.Time       `json:"sent_at"`
}

func favoriteAD(userID, id string) string { return "favorites/" + userID + "/" + id }

// FavoriteInput names what to save: a message by conversation and seq, or a Moment.
type FavoriteInput struct {
	ConversationID string
	Seq            int64
	MomentID       string
}

// AddFavorite saves a message the caller can see in a conversation they are
// in, or a Moment they can see; anything else is not_found.
func (s *Service) AddFavorite(ctx context.Context, a kernel.Auth, in FavoriteInput) (Favorite, error) {
	if (in.MomentID == "") == (in.ConversationID == "") {
		return Favorite{}, tkesj.Errorf(tkesj.EInvalid, "invalid_favorite", `send {"conversation_id","seq"} or {"moment_id"}`)
	}
	q := s.DB.Read()
	if n, err := q.CountFavorites(ctx, a.UserID); err != nil {
		return Favorite{}, s.Internal(ctx, "favorite", err)
	} else if n >= maxFavorites {
		return Favorite{}, tkesj.Errorf(tkesj.EConflict, "favorites_full", "you have %d favorites, the most there can be; remove some first", maxFavorites)
	}
	var b favoriteBody
	var media []string
	if in.MomentID != "" {
		m, err := s.GetMoment(ctx, a, in.MomentID)
		if err != nil {
			return Favorite{}, err
		}
		b = favoriteBody{Kind: "moment", MomentID: m.ID, AuthorID: m.Author.ID, AuthorName: m.Author.Nickname, ContentKind: "moment",
			Text: m.Text, Location: m.Location, SentAt: m.CreatedAt}
		for _, md := range m.Media {
			media = append(media, md.ID)
		}
	} else {
		m, err := s.visibleMessage(ctx, a, in.ConversationID, in.Seq)
		if err != nil {
			return Favorite{}, err
		}
		if !m.ExpiresAt.IsZero() {
			// A kept copy would outlive the timer its chat chose (R-MSG-10).
			return Favorite{}, tkesj.Errorf(tkesj.EInvalid, "disappearing_message", "a disappearing message cannot be kept in Favorites")
		}
		b = favoriteBody{Kind: "message", ConversationID: m.ConversationID, Seq: m.Seq, AuthorID: m.SenderID, ContentKind: m.Kind,
			Text: m.Text, Location: m.Location, SentAt: m.SentAt}
		if p, err := s.LookupProfile(ctx, q, m.SenderID); err == nil {
			b.AuthorName = p.Nickname
		}
		if m.Card != nil {
			b.Text = m.Card.Nickname + " (@" + m.Card.Username + ")"
		}
		if m.History != nil {
			b.Text = historyText(*m.History)
		}
		if m.Media != nil {
			media = append(media, m.Media.ID)
		}
	}
	copies, err := s.copyAll(ctx, media, a.UserID)
	if err != nil {
		return Favorite{}, s.Internal(ctx, "favorite", err)
	}
	b.MediaIDs = copies
	id := kernel.NewID("v")
	sealed, err := s.Seal(ctx, a.UserID, favoriteAD(a.UserID, id), b)
	if err != nil {
		s.deleteMediaCopies(ctx, copies)
		return Favorite{}, s.Internal(ctx, "favorite", err)
	}
	rec := store.FavoriteRecord{ID: id, UserID: a.UserID, Sealed: sealed, MediaIDs: copies, CreatedAt: s.Now()}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.CreateFavorite(ctx, rec) }); err != nil {
		s.deleteMediaCopies(ctx, copies)
		return Favorite{}, s.Internal(ctx, "favorite", err)
	}
	return s.favoriteView(ctx, rec, b), nil
}

// copyAll copies media for owner, all or none.
func (s *Service) copyAll(ctx context.Context, media []string, owner string) ([]string, error) {
	var out []string
	for _, id := range media {
		if s.copyMedia == nil {
			return nil, errNoCopier
		}
		cp, err := s.copyMedia(ctx, id, owner)
		if err != nil {
			s.deleteMediaCopies(ctx, out)
			return nil, err
		}
		out = append(out, cp)
	}
	return out, nil
}

var errNoCopier = tkesj.Errorf(tkesj.EInternal, "internal", "media copies are not wired")

// deleteMediaCopies deletes copies made for a favorite or forward that did
// not happen, or for a favorite removed.
func (s *Service) deleteMediaCopies(ctx context.Context, ids []string) {
	for _, id := range ids {
		if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DeleteMedia(ctx, id) }); err != nil {
			s.Log.WarnContext(ctx, "delete media copy", "media", id, "err", err.Error())
			continue
		}
		s.Blobs.Delete(ctx, id)
		s.Blobs.Delete(ctx, id+"_t")
	}
}

// visibleMessage returns a message the caller may see: a member, sent after
// they joined, not deleted for them, not recalled, its sender not destroyed
// and not expired. Anything else is not_found.
func (s *Service) visibleMessage(ctx context.Context, a kernel.Auth, convID string, seq int64) (Message, error) {
	q := s.DB.Read()
	mem, err := s.Member(ctx, q, a, convID)
	if err != nil {
		return Message{}, err
	}
	if seq <= mem.JoinedSeq {
		return Message{}, tkesj.ErrNotFound("message")
	}
	recs, err := q.Messages(ctx, store.MessageFilter{ConvID: convID, ViewerID: a.UserID, AfterSeq: seq - 1, BeforeSeq: seq + 1, Limit: 1, LiveAt: s.Now()})
	if err != nil {
		return Message{}, s.Internal(ctx, "message", err)
	}
	if len(recs) == 0 || recs[0].Seq != seq || recs[0].Recalled || recs[0].Body == nil || s.expired(recs[0]) || recs[0].Kind == KindSystem {
		return Message{}, tkesj.ErrNotFound("message")
	}
	m := s.MessageView(ctx, recs[0])
	if m.SenderDeleted {
		return Message{}, tkesj.ErrNotFound("message")
	}
	return m, nil
}

// Favorites lists the caller's favorites, newest first; with query, those
// whose text or author's name holds every word of it (opened and matched
// here: nothing of a favorite is indexed in the clear).
func (s *Service) Favorites(ctx context.Context, a kernel.Auth, query string) ([]Favorite, error) {
	query = strings.TrimSpace(query)
	if len([]rune(query)) > 100 {
		return nil, errInvalidSearch
	}
	recs, err := s.DB.Read().Favorites(ctx, a.UserID)
	if err != nil {
		return nil, s.Internal(ctx, "favorites", err)
	}
	out := []Favorite{}
	for _, r := range recs {
		var b favoriteBody
		if err := s.Open(ctx, a.UserID, favoriteAD(a.UserID, r.ID), r.Sealed, &b); err != nil {
			return nil, s.Internal(ctx, "favorites", err)
		}
		if query != "" && !search.Matches(b.Text+" "+b.AuthorName, query) {
			continue
		}
		out = append(out, s.favoriteView(ctx, r, b))
	}
	return out, nil
}

func (s *Service) favoriteView(ctx context.Context, r store.FavoriteRecord, b favoriteBody) Favorite {
	f := Favorite{ID: r.ID, Kind: b.Kind, ConversationID: b.ConversationID, Seq: b.Seq, MomentID: b.MomentID, AuthorID: b.AuthorID,
		AuthorName: b.AuthorName, ContentKind: b.ContentKind, Text: b.Text, Location: b.Location, SentAt: b.SentAt, CreatedAt: r.CreatedAt}
	for _, id := range b.MediaIDs {
		if mr, err := s.DB.Read().FindMedia(ctx, id); err == nil {
			f.Media = append(f.Media, mediaInfo(mr))
		}
	}
	return f
}

// DeleteFavorite removes one of the caller's favorites and its media
// copies; anyone else's (or none) is not_found.
func (s *Service) DeleteFavorite(ctx context.Context, a kernel.Auth, id string) error {
	var media []string
	var found bool
	err := s.DB.Update(ctx, func(q *store.Queries) (err error) {
		media, found, err = q.DeleteFavorite(ctx, a.UserID, id)
		return err
	})
	if err != nil {
		return s.Internal(ctx, "delete favorite", err)
	}
	if !found {
		return tkesj.ErrNotFound("favorite")
	}
	s.deleteMediaCopies(ctx, media)
	return nil
}

// Pin pins or unpins a conversation for the caller (R-MSG-9): pinned
// conversations list first, the latest pin on top.
func (s *Service) Pin(ctx context.Context, a kernel.Auth, id string, pinned bool) error {
	if _, err := s.Member(ctx, s.DB.Read(), a, id); err != nil {
		return err
	}
	at := time.Time{}
	if pinned {
		at = s.Now()
	}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.SetPinned(ctx, id, a.UserID, at) }); err != nil {
		return s.Internal(ctx, "pin", err)
	}
	return nil
}
