package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
)

func momentJSON(m service.Moment) wire.Moment {
	media := make([]wire.MomentMedia, 0, len(m.Media))
	for _, x := range m.Media {
		media = append(media, wire.MomentMedia{ID: x.ID, Kind: x.Kind, Mime: x.Mime, URL: "/api/v1/media/" + x.ID})
	}
	likes := make([]wire.Like, 0, len(m.Likes))
	for _, p := range m.Likes {
		likes = append(likes, wire.Like{User: profileJSON(p)})
	}
	comments := make([]wire.Comment, 0, len(m.Comments))
	for _, c := range m.Comments {
		comments = append(comments, commentJSON(c))
	}
	j := wire.Moment{ID: m.ID, Author: profileJSON(m.Author), Text: m.Text, Media: media,
		CreatedAt: m.CreatedAt.Format(time.RFC3339Nano), Likes: likes, Comments: comments}
	if m.Location != nil {
		j.Location = &wire.Location{Lat: m.Location.Lat, Lng: m.Location.Lng, Name: m.Location.Name}
	}
	if m.Visibility != "" {
		users := m.Users
		if users == nil {
			users = []string{}
		}
		j.Visibility = &wire.MomentVisibility{Kind: m.Visibility, Users: users}
	}
	return j
}

func commentJSON(c service.Comment) wire.Comment {
	return wire.Comment{ID: c.ID, User: profileJSON(c.User), Text: c.Text, CreatedAt: c.CreatedAt.Format(time.RFC3339Nano), ReplyTo: c.ReplyTo}
}

func (s *server) handleCreateMoment() http.Handler {
	type request struct {
		Text       string            `json:"text"`
		MediaIDs   []string          `json:"media_ids"`
		Location   *service.Location `json:"location"`
		Visibility *struct {
			Kind  string   `json:"kind"`
			Users []string `json:"users"`
		} `json:"visibility"`
	}
	return handleJSON(s, 201, func(r *http.Request, req request) (any, error) {
		in := service.MomentInput{Text: req.Text, MediaIDs: req.MediaIDs, Location: req.Location}
		if req.Visibility != nil {
			in.Visibility, in.Users = req.Visibility.Kind, req.Visibility.Users
			if in.Visibility == "" {
				return nil, errorf(tkesj.EInvalid, "invalid_visibility", "visibility.kind must be friends, only, except or private")
			}
		}
		m, err := s.svc.CreateMoment(r.Context(), authOf(r), in)
		return momentJSON(m), err
	})
}

func pageJSON(ms []service.Moment, next string) wire.MomentPage {
	out := make([]wire.Moment, 0, len(ms))
	for _, m := range ms {
		out = append(out, momentJSON(m))
	}
	return wire.MomentPage{Moments: out, NextCursor: next}
}

func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errorf(tkesj.EInvalid, "invalid_query", "limit must be a non-negative whole number")
	}
	return n, nil
}

func (s *server) handleTimeline() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		limit, err := queryLimit(r)
		if err != nil {
			return nil, err
		}
		ms, next, err := s.svc.Timeline(r.Context(), authOf(r), r.URL.Query().Get("cursor"), limit)
		return pageJSON(ms, next), err
	})
}

func (s *server) handleUserMoments() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		limit, err := queryLimit(r)
		if err != nil {
			return nil, err
		}
		ms, next, err := s.svc.UserMoments(r.Context(), authOf(r), r.PathValue("id"), r.URL.Query().Get("cursor"), limit)
		return pageJSON(ms, next), err
	})
}

func (s *server) handleMoment() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		m, err := s.svc.GetMoment(r.Context(), authOf(r), r.PathValue("id"))
		return momentJSON(m), err
	})
}

func (s *server) handleEditMoment() http.Handler {
	type request struct {
		Visibility *struct {
			Kind  string   `json:"kind"`
			Users []string `json:"users"`
		} `json:"visibility"`
	}
	return handleJSON(s, 200, func(r *http.Request, req request) (any, error) {
		if req.Visibility == nil {
			return nil, errorf(tkesj.EInvalid, "invalid_visibility", "send the new visibility as visibility.kind (and visibility.users for only or except)")
		}
		m, err := s.svc.EditMomentVisibility(r.Context(), authOf(r), r.PathValue("id"), req.Visibility.Kind, req.Visibility.Users)
		return momentJSON(m), err
	})
}

func (s *server) handleDeleteMoment() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.DeleteMoment(r.Context(), authOf(r), r.PathValue("id"))
	})
}

func (s *server) handleLike(like bool) http.Handler {
	status := 200
	if !like {
		status = 204
	}
	return s.handle(status, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return wire.Liked{Liked: like}, s.svc.Like(r.Context(), authOf(r), r.PathValue("id"), like)
	})
}

func (s *server) handleComment() http.Handler {
	type request struct {
		Text    string `json:"text"`
		ReplyTo string `json:"reply_to"`
	}
	return handleJSON(s, 201, func(r *http.Request, req request) (any, error) {
		c, err := s.svc.AddComment(r.Context(), authOf(r), r.PathValue("id"), req.Text, req.ReplyTo)
		return commentJSON(c), err
	})
}

func (s *server) handleDeleteComment() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.DeleteComment(r.Context(), authOf(r), r.PathValue("id"), r.PathValue("comment"))
	})
}

func (s *server) handleMomentPref(kind string, on bool) http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.SetMomentPref(r.Context(), authOf(r), r.PathValue("id"), kind, on)
	})
}
