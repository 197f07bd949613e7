package compliance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/media"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/store"
)

// Public links to one post (policy §2 (III) 1, "based on your active
// choice"; R-SHR-4). Only the post's author can make one, for any
// visibility: the link is the author's active choice to publish that one
// post, and the API says so. The public page shows the post's text, its
// pictures or video and its date, and nothing else: no author name, phone,
// username or avatar, no location, no likes or comments (they are other
// people's). Deleting the post, revoking the link or destroying the account
// ends the link (404).

func shareTokenHash(token string) []byte {
	h := sha256.Sum256([]byte("share-link\x00" + token))
	return h[:]
}

// CreateShareLink makes a new public link to the caller's post and revokes
// any earlier one; it returns the token. Anyone else's post is not_found.
func (s *Service) CreateShareLink(ctx context.Context, a kernel.Auth, momentID string) (string, error) {
	if s.Ceasing(ctx) {
		return "", ErrCeasing
	}
	m, err := s.DB.Read().FindMoment(ctx, momentID)
	if err != nil || m.AuthorID != a.UserID {
		return "", tkesj.ErrNotFound("moment")
	}
	b := make([]byte, 20)
	rand.Read(b)
	token := kernel.IDEncoding.EncodeToString(b)
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if _, err := q.DeleteShareLinks(ctx, momentID); err != nil {
			return err
		}
		return q.CreateShareLink(ctx, store.ShareLinkRecord{TokenHash: shareTokenHash(token), MomentID: momentID, AuthorID: a.UserID, CreatedAt: s.Now()})
	})
	if err != nil {
		return "", s.Internal(ctx, "share link", err)
	}
	return token, nil
}

// RevokeShareLink ends the public link to the caller's post.
func (s *Service) RevokeShareLink(ctx context.Context, a kernel.Auth, momentID string) error {
	m, err := s.DB.Read().FindMoment(ctx, momentID)
	if err != nil || m.AuthorID != a.UserID {
		return tkesj.ErrNotFound("moment")
	}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { _, err := q.DeleteShareLinks(ctx, momentID); return err }); err != nil {
		return s.Internal(ctx, "revoke share link", err)
	}
	return nil
}

// PublicPost is what a public link shows.
type PublicPost struct {
	Text      string
	Media     []tkesj.MediaInfo
	CreatedAt time.Time
}

func (s *Service) sharedMoment(ctx context.Context, token string) (store.MomentRecord, error) {
	if token == "" || len(token) > 64 || strings.Trim(token, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return store.MomentRecord{}, tkesj.ErrNotFound("link")
	}
	q := s.DB.Read()
	l, err := q.FindShareLink(ctx, shareTokenHash(token))
	if err != nil {
		return store.MomentRecord{}, tkesj.ErrNotFound("link")
	}
	m, err := q.FindMoment(ctx, l.MomentID)
	if err != nil || m.AuthorID != l.AuthorID {
		return store.MomentRecord{}, tkesj.ErrNotFound("link")
	}
	return m, nil
}

// PublicPost returns the post behind a link, for anyone (no sign-in).
func (s *Service) PublicPost(ctx context.Context, token string) (PublicPost, error) {
	m, err := s.sharedMoment(ctx, token)
	if err != nil {
		return PublicPost{}, err
	}
	var body social.MomentBody
	if err := s.Open(ctx, m.AuthorID, social.MomentAD(m.ID), m.Body, &body); err != nil {
		return PublicPost{}, tkesj.ErrNotFound("link")
	}
	p := PublicPost{Text: body.Text, CreatedAt: m.CreatedAt, Media: []tkesj.MediaInfo{}}
	for _, id := range m.MediaIDs {
		if mr, err := s.DB.Read().FindMedia(ctx, id); err == nil {
			p.Media = append(p.Media, tkesj.MediaInfo{ID: mr.ID, Kind: mr.Kind, Mime: mr.Mime, Size: mr.Size})
		}
	}
	return p, nil
}

// PublicPostMedia returns the n-th picture or video of the post behind a
// link, and nothing else.
func (s *Service) PublicPostMedia(ctx context.Context, token string, n int) (media.MediaFile, error) {
	m, err := s.sharedMoment(ctx, token)
	if err != nil {
		return media.MediaFile{}, err
	}
	if n < 0 || n >= len(m.MediaIDs) {
		return media.MediaFile{}, tkesj.ErrNotFound("media")
	}
	rec, err := s.DB.Read().FindMedia(ctx, m.MediaIDs[n])
	if err != nil {
		return media.MediaFile{}, tkesj.ErrNotFound("media")
	}
	f, err := s.FindMediaFile(ctx, rec, false)
	f.ID = "" // the media id is not part of the public page
	return f, err
}
