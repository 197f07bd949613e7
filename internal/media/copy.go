package media

import (
	"context"
	"io"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// CopyMedia makes toOwner their own copy of an upload, sealed with their key
// (a forward or a favorite, R-MSG-8, R-MSG-9): the bytes are opened with the
// uploader's key and sealed again on the server, so nobody uploads anything
// and the copy outlives the original and its uploader. The caller has
// checked that toOwner may see the original. It returns the copy's id.
func (s *Service) CopyMedia(ctx context.Context, mediaID, toOwner string) (string, error) {
	rec, err := s.DB.Read().FindMedia(ctx, mediaID)
	if err != nil {
		return "", err
	}
	id := kernel.NewID("f")
	keys := []string{""}
	if rec.Kind == "image" {
		keys = append(keys, "_t")
	}
	for _, suffix := range keys {
		if err := s.copyBlob(ctx, rec.OwnerID, rec.ID+suffix, toOwner, id+suffix); err != nil {
			s.Blobs.Delete(ctx, id)
			s.Blobs.Delete(ctx, id+"_t")
			return "", err
		}
	}
	cp := store.MediaRecord{ID: id, OwnerID: toOwner, Kind: rec.Kind, Mime: rec.Mime, Size: rec.Size, Meta: rec.Meta, CreatedAt: s.Now()}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.CreateMedia(ctx, cp) }); err != nil {
		s.Blobs.Delete(ctx, id)
		s.Blobs.Delete(ctx, id+"_t")
		return "", err
	}
	return id, nil
}

// copyBlob streams one blob from its owner's seal into another's.
func (s *Service) copyBlob(ctx context.Context, fromOwner, fromKey, toOwner, toKey string) error {
	rc, err := s.Blobs.Get(ctx, fromKey)
	if err != nil {
		return err
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.OpenStream(ctx, fromOwner, fromKey, rc, pw, 0, -1)) }()
	_, err = s.StoreBlob(ctx, toOwner, toKey, pr)
	pr.CloseWithError(err)
	return err
}
