package service

import (
	"context"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
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
func (s *Service) DestroyAccount(ctx context.Context, a Auth, in DestroyInput) error {
	u, err := s.Me(ctx, a)
	if err != nil {
		return err
	}
	rec, err := s.db.Read().FindUserByID(ctx, a.UserID)
	if err != nil {
		return s.internal(ctx, "destroy account", err)
	}
	switch {
	case in.Password != "":
		ok, err := s.hasher.Verify(ctx, in.Password, rec.PasswordHash)
		if err != nil {
			return s.internal(ctx, "destroy account", err)
		}
		if !ok {
			return tkesj.Errorf(tkesj.EForbidden, "reverification_failed", "the password is wrong; enter it again to confirm")
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
		return s.internal(ctx, "destroy account", err)
	}
	if held {
		err = s.keys.Move(ctx, a.UserID, heldKeyID(a.UserID))
	} else {
		err = s.keys.Destroy(ctx, a.UserID)
	}
	if err != nil {
		return s.internal(ctx, "destroy key", err)
	}
	var groups, directs, archives []string
	err = s.db.Update(ctx, func(q *store.Queries) error {
		// Export archives are blobs named by rows that go with the account:
		// note them now, delete them once the rows are gone.
		var err error
		if archives, err = exportBlobKeys(ctx, q, a.UserID); err != nil {
			return err
		}
		// Groups they own pass to the next admin, else the next member.
		cs, ms, err := q.ConversationsOf(ctx, a.UserID)
		if err != nil {
			return err
		}
		for i, c := range cs {
			if c.Kind != "group" {
				// The other person of a direct chat is told too, so an open
				// chat shows the account as gone at once (issue 13).
				directs = append(directs, c.ID)
				continue
			}
			groups = append(groups, c.ID)
			if _, err := q.RemoveMember(ctx, c.ID, a.UserID); err != nil {
				return err
			}
			if ms[i].Role == "owner" {
				if err := s.passOwnership(ctx, q, c.ID); err != nil {
					return err
				}
			}
		}
		// Their words leave the search index with their bodies, in the
		// purge's bounded batches (R-DEL-4): the key is gone already, so no
		// search can match them meanwhile, and a large account no longer
		// holds the writer for a million index rows here.
		// Recipients that got their data are told to delete it (R-SHR-3,
		// R-DEL-4): the notices go from the worker in sharing.go.
		if err := s.noticeRecipients(ctx, q, a.UserID); err != nil {
			return err
		}
		if _, err = q.DeleteUser(ctx, a.UserID); err != nil {
			return err
		}
		return q.EnqueuePurge(ctx, a.UserID, s.now())
	})
	if err != nil {
		// The key is gone already, so nothing of theirs can be read; the
		// rows are unreadable leftovers until the next purge.
		return s.internal(ctx, "destroy account", err)
	}
	s.closeConnections(ctx, a.UserID, nil)
	for _, k := range archives {
		s.blobs.Delete(ctx, k)
	}
	select {
	case s.purgeNow <- struct{}{}:
	default:
	}
	for _, id := range append(groups, directs...) {
		s.publishToMembers(ctx, id, wire.ConversationFrame{Type: "conversation", ConversationID: id, Event: "members_changed"})
	}
	s.log.InfoContext(ctx, "account destroyed", "user", a.UserID)
	return nil
}

// consumeAnyCode burns code if it is the outstanding code of one of the
// purposes; a wrong code counts against each.
func (s *Service) consumeAnyCode(ctx context.Context, phone, code string, purposes ...string) bool {
	for _, p := range purposes {
		if s.consumeCode(ctx, phone, p, code) == nil {
			return true
		}
	}
	return false
}

// heldKeyID is where a destroyed account's key waits out a legal hold.
func heldKeyID(userID string) string { return "held:" + userID }
