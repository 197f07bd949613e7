package kernel

import (
	"context"
	"sort"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// Auth is an authenticated caller: a person on one device session.
type Auth struct {
	UserID    string
	DeviceIdx []byte
	// PolicyPending is set while a major policy update waits for this
	// person's acceptance (R-POL-1); the HTTP layer then lets through only
	// reading and accepting the policy, exporting and destroying the account.
	PolicyPending bool
	Status        tkesj.UserStatus // the account's status when the session was checked
	TokenHash     []byte
	// Unrestricted: no moderation restriction was in force when the
	// session was checked (store.SessionRecord.MaybeRestricted), so
	// RequireActive need not read them again.
	Unrestricted bool
}

// ErrBadToken is what a caller without a valid session gets.
var ErrBadToken = tkesj.Errorf(tkesj.EUnauthenticated, "unauthenticated", "sign in again: the session is missing, signed out or expired")

// RequireActive refuses people who may not chat or post yet: minors waiting
// for a guardian (R-MIN-1) and frozen accounts (R-SEC-3).
func (s *Core) RequireActive(ctx context.Context, a Auth) error {
	status := a.Status // read with the session on this very request
	if status == "" {
		rec, err := s.DB.Read().FindUserByID(ctx, a.UserID)
		if err != nil {
			return ErrBadToken
		}
		status = tkesj.UserStatus(rec.Status)
	}
	switch status {
	case tkesj.UserActive:
		// A moderation restriction or ban (moderation.go) also stops sending and posting.
		if a.Unrestricted && a.Status != "" {
			return nil // read with the session on this very request
		}
		return s.CheckRestrictions(ctx, a.UserID)
	case tkesj.UserPendingGuardian:
		return tkesj.Errorf(tkesj.EForbidden, "guardian_consent_required", "a parent or guardian must consent before this account can chat or post")
	}
	return tkesj.Errorf(tkesj.EForbidden, "account_frozen", "this account is frozen; unfreeze it in Account and Security")
}

// Restriction is a moderation restriction in force.
type Restriction struct {
	Kind       string // restrict or ban
	Until      time.Time
	DecisionID string
}

// Restrictions lists a person's moderation restrictions in force.
func (s *Core) Restrictions(ctx context.Context, userID string) ([]Restriction, error) {
	recs, err := s.DB.Read().ActiveRestrictions(ctx, userID, s.Now())
	if err != nil {
		return nil, s.Internal(ctx, "restrictions", err)
	}
	out := make([]Restriction, 0, len(recs))
	for _, r := range recs {
		out = append(out, Restriction{Kind: r.Kind, Until: r.Until, DecisionID: r.DecisionID})
	}
	return out, nil
}

// CheckRestrictions refuses sending, posting and commenting while a
// moderation restriction or ban is in force (called by requireActive).
func (s *Core) CheckRestrictions(ctx context.Context, userID string) error {
	rs, err := s.Restrictions(ctx, userID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Kind == "ban" {
			return tkesj.Errorf(tkesj.EForbidden, "account_banned", "this account is banned from sending and posting; see your decisions to read why and appeal")
		}
	}
	for _, r := range rs {
		return tkesj.Errorf(tkesj.EForbidden, "account_restricted", "this account cannot send or post until %s UTC; see your decisions to read why and appeal",
			r.Until.Format("2006-01-02 15:04"))
	}
	return nil
}

// CanMessage says whether from may start or continue a direct chat with to:
// only friends, and never across a block.
func (s *Core) CanMessage(ctx context.Context, q *store.Queries, from, to string) error {
	// Friendship rows go with their accounts, so friends exist; only a
	// refusal needs to tell a stranger from nobody.
	if blocked, err := q.EitherBlocks(ctx, from, to); err != nil {
		return s.Internal(ctx, "can message", err)
	} else if blocked {
		return tkesj.Errorf(tkesj.EForbidden, "blocked", "you cannot message this person")
	}
	if ok, err := q.AreFriends(ctx, from, to); err != nil {
		return s.Internal(ctx, "can message", err)
	} else if !ok {
		if _, err := q.FindUserByID(ctx, to); err != nil {
			return tkesj.ErrNotFound("user")
		}
		return tkesj.Errorf(tkesj.EForbidden, "not_friends", "you can only chat with friends; send a friend request first")
	}
	return nil
}

func UniqueOthers(ids []string, self string) []string {
	seen := map[string]bool{self: true}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
