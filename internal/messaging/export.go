package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/wire"
)

const exportPageSize = 100

// exportConversations writes each conversation's messages to
// messages/<id>.json, page by page through Messages (so exactly what the
// person can still see: after they joined, minus what they deleted for
// themselves), then conversations.json with members' public profiles.
func (s *Service) exportConversations(ctx context.Context, a kernel.Auth, x *kernel.Archive) error {
	cs, err := s.Conversations(ctx, a)
	if err != nil {
		x.Lost("conversations.json", "", "read_failed")
		return nil
	}
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		path := "messages/" + c.ID + ".json"
		j := map[string]any{"id": c.ID, "kind": c.Kind, "role": c.Role, "muted": c.Muted, "pinned": c.Pinned, "messages_path": path}
		title := c.Name
		if c.Kind == "group" {
			j["name"], j["announcement"] = c.Name, c.Announcement
			x.Count("groups", 1)
		} else if c.Peer != nil {
			if c.Peer.Username == "" {
				j["peer"] = map[string]any{"id": c.Peer.ID, "deleted": true}
				title = "(deleted account)"
			} else {
				j["peer"] = social.ExportProfile(*c.Peer)
				title = c.Peer.Nickname
			}
		}
		if full, err := s.Conversation(ctx, a, c.ID); err == nil {
			ms := make([]map[string]any, 0, len(full.Members))
			for _, m := range full.Members {
				mj := social.ExportProfile(m.Profile)
				mj["role"] = m.Role
				ms = append(ms, mj)
			}
			j["members"] = ms
		} else if tkesj.ErrorKindOf(err) != tkesj.ENotFound {
			x.Lost("conversations.json#"+c.ID+"/members", "", "read_failed")
		}
		n, err := s.exportMessages(ctx, a, x, c, path)
		if err != nil {
			return err
		}
		j["message_count"] = n
		x.Count("messages", n)
		out = append(out, j)
		x.Conversations = append(x.Conversations, kernel.ArchiveConversation{ID: c.ID, Kind: c.Kind, Title: title, Path: path, Count: n})
	}
	x.Count("conversations", len(out))
	return x.JSON("conversations.json", "conversations", len(out), map[string]any{"conversations": out})
}

// exportMessages streams one conversation, oldest first. A page that cannot
// be read ends the file early and is listed as missing.
func (s *Service) exportMessages(ctx context.Context, a kernel.Auth, x *kernel.Archive, c Conversation, path string) (int, error) {
	f, err := x.Create(path, true)
	if err != nil {
		return 0, err
	}
	head, _ := json.Marshal(map[string]any{"conversation_id": c.ID, "kind": c.Kind})
	if _, err := fmt.Fprintf(f, "%s,\n \"messages\": [", head[:len(head)-1]); err != nil {
		return 0, err
	}
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	n := 0
	var after int64
	for {
		page, err := s.Messages(ctx, a, c.ID, after, 0, exportPageSize)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			x.Lost(path, "", "incomplete")
			break
		}
		for _, m := range page {
			j := exportedMessage{Message: MessageJSON(m)}
			if m.Media != nil {
				j.MediaPath, _ = x.MediaPath(m.Media.ID)
			}
			line.Reset()
			if n == 0 {
				line.WriteString("\n  ")
			} else {
				line.WriteString(",\n  ")
			}
			if err := enc.Encode(j); err != nil {
				return 0, err
			}
			line.Truncate(line.Len() - 1) // Encode's newline
			if _, err := f.Write(line.Bytes()); err != nil {
				return 0, err
			}
			n++
			after = m.Seq
		}
		if len(page) < exportPageSize {
			break
		}
	}
	if _, err := io.WriteString(f, "\n ]\n}\n"); err != nil {
		return 0, err
	}
	x.List(kernel.ArchiveFile{Path: path, Kind: "messages", Count: n, ConversationID: c.ID})
	return n, nil
}

// exportedMessage is a message in an export: its wire form and, when its
// media is in the archive, the media's path there.
type exportedMessage struct {
	wire.Message
	MediaPath string `json:"media_path,omitempty"`
}

// exportFavorites writes favorites.json: every favorite as its owner sees
// it, with the archive paths of its media copies.
func (s *Service) exportFavorites(ctx context.Context, a kernel.Auth, x *kernel.Archive) error {
	fs, err := s.Favorites(ctx, a, "")
	if err != nil {
		x.Lost("favorites.json", "", "read_failed")
		return nil
	}
	out := make([]map[string]any, 0, len(fs))
	for _, f := range fs {
		j := map[string]any{"id": f.ID, "kind": f.Kind, "author_id": f.AuthorID, "author_name": f.AuthorName, "content_kind": f.ContentKind,
			"text": f.Text, "sent_at": f.SentAt.Format(time.RFC3339Nano), "created_at": f.CreatedAt.Format(time.RFC3339Nano)}
		if f.Kind == "message" {
			j["conversation_id"], j["seq"] = f.ConversationID, f.Seq
		} else {
			j["moment_id"] = f.MomentID
		}
		if f.Location != nil {
			j["location"] = f.Location
		}
		var media []map[string]any
		for _, m := range f.Media {
			path, _ := x.MediaPath(m.ID)
			media = append(media, map[string]any{"media_id": m.ID, "kind": m.Kind, "path": path})
		}
		if media != nil {
			j["media"] = media
		}
		out = append(out, j)
	}
	x.Count("favorites", len(out))
	return x.JSON("favorites.json", "favorites", len(out), map[string]any{"favorites": out})
}
