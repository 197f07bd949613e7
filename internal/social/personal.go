package social

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// registerPersonalData tells the kernel's registry what social stores about
// people and how it is erased, exported and retained.
func (s *Service) registerPersonalData() {
	r := s.Cfg.Retention
	s.Personal.Register(
		kernel.PersonalData{
			Name: "contacts and blocks", Owner: "social", Tables: []string{"friends", "blocks"},
			Erase:  kernel.Erasure{Cascade: true},
			Export: s.exportContacts, ExportOrder: 20,
		},
		kernel.PersonalData{
			Name: "friend requests", Owner: "social", Tables: []string{"friend_requests"},
			Erase:  kernel.Erasure{Cascade: true},
			Export: s.exportFriendRequests, ExportOrder: 30,
			Retain: []kernel.RetentionRule{{Metric: "friend_requests", Run: func(ctx context.Context, now time.Time) (n int64, err error) {
				err = s.DB.Update(ctx, func(q *store.Queries) (err error) {
					n, err = q.DeleteExpiredFriendRequests(ctx, now.Add(-r.FriendRequests))
					return err
				})
				return n, err
			}}},
		},
		kernel.PersonalData{
			Name: "settings", Owner: "social", Tables: []string{"settings"},
			Erase:  kernel.Erasure{Cascade: true},
			Export: s.exportSettings, ExportOrder: 35,
		},
		kernel.PersonalData{
			Name: "Moments, likes, comments and Moments preferences", Owner: "social",
			Tables: []string{"moments", "moment_audience", "moment_media", "moment_likes", "moment_comments", "moment_prefs"},
			Erase:  kernel.Erasure{Cascade: true},
			Export: s.exportMoments, ExportOrder: 60,
		},
		kernel.PersonalData{
			Name: "Moments timelines and their fan-out queue", Owner: "social", Tables: []string{"moment_timeline", "moment_fanout"},
			Erase: kernel.Erasure{
				// Ids derived from posts and friendships that left with the
				// account, in either direction: they go hold or not.
				Purge: s.purgeTimelines, PurgeMetric: "timeline_refs", PurgeDespiteHold: true,
			},
			NoExport: "exported inside moments.json (its timeline section) by the Moments entry",
		},
	)
}

// purgeTimelines removes one batch of a destroyed person's timeline
// references, theirs and those naming them.
func (s *Service) purgeTimelines(ctx context.Context, userID string) (n int64, more bool, err error) {
	const batch = 500
	err = s.DB.Update(ctx, func(q *store.Queries) (err error) {
		n, err = q.PurgeTimelines(ctx, userID, batch)
		return err
	})
	return n, n == batch, err
}
