package calls

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// StaleAfter is how long a live call may go unchanged before the retention
// pass ends it as abandoned: a call whose node stopped mid-call would
// otherwise keep its people "already in a call" for ever.
const StaleAfter = 12 * time.Hour

// registerPersonalData tells the kernel's registry what calls stores about
// people. While a call rings or runs its row names who is in it and who it
// rings; when it ends the row is deleted and only the call record message
// remains, which messaging registers, keeps and erases with the
// conversation's other messages.
func (s *Service) registerPersonalData() {
	s.Personal.Register(kernel.PersonalData{
		Name: "live calls", Owner: "calls", Tables: []string{"calls"},
		Erase: kernel.Erasure{Destroy: s.dropCalls},
		NoExport: "a live call's row lasts only while the call rings or runs; the records of ended calls are messages, " +
			"in the archive with their conversations",
		Retain: []kernel.RetentionRule{{Metric: "stale_calls", Run: s.endStale}},
	})
}

// dropCalls deletes, inside a destruction, the live calls the person is rung
// by or in; after the commit the other members hear that each ended and the
// SFU lets it go. No record message is written: the account is gone.
func (s *Service) dropCalls(ctx context.Context, q *store.Queries, userID string) (func(context.Context), error) {
	rs, err := q.CallsOfMember(ctx, userID)
	if err != nil {
		return nil, err
	}
	var ended []Call
	for _, r := range rs {
		c, err := openCall(r)
		if err != nil || !c.IsMember(userID) {
			continue
		}
		if err := q.DeleteCall(ctx, c.ID); err != nil {
			return nil, err
		}
		c.Abandon(s.Now())
		ended = append(ended, c)
	}
	return func(ctx context.Context) {
		for _, c := range ended {
			s.Publish(ctx, c.Members, wire.CallFrame{Type: "call", Call: c.JSON()})
			if c.Group {
				s.nodeEvent(ctx, nodeFrame{Node: c.Node, Op: "sync", CallID: c.ID})
			}
		}
	}, nil
}

// endStale ends, as abandoned, the live calls unchanged for StaleAfter.
func (s *Service) endStale(ctx context.Context, now time.Time) (int64, error) {
	rs, err := s.DB.Read().LiveCalls(ctx, "")
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range rs {
		if now.Sub(r.UpdatedAt) < StaleAfter {
			continue
		}
		_, err := s.update(ctx, "", r.ID, func(c *Call) error {
			if !c.Abandon(now) {
				return errUnchanged
			}
			return nil
		})
		if err == nil {
			n++
		}
	}
	return n, nil
}
