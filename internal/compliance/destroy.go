package compliance

import (
	"context"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// DestroyInput re-verifies the person before their account is destroyed:
// their password or a fresh one-time code (login or step_up) sent to their phone.
type DestroyInput struct {
	Password, Code string
}

// DestroyAccount destroys the caller's account at once (R-DEL-2): the data
// key is destroyed first, so every sealed byte of theirs is unreadable in the
// database and in every backup (R-DEL-3); then the rows go, ending every
// session. The same phone may register again as a new, empty account.
func (s *Service) DestroyAccount(ctx context.Context, a kernel.Auth, in DestroyInput) error {
	u, err := s.Me(ctx, a)
	if err != nil {
		return err
	}
	rec, err := s.DB.Read().FindUserByID(ctx, a.UserID)
	if err != nil {
		return s.Internal(ctx, "destroy account", err)
	}
	switch {
	case in.Password != "":
		if err := s.CheckReverification(ctx, a, rec.PasswordHash, in.Password); err != nil {
			return err
		}
	case in.Code != "":
		if !s.consumeAnyCode(ctx, u.Phone, in.Code, tkesj.PurposeStepUp, tkesj.PurposeLogin, tkesj.PurposeReset) {
			return tkesj.Errorf(tkesj.EForbidden, "reverification_failed", "the code is wrong or has expired; request a new one (purpose step_up)")
		}
	default:
		return tkesj.Errorf(tkesj.EInvalid, "reverification_required", "confirm with your password or a one-time code to destroy the account")
	}
	// The key goes first: from now on nothing of theirs reads. Under a legal
	// hold (R-LEG-1) it is kept under a separate id instead, so what the hold
	// names stays recoverable for its lawful purpose while nobody else can
	// read it; the purge shreds that key when the hold is released.
	held, err := s.heldFromPurge(ctx, a.UserID)
	if err != nil {
		return s.Internal(ctx, "destroy account", err)
	}
	if held {
		err = s.Keys.Move(ctx, a.UserID, heldKeyID(a.UserID))
	} else {
		err = s.Keys.Destroy(ctx, a.UserID)
	}
	if err != nil {
		return s.Internal(ctx, "destroy key", err)
	}
	// Every capability's erasure duties, from the registry: blobs named by
	// rows that go are noted first and deleted after the commit.
	var archives []string
	var afters []func(context.Context)
	// It leaves every conversation of theirs, taking each one's row, while
	// group commits hold some of those rows in their own order: on
	// PostgreSQL the database may break a deadlock by failing this one,
	// which then runs again.
	err = s.DB.UpdateRetrying(ctx, func(q *store.Queries) error {
		archives, afters = nil, nil // a retried transaction starts afresh
		for _, d := range s.Personal.All() {
			if d.Erase.Blobs != nil {
				keys, err := d.Erase.Blobs(ctx, q, a.UserID)
				if err != nil {
					return err
				}
				archives = append(archives, keys...)
			}
			if d.Erase.Destroy != nil {
				after, err := d.Erase.Destroy(ctx, q, a.UserID)
				if err != nil {
					return err
				}
				if after != nil {
					afters = append(afters, after)
				}
			}
		}
		// Message bodies and uploads go in the purge's bounded batches
		// (their Erase.Purge): the key is gone already, so nothing of theirs
		// reads meanwhile, and a large account does not hold the writer here.
		if _, err := q.DeleteUser(ctx, a.UserID); err != nil {
			return err
		}
		return q.EnqueuePurge(ctx, a.UserID, s.Now())
	})
	if err != nil {
		// The key is gone already, so nothing of theirs can be read; the
		// rows are unreadable leftovers until the next purge.
		return s.Internal(ctx, "destroy account", err)
	}
	s.CloseConnections(ctx, a.UserID, nil)
	for _, k := range archives {
		s.Blobs.Delete(ctx, k)
	}
	select {
	case s.purgeNow <- struct{}{}:
	default:
	}
	for _, after := range afters {
		after(ctx)
	}
	s.Log.InfoContext(ctx, "account destroyed", "user", a.UserID)
	return nil
}

// consumeAnyCode burns code if it is the outstanding code of one of the
// purposes; a wrong code counts against each.
func (s *Service) consumeAnyCode(ctx context.Context, phone, code string, purposes ...string) bool {
	for _, p := range purposes {
		if s.ConsumeCode(ctx, phone, p, code) == nil {
			return true
		}
	}
	return false
}

// heldKeyID is where a destroyed account's key waits out a legal hold.
func heldKeyID(userID string) string { return "held:" + userID }
