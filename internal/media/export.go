package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
)

// exportMedia copies the person's uploads into media/. Each is read twice:
// once to check that every chunk opens (a missing blob or a chunk that fails
// to decrypt puts it in manifest.missing instead of a cut-off file in the
// zip), then into the archive. Both passes stream chunk by chunk.
func (s *Service) exportMedia(ctx context.Context, a kernel.Auth, x *kernel.Archive) error {
	media, err := s.DB.Read().MediaOf(ctx, a.UserID)
	if err != nil {
		return fmt.Errorf("export media list: %w", err)
	}
	avatarID := x.AvatarID
	list := make([]map[string]any, 0, len(media))
	for _, m := range media {
		path, ok := x.MediaPath(m.ID)
		if !ok { // uploaded while the export was being written
			path = ExportPath(m.ID, m.Mime)
		}
		j := map[string]any{"id": m.ID, "kind": m.Kind, "mime": m.Mime, "size": m.Size, "created_at": m.CreatedAt.Format(time.RFC3339)}
		var meta map[string]any
		if json.Unmarshal([]byte(m.Meta), &meta) == nil && len(meta) > 0 {
			j["meta"] = meta
		}
		if m.ID == avatarID {
			j["avatar"] = true
		}
		reason := s.checkBlob(ctx, a.UserID, m.ID)
		if reason == "" {
			f, err := x.Create(path, !strings.HasPrefix(m.Mime, "image/") && !strings.HasPrefix(m.Mime, "video/") && !strings.HasPrefix(m.Mime, "audio/"))
			if err != nil {
				return err
			}
			cw := &countWriter{w: f}
			rc, err := s.Blobs.Get(ctx, m.ID)
			if err == nil {
				err = s.OpenStream(ctx, a.UserID, m.ID, rc, cw, 0, -1)
				rc.Close()
			}
			if err != nil {
				if ctx.Err() != nil || cw.err != nil {
					return errors.Join(ctx.Err(), cw.err, err)
				}
				reason = "read_failed" // it changed between the passes; what was written is cut off
			} else {
				x.List(kernel.ArchiveFile{Path: path, Kind: "media", Count: 1, MediaID: m.ID, Mime: m.Mime, Bytes: cw.n})
				j["path"] = path
				x.Media = append(x.Media, kernel.ArchiveMedia{ID: m.ID, Kind: m.Kind, Mime: m.Mime, Path: path, Size: cw.n, Avatar: m.ID == avatarID})
				x.Count("media", 1)
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		if reason != "" {
			j["missing"] = reason
			x.Lost(path, m.ID, reason)
		}
		list = append(list, j)
	}
	return x.JSON("media.json", "media_list", len(list), map[string]any{"media": list})
}

// checkBlob reads a media blob through to the end without keeping it and
// says why it cannot be exported ("" when it can).
func (s *Service) checkBlob(ctx context.Context, owner, key string) string {
	rc, err := s.Blobs.Get(ctx, key)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return "blob_missing"
		}
		return "read_failed"
	}
	defer rc.Close()
	if err := s.OpenStream(ctx, owner, key, rc, io.Discard, 0, -1); err != nil {
		return "unreadable"
	}
	return ""
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

// ExportPath is where an upload lands in its owner's export.
func ExportPath(id, mime string) string { return "media/" + id + "." + extensionOf(mime) }

// MediaPaths says where each of the person's uploads lands in their export.
func (s *Service) MediaPaths(ctx context.Context, userID string) (map[string]string, error) {
	media, err := s.DB.Read().MediaOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for _, m := range media {
		paths[m.ID] = ExportPath(m.ID, m.Mime)
	}
	return paths, nil
}

// extensionOf names a file by its (sniffed) type.
func extensionOf(mime string) string {
	if ext, ok := extensions[mime]; ok {
		return ext
	}
	return "bin"
}

var extensions = map[string]string{
	"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/heic": "heic", "image/avif": "avif",
	"video/mp4": "mp4", "video/quicktime": "mov", "video/3gpp": "3gp", "video/webm": "webm", "video/ogg": "ogv",
	"audio/amr-wb": "awb", "audio/amr": "amr", "audio/wav": "wav", "audio/mpeg": "mp3", "audio/aac": "aac", "audio/flac": "flac",
	"audio/mp4": "m4a", "audio/webm": "weba", "audio/ogg": "ogg",
	"application/pdf": "pdf", "application/zip": "zip", "application/epub+zip": "epub", "text/plain": "txt",
	"application/vnd.oasis.opendocument.text":                                   "odt",
	"application/vnd.oasis.opendocument.spreadsheet":                            "ods",
	"application/vnd.oasis.opendocument.presentation":                           "odp",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   "docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         "xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}
