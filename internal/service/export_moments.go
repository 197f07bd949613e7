package service

import (
	"context"
	"time"
)

// exportMoments writes moments.json: every post the person made, with its
// likes and comments as they see them, the comments they wrote on other
// people's posts, and their timeline as references (R-RGT-1).
func (s *Service) exportMoments(ctx context.Context, a Auth, st *exportState, paths map[string]string) error {
	var posts []map[string]any
	cursor := ""
	for page := 0; page < 10_000; page++ {
		ms, next, err := s.UserMoments(ctx, a, a.UserID, cursor, 50)
		if err != nil {
			st.lost("moments.json", "", "read_failed")
			return nil
		}
		for _, m := range ms {
			media := []map[string]any{}
			for _, x := range m.Media {
				media = append(media, map[string]any{"media_id": x.ID, "kind": x.Kind, "path": paths[x.ID]})
			}
			likes := []map[string]any{}
			for _, p := range m.Likes {
				likes = append(likes, map[string]any{"user_id": p.ID, "nickname": p.Nickname})
			}
			comments := []map[string]any{}
			for _, c := range m.Comments {
				comments = append(comments, map[string]any{"id": c.ID, "user_id": c.User.ID, "nickname": c.User.Nickname, "text": c.Text,
					"reply_to": c.ReplyTo, "created_at": c.CreatedAt.Format(time.RFC3339)})
			}
			p := map[string]any{"id": m.ID, "text": m.Text, "visibility": m.Visibility, "listed_users": m.Users, "media": media,
				"likes": likes, "comments": comments, "created_at": m.CreatedAt.Format(time.RFC3339)}
			if m.Location != nil {
				p["location"] = m.Location
			}
			posts = append(posts, p)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	written := []map[string]any{}
	if cs, err := s.db.Read().CommentsBy(ctx, a.UserID); err == nil {
		for _, c := range cs {
			var text string
			if s.open(ctx, c.UserID, commentAD(c.ID), c.Body, &text) != nil {
				continue
			}
			written = append(written, map[string]any{"id": c.ID, "moment_id": c.MomentID, "text": text, "reply_to": c.ReplyTo, "created_at": c.CreatedAt.Format(time.RFC3339)})
		}
	} else {
		st.lost("moments.json", "", "comments_read_failed")
	}
	if posts == nil {
		posts = []map[string]any{}
	}
	timeline, err := s.timelineExport(ctx, a.UserID)
	if err != nil {
		st.lost("moments.json", "", "timeline_read_failed")
		timeline = []map[string]any{}
	}
	st.counts["moments"] = len(posts)
	st.counts["comments_written"] = len(written)
	st.counts["timeline_entries"] = len(timeline)
	return st.json("moments.json", "moments", len(posts), map[string]any{"moments": posts, "comments_written": written, "timeline": timeline})
}
