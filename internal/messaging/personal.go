package messaging

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// A destroyed sender's purge (R-DEL-2) empties their bodies first, in
// batches of bodyBatch messages (one row update each, a few milliseconds a
// batch), then deletes their search tokens (R-DEL-4), dozens of index rows
// a message: those batches are sized as they go so that each holds the
// writer about unindexTarget, whatever a message's word count, so chat
// sent meanwhile waits for one short batch at most (issue 17, B6).
const (
	bodyBatch     = 1000
	unindexTarget = 50 * time.Millisecond
	unindexMin    = 8
	unindexMax    = 4000
)

// registerPersonalData tells the kernel's registry what messaging stores
// about people and how it is erased and exported.
func (s *Service) registerPersonalData() {
	s.Personal.Register(
		kernel.PersonalData{
			Name: "conversations and messages", Owner: "messaging",
			Tables: []string{"conversations", "members", "messages", "hidden_messages", "search_batches", "search_postings", "search_message_tokens", "search_unindex", "message_mentions"},
			Erase: kernel.Erasure{
				Cascade: true, // memberships and hidden marks
				Destroy: s.leaveConversations,
				// Their words leave the search index with their bodies, in
				// bounded batches (R-DEL-4): the key is gone already, so no
				// search can match them meanwhile.
				Purge: s.purgeMessages, PurgeMetric: "bodies",
			},
			Export: s.exportConversations, ExportOrder: 50,
			// Disappearing messages go within ExpirySweep (runExpiry); the
			// retention pass sweeps too, so its report counts them.
			Retain: []kernel.RetentionRule{{Metric: "expired_messages", Run: s.SweepExpired}},
		},
		kernel.PersonalData{
			Name: "favorites", Owner: "messaging", Tables: []string{"favorites", "favorite_media"},
			// The rows go with the person; the media copies are their own
			// uploads, which media's entry deletes with their bytes.
			Erase:  kernel.Erasure{Cascade: true},
			Export: s.exportFavorites, ExportOrder: 55,
		},
		kernel.PersonalData{
			Name: "push subscriptions", Owner: "messaging", Tables: []string{"push_subscriptions"},
			Erase:    kernel.Erasure{Cascade: true},
			NoExport: "a push service's address for one device, sealed; not in the archive yet (gap found by the registry test)",
		},
		kernel.PersonalData{
			Name: "QR codes, join requests and sign-in codes", Owner: "messaging",
			Tables:   []string{"qr_friend_codes", "qr_group_codes", "qr_join_requests", "qr_logins"},
			Erase:    kernel.Erasure{Cascade: true},
			NoExport: "short-lived codes, and join requests the person sees in the app; not in the archive yet (gap found by the registry test)",
		},
	)
}

// leaveConversations takes a destroyed person out of their groups; groups
// they own pass to the next admin, else the next member. After the commit
// the members of their groups and the other side of their direct chats are
// told.
func (s *Service) leaveConversations(ctx context.Context, q *store.Queries, userID string) (func(context.Context), error) {
	var groups []string
	cs, ms, err := q.ConversationsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		if c.Kind != "group" {
			// The other person of a direct chat is told too, so an open
			// chat shows the account as gone at once (issue 13).
			groups = append(groups, c.ID)
			continue
		}
		groups = append(groups, c.ID)
		// The conversation's row before the member's (BumpMemberVersion).
		if err := q.BumpMemberVersion(ctx, c.ID); err != nil {
			return nil, err
		}
		if _, err := q.RemoveMember(ctx, c.ID, userID); err != nil {
			return nil, err
		}
		if ms[i].Role == "owner" {
			if err := s.PassOwnership(ctx, q, c.ID); err != nil {
				return nil, err
			}
		}
	}
	return func(ctx context.Context) {
		// Their direct chats' rows went with the account (a cascade): the
		// triggers counted it, and the send checks cached with them go.
		s.Invalidate(ctx, kernel.Invalidation{Conversations: groups, Users: []string{userID}})
		for _, id := range groups {
			s.PublishToMembers(ctx, id, wire.ConversationFrame{Type: "conversation", ConversationID: id, Event: "members_changed"})
		}
	}, nil
}

// purgeMessages runs one batch of a destroyed person's purge: their bodies
// while any are left, then the search tokens of the emptied messages. Both
// commit relaxed (store.UpdateRelaxed: they wait for a moment without
// ordinary writes, and do not wait for the disk): the purge is redone from
// the database's own state after a crash, because the queue entry goes
// only with an ordinary (durable) commit after the last batch, and what a
// power cut may take back is the last relaxed batches, whole, never that
// entry's removal without them. n counts bodies only.
func (s *Service) purgeMessages(ctx context.Context, userID string) (n int64, more bool, err error) {
	err = s.DB.UpdateRelaxed(ctx, func(q *store.Queries) (err error) {
		n, err = q.EmptyMessageBodies(ctx, userID, bodyBatch)
		return err
	})
	if err != nil || n == bodyBatch {
		return n, err == nil, err
	}
	if s.DB.SearchIndex() != s.DB {
		u, err := s.unindexPurgedFile(ctx, userID)
		return n, u == unindexQueueBatch, err
	}
	size := int(s.unindexBatch.Load())
	if size == 0 {
		size = 64
	}
	var u int64
	var took time.Duration
	err = s.DB.UpdateRelaxed(ctx, func(q *store.Queries) (err error) {
		t0 := time.Now()
		u, err = q.UnindexPurged(ctx, userID, size)
		took = time.Since(t0)
		return err
	})
	if err != nil {
		return n, false, err
	}
	if u == int64(size) {
		s.unindexBatch.Store(int64(nextUnindexBatch(size, took)))
	}
	return n, u == int64(size), nil
}

// unindexPurgedFile is the purge's second step on SQLite, whose index is a
// file of its own (issue 17): up to unindexQueueBatch emptied messages'
// rows are deleted in the index file, which holds no lock a send needs, so
// the batch need not be short, and then their marks in one write of the
// message store. Holding indexMu keeps an indexer pass that read one of them before
// its body went from writing its rows after they are deleted (a pass after
// this reads no body). A crash in between leaves the marks, and the batch
// is done again. It reports how many messages it un-indexed.
func (s *Service) unindexPurgedFile(ctx context.Context, userID string) (int, error) {
	entries, err := s.DB.Read().PurgeMarks(ctx, userID, unindexQueueBatch)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	s.indexMu.Lock()
	err = s.DB.SearchIndex().Update(ctx, func(q *store.Queries) error { return q.ApplyUnindex(ctx, entries) })
	s.indexMu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := s.DB.UpdateRelaxed(ctx, func(q *store.Queries) error { return q.ClearPurgeMarks(ctx, entries) }); err != nil {
		return 0, err
	}
	return len(entries), nil
}

// nextUnindexBatch sizes the next batch of search-token deletion from how
// long one of size took: doubled while well under unindexTarget, scaled
// down when over it, within [unindexMin, unindexMax].
func nextUnindexBatch(size int, took time.Duration) int {
	switch {
	case took < unindexTarget/2:
		size *= 2
	case took > unindexTarget:
		size = int(int64(size) * int64(unindexTarget) / int64(took))
	}
	return max(unindexMin, min(unindexMax, size))
}
