package calls

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// callStore keeps live calls as documents in the store's calls table, one
// row a call, changed by compare-and-swap on its version. Ended calls are
// deleted: their record message is what remains.
type callStore struct{ db *store.DB }

func callRecord(c Call) (store.CallRecord, error) {
	doc, err := json.Marshal(c)
	ids := make([]string, 0, len(c.Participants))
	for _, p := range c.Participants {
		ids = append(ids, p.UserID)
	}
	return store.CallRecord{ID: c.ID, ConvID: c.ConversationID, Doc: doc, Participants: ids, Members: c.Members, UpdatedAt: time.Now()}, err
}

func openCall(r store.CallRecord) (Call, error) {
	var c Call
	err := json.Unmarshal(r.Doc, &c)
	return c, err
}

// CreateCall stores a new call; it fails with conflict (call_in_progress)
// when the conversation already has a live call.
func (s callStore) CreateCall(ctx context.Context, c Call) error {
	r, err := callRecord(c)
	if err != nil {
		return err
	}
	return s.db.Update(ctx, func(q *store.Queries) error { return q.CreateCall(ctx, r) })
}

// FindCall returns the call and its version, or not_found.
func (s callStore) FindCall(ctx context.Context, id string) (Call, int64, error) {
	r, err := s.db.Read().FindCall(ctx, id)
	if err != nil {
		return Call{}, 0, err
	}
	c, err := openCall(r)
	return c, r.Version, err
}

// UpdateCall replaces the call if its version is still version; it reports
// whether it did.
func (s callStore) UpdateCall(ctx context.Context, c Call, version int64) (bool, error) {
	r, err := callRecord(c)
	if err != nil {
		return false, err
	}
	var ok bool
	err = s.db.Update(ctx, func(q *store.Queries) error {
		ok, err = q.UpdateCall(ctx, r, version)
		return err
	})
	return ok, err
}

// DeleteCall removes an ended call.
func (s callStore) DeleteCall(ctx context.Context, id string) error {
	return s.db.Update(ctx, func(q *store.Queries) error { return q.DeleteCall(ctx, id) })
}

func (s callStore) live(ctx context.Context, userID string) ([]Call, error) {
	rs, err := s.db.Read().LiveCalls(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Call, 0, len(rs))
	for _, r := range rs {
		c, err := openCall(r)
		if err != nil {
			continue
		}
		// LIKE's "_" matches any character: keep only exact participants.
		if userID == "" || slices.ContainsFunc(c.Participants, func(p Participant) bool { return p.UserID == userID }) {
			out = append(out, c)
		}
	}
	return out, nil
}

// LiveCallsOf lists the live calls userID is a participant of.
func (s callStore) LiveCallsOf(ctx context.Context, userID string) ([]Call, error) {
	return s.live(ctx, userID)
}

// LiveCalls lists every live call (for the sweep after a restart).
func (s callStore) LiveCalls(ctx context.Context) ([]Call, error) { return s.live(ctx, "") }

// CallsOfMember lists the live calls that ring, or ran, for userID.
func (s callStore) CallsOfMember(ctx context.Context, userID string) ([]Call, error) {
	rs, err := s.db.Read().CallsOfMember(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Call, 0, len(rs))
	for _, r := range rs {
		if c, err := openCall(r); err == nil && c.IsMember(userID) {
			out = append(out, c)
		}
	}
	return out, nil
}
