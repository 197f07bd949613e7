package media

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// registerPersonalData tells the kernel's registry what media stores about
// people and how it is erased, exported and retained.
func (s *Service) registerPersonalData() {
	s.Personal.Register(kernel.PersonalData{
		Name: "uploads (pictures, voice, video, files, avatars)", Owner: "media", Tables: []string{"media"},
		Erase: kernel.Erasure{
			Purge: s.purgeMedia, PurgeMetric: "media",
			AllBlobs: func(ctx context.Context, after string) (keys []string, next string, err error) {
				ids, err := s.DB.Read().AllMediaIDs(ctx, after, 1000)
				for _, id := range ids {
					keys = append(keys, id, id+"_t") // the file and its thumbnail
				}
				if len(ids) > 0 {
					next = ids[len(ids)-1]
				}
				return keys, next, err
			},
		},
		Export: s.exportMedia, ExportOrder: 80,
		Retain: []kernel.RetentionRule{{Metric: "orphan_uploads", Run: func(ctx context.Context, now time.Time) (int64, error) {
			return s.deleteOrphans(ctx, now.Add(-s.Cfg.Retention.OrphanUploads))
		}}},
	})
}

// purgeMedia deletes one batch of a destroyed person's uploads, blobs first.
func (s *Service) purgeMedia(ctx context.Context, userID string) (n int64, more bool, err error) {
	ids, err := s.DB.Read().OwnedMediaIDs(ctx, userID, 100)
	if err != nil {
		return 0, false, err
	}
	for _, m := range ids {
		s.Blobs.Delete(ctx, m)
		s.Blobs.Delete(ctx, m+"_t")
		if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DeleteMedia(ctx, m) }); err != nil {
			return n, false, err
		}
		n++
	}
	return n, len(ids) == 100, nil
}

// deleteOrphans deletes uploads older than before that nothing refers to
// (R-SEC-2), one bounded batch per call.
func (s *Service) deleteOrphans(ctx context.Context, before time.Time) (int64, error) {
	orphans, err := s.DB.Read().OrphanMedia(ctx, before, 500)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, id := range orphans {
		if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DeleteMedia(ctx, id) }); err != nil {
			return n, err
		}
		s.Blobs.Delete(ctx, id)
		s.Blobs.Delete(ctx, id+"_t")
		n++
	}
	return n, nil
}
