package service

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/validate"
	"github.com/tkesj/tkesj/internal/wire"
)

// Settings is a person's privacy and notification settings (R-MSG-1, R-NTF-2, R-MOM-2).
type Settings struct {
	FoundByPhone               bool   `json:"found_by_phone"`
	FoundByUsername            bool   `json:"found_by_username"`
	FriendRequestsNeedApproval bool   `json:"friend_requests_need_approval"`
	MomentsRange               string `json:"moments_range"` // "3d", "6m" or "all": how far back friends see my Moments
	PushEnabled                bool   `json:"push_enabled"`
	PushShowText               bool   `json:"push_show_text"`          // previews show message text; off by default
	DefaultPostVisibility      string `json:"default_post_visibility"` // "friends" or "private" (minors start private)
}

// DefaultSettings are what a new account starts with.
func DefaultSettings() Settings {
	return Settings{FoundByPhone: true, FoundByUsername: true, FriendRequestsNeedApproval: true, MomentsRange: "all", PushEnabled: true, DefaultPostVisibility: "friends"}
}

// SettingsUpdate changes some settings; nil means unchanged.
type SettingsUpdate struct {
	FoundByPhone, FoundByUsername, FriendRequestsNeedApproval, PushEnabled, PushShowText *bool
	MomentsRange, DefaultPostVisibility                                                  *string
}

func (s *Service) settings(ctx context.Context, q *store.Queries, userID string) (Settings, error) {
	doc, err := q.Settings(ctx, userID)
	if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		return DefaultSettings(), nil
	} else if err != nil {
		return Settings{}, err
	}
	st := DefaultSettings()
	if err := json.Unmarshal([]byte(doc), &st); err != nil {
		return Settings{}, err
	}
	return st, nil
}

// Settings returns the caller's settings.
func (s *Service) Settings(ctx context.Context, a Auth) (Settings, error) {
	st, err := s.settings(ctx, s.db.Read(), a.UserID)
	if err != nil {
		return Settings{}, s.internal(ctx, "settings", err)
	}
	return st, nil
}

// UpdateSettings changes the caller's settings.
func (s *Service) UpdateSettings(ctx context.Context, a Auth, up SettingsUpdate) (Settings, error) {
	if up.MomentsRange != nil {
		switch *up.MomentsRange {
		case "3d", "6m", "all":
		default:
			return Settings{}, tkesj.Errorf(tkesj.EInvalid, "invalid_moments_range", "moments_range must be 3d, 6m or all")
		}
	}
	if up.DefaultPostVisibility != nil && *up.DefaultPostVisibility != "friends" && *up.DefaultPostVisibility != "private" {
		return Settings{}, tkesj.Errorf(tkesj.EInvalid, "invalid_visibility", "default_post_visibility must be friends or private")
	}
	var st Settings
	err := s.db.Update(ctx, func(q *store.Queries) (err error) {
		if st, err = s.settings(ctx, q, a.UserID); err != nil {
			return err
		}
		for _, f := range []struct {
			in  *bool
			out *bool
		}{{up.FoundByPhone, &st.FoundByPhone}, {up.FoundByUsername, &st.FoundByUsername},
			{up.FriendRequestsNeedApproval, &st.FriendRequestsNeedApproval}, {up.PushEnabled, &st.PushEnabled}, {up.PushShowText, &st.PushShowText}} {
			if f.in != nil {
				*f.out = *f.in
			}
		}
		if up.MomentsRange != nil {
			st.MomentsRange = *up.MomentsRange
		}
		if up.DefaultPostVisibility != nil {
			st.DefaultPostVisibility = *up.DefaultPostVisibility
		}
		doc, _ := json.Marshal(st)
		return q.PutSettings(ctx, a.UserID, string(doc), s.now())
	})
	if err != nil {
		return Settings{}, s.internal(ctx, "update settings", err)
	}
	return st, nil
}

// Profile is what one person may see of another: no phone, no birth date.
type Profile struct {
	ID, Username, Nickname, Gender, AvatarID string
	Remark                                   string // the viewer's own remark for this person
}

// profile opens a user's public profile; not_found when the user is gone.
func (s *Service) profile(ctx context.Context, q *store.Queries, id string) (Profile, error) {
	rec, err := q.FindUserByID(ctx, id)
	if err != nil {
		return Profile{}, err
	}
	u, err := s.userFromRecord(ctx, rec)
	if err != nil {
		return Profile{}, tkesj.ErrNotFound("user")
	}
	return Profile{ID: u.ID, Username: u.Username, Nickname: u.Nickname, Gender: u.Gender, AvatarID: u.AvatarID}, nil
}

// SearchUsers finds people by their exact username or phone number (R-MSG-1):
// no prefix search, nobody who switched that way of being found off, nobody
// who blocks the caller. It is rate-limited against enumeration.
func (s *Service) SearchUsers(ctx context.Context, a Auth, query string) ([]Profile, error) {
	if ok, wait := s.searches.Allow(a.UserID); !ok {
		return nil, s.limitedFor(ctx, a.UserID, "rate_limit:searches", "searches", wait)
	}
	query = strings.TrimSpace(query)
	if query == "" || len(query) > 64 {
		return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_query", "search for an exact username or phone number")
	}
	q := s.db.Read()
	var rec store.UserRecord
	var err error
	byPhone := false
	if name, nerr := validate.Username(query); nerr == nil {
		rec, err = q.FindUserByUsernameIdx(ctx, s.usernameIdx(name))
	} else if phone, perr := validate.Phone(query, s.cfg.PhoneRegion); perr == nil {
		byPhone = true
		rec, err = q.FindUserByPhoneIdx(ctx, s.phoneIdx(phone))
	} else {
		return []Profile{}, nil
	}
	if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		return []Profile{}, nil
	} else if err != nil {
		return nil, s.internal(ctx, "search users", err)
	}
	st, err := s.settings(ctx, q, rec.ID)
	if err != nil {
		return nil, s.internal(ctx, "search users", err)
	}
	if (byPhone && !st.FoundByPhone) || (!byPhone && !st.FoundByUsername) {
		return []Profile{}, nil
	}
	if blocked, err := q.EitherBlocks(ctx, a.UserID, rec.ID); err != nil || blocked {
		return []Profile{}, nil
	}
	p, err := s.profile(ctx, q, rec.ID)
	if err != nil {
		return []Profile{}, nil
	}
	return []Profile{p}, nil
}

// FriendRequest is a request as its sender or receiver sees it.
type FriendRequest struct {
	ID, FromID, ToID, Greeting, Status string
	From, To                           Profile
	CreatedAt, ExpiresAt               time.Time
}

const friendRequestTTL = 30 * 24 * time.Hour

// SendFriendRequest asks to to be friends with a greeting (R-MSG-1). A person
// who blocks or is blocked by the caller cannot be asked; with approval
// switched off in the receiver's settings the request is accepted at once.
func (s *Service) SendFriendRequest(ctx context.Context, a Auth, to, greeting string) (FriendRequest, error) {
	if err := s.requireActive(ctx, a); err != nil {
		return FriendRequest{}, err
	}
	greeting = strings.TrimSpace(greeting)
	if len([]rune(greeting)) > 200 {
		return FriendRequest{}, tkesj.Errorf(tkesj.EInvalid, "greeting_too_long", "a greeting has at most 200 characters")
	}
	if to == a.UserID {
		return FriendRequest{}, tkesj.Errorf(tkesj.EInvalid, "cannot_befriend_self", "you cannot send a friend request to yourself")
	}
	if ok, wait := s.friendRequests.Allow(a.UserID); !ok {
		return FriendRequest{}, s.limitedFor(ctx, a.UserID, "rate_limit:friend_requests", "friend requests", wait)
	}
	q := s.db.Read()
	target, err := s.profile(ctx, q, to)
	if err != nil {
		return FriendRequest{}, tkesj.ErrNotFound("user")
	}
	if blocked, err := q.EitherBlocks(ctx, a.UserID, to); err != nil {
		return FriendRequest{}, s.internal(ctx, "friend request", err)
	} else if blocked {
		return FriendRequest{}, tkesj.Errorf(tkesj.EForbidden, "blocked", "this person does not accept requests from you")
	}
	if friends, err := q.AreFriends(ctx, a.UserID, to); err != nil {
		return FriendRequest{}, s.internal(ctx, "friend request", err)
	} else if friends {
		return FriendRequest{}, tkesj.Errorf(tkesj.EConflict, "already_friends", "you are friends already")
	}
	if n, err := q.CountFriends(ctx, a.UserID); err != nil {
		return FriendRequest{}, s.internal(ctx, "friend request", err)
	} else if n >= s.cfg.FriendCap {
		return FriendRequest{}, tkesj.Errorf(tkesj.EConflict, "friend_limit_reached", "you have %d friends, the most allowed; remove someone before adding a friend", s.cfg.FriendCap)
	}
	st, err := s.settings(ctx, q, to)
	if err != nil {
		return FriendRequest{}, s.internal(ctx, "friend request", err)
	}
	sealed, err := s.seal(ctx, a.UserID, "friend_requests/greeting", greeting)
	if err != nil {
		return FriendRequest{}, s.internal(ctx, "friend request", err)
	}
	now := s.now()
	rec := store.FriendRequestRecord{ID: newID("r"), FromID: a.UserID, ToID: to, Greeting: sealed, Status: "pending", CreatedAt: now, ExpiresAt: now.Add(friendRequestTTL)}
	if !st.FriendRequestsNeedApproval {
		rec.Status = "accepted"
	}
	err = s.db.Update(ctx, func(q *store.Queries) error {
		// A request the other way round already waiting means both want it.
		if back, err := q.PendingRequestBetween(ctx, to, a.UserID, now); err == nil {
			if _, err := q.SetFriendRequestStatus(ctx, back.ID, "accepted"); err != nil {
				return err
			}
			rec.Status = "accepted"
		}
		if err := q.CreateFriendRequest(ctx, rec); err != nil {
			return err
		}
		if rec.Status == "accepted" {
			return s.addFriendship(ctx, q, a.UserID, a.UserID, to, now)
		}
		return nil
	})
	if err != nil {
		return FriendRequest{}, s.internal(ctx, "friend request", err)
	}
	s.fanout.kick()
	me, _ := s.profile(ctx, s.db.Read(), a.UserID)
	fr := FriendRequest{ID: rec.ID, FromID: a.UserID, ToID: to, Greeting: greeting, Status: rec.Status, From: me, To: target, CreatedAt: now, ExpiresAt: rec.ExpiresAt}
	s.publish(ctx, []string{to, a.UserID}, wire.FriendRequestFrame{Type: "friend_request", Request: friendRequestFrame(fr)})
	return fr, nil
}

func friendRequestFrame(fr FriendRequest) wire.FriendRequestRef {
	return wire.FriendRequestRef{ID: fr.ID, From: fr.FromID, To: fr.ToID, Status: fr.Status}
}

// FriendRequests lists the caller's requests, both ways, newest first.
// Expired pending requests show as expired.
func (s *Service) FriendRequests(ctx context.Context, a Auth) ([]FriendRequest, error) {
	q := s.db.Read()
	recs, err := q.FriendRequests(ctx, a.UserID, 200)
	if err != nil {
		return nil, s.internal(ctx, "friend requests", err)
	}
	now := s.now()
	out := make([]FriendRequest, 0, len(recs))
	for _, r := range recs {
		from, ferr := s.profile(ctx, q, r.FromID)
		to, terr := s.profile(ctx, q, r.ToID)
		if ferr != nil || terr != nil {
			continue
		}
		var greeting string
		if err := s.open(ctx, r.FromID, "friend_requests/greeting", r.Greeting, &greeting); err != nil {
			continue
		}
		status := r.Status
		if status == "pending" && !now.Before(r.ExpiresAt) {
			status = "expired"
		}
		out = append(out, FriendRequest{ID: r.ID, FromID: r.FromID, ToID: r.ToID, Greeting: greeting, Status: status, From: from, To: to, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt})
	}
	return out, nil
}

// AnswerFriendRequest accepts or declines a request sent to the caller. A
// request to someone else, or an unknown one, is not_found; one already
// answered or expired is a conflict.
func (s *Service) AnswerFriendRequest(ctx context.Context, a Auth, id string, accept bool) (FriendRequest, error) {
	if err := s.requireActive(ctx, a); err != nil {
		return FriendRequest{}, err
	}
	now := s.now()
	var rec store.FriendRequestRecord
	err := s.db.Update(ctx, func(q *store.Queries) (err error) {
		rec, err = q.FindFriendRequest(ctx, id)
		if err != nil || rec.ToID != a.UserID {
			return tkesj.ErrNotFound("friend request")
		}
		if rec.Status != "pending" || !now.Before(rec.ExpiresAt) {
			return tkesj.Errorf(tkesj.EConflict, "request_closed", "this request was answered already or has expired")
		}
		status := "declined"
		if accept {
			status = "accepted"
			if blocked, err := q.EitherBlocks(ctx, rec.FromID, rec.ToID); err != nil {
				return err
			} else if blocked {
				return tkesj.Errorf(tkesj.EForbidden, "blocked", "unblock this person first")
			}
			if err := s.addFriendship(ctx, q, a.UserID, rec.FromID, rec.ToID, now); err != nil {
				return err
			}
		}
		rec.Status = status
		_, err = q.SetFriendRequestStatus(ctx, id, status)
		return err
	})
	if err != nil {
		return FriendRequest{}, s.internal(ctx, "answer friend request", err)
	}
	s.fanout.kick()
	fr := FriendRequest{ID: rec.ID, FromID: rec.FromID, ToID: rec.ToID, Status: rec.Status, CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt}
	fr.From, _ = s.profile(ctx, s.db.Read(), rec.FromID)
	fr.To, _ = s.profile(ctx, s.db.Read(), rec.ToID)
	s.publish(ctx, []string{rec.FromID, rec.ToID}, wire.FriendRequestFrame{Type: "friend_request", Request: friendRequestFrame(fr)})
	return fr, nil
}

// Contacts lists the caller's friends with the remark the caller gave each.
func (s *Service) Contacts(ctx context.Context, a Auth) ([]Profile, error) {
	q := s.db.Read()
	fs, err := q.Friends(ctx, a.UserID)
	if err != nil {
		return nil, s.internal(ctx, "contacts", err)
	}
	out := make([]Profile, 0, len(fs))
	for _, f := range fs {
		p, err := s.profile(ctx, q, f.FriendID)
		if err != nil {
			continue
		}
		if f.Remark != nil {
			s.open(ctx, a.UserID, "friends/remark/"+f.FriendID, f.Remark, &p.Remark)
		}
		out = append(out, p)
	}
	return out, nil
}

// SetRemark names a friend for the caller only.
func (s *Service) SetRemark(ctx context.Context, a Auth, friendID, remark string) error {
	remark = strings.TrimSpace(remark)
	if len([]rune(remark)) > 32 {
		return tkesj.Errorf(tkesj.EInvalid, "remark_too_long", "a remark has at most 32 characters")
	}
	var sealed []byte
	if remark != "" {
		var err error
		if sealed, err = s.seal(ctx, a.UserID, "friends/remark/"+friendID, remark); err != nil {
			return s.internal(ctx, "set remark", err)
		}
	}
	err := s.db.Update(ctx, func(q *store.Queries) error { return q.SetRemark(ctx, a.UserID, friendID, sealed) })
	if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		return s.internal(ctx, "set remark", err)
	}
	return err
}

// RemoveContact ends a friendship (both ways); not_found when there was none.
func (s *Service) RemoveContact(ctx context.Context, a Auth, friendID string) error {
	err := s.db.Update(ctx, func(q *store.Queries) error {
		ok, err := q.AreFriends(ctx, a.UserID, friendID)
		if err != nil {
			return err
		}
		if !ok {
			return tkesj.ErrNotFound("contact")
		}
		return removeFriendship(ctx, q, a.UserID, friendID)
	})
	if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		return s.internal(ctx, "remove contact", err)
	}
	return err
}

// Block stops another person from requesting, messaging or seeing the
// caller's posts, and hides theirs from the caller. Blocking ends a friendship.
func (s *Service) Block(ctx context.Context, a Auth, userID string) error {
	if userID == a.UserID {
		return tkesj.Errorf(tkesj.EInvalid, "cannot_block_self", "you cannot block yourself")
	}
	if _, err := s.profile(ctx, s.db.Read(), userID); err != nil {
		return tkesj.ErrNotFound("user")
	}
	err := s.db.Update(ctx, func(q *store.Queries) error {
		if err := q.Block(ctx, a.UserID, userID, s.now()); err != nil {
			return err
		}
		return removeFriendship(ctx, q, a.UserID, userID)
	})
	if err != nil {
		return s.internal(ctx, "block", err)
	}
	return nil
}

// Unblock lifts a block (the friendship does not come back by itself).
func (s *Service) Unblock(ctx context.Context, a Auth, userID string) error {
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.Unblock(ctx, a.UserID, userID) }); err != nil {
		return s.internal(ctx, "unblock", err)
	}
	return nil
}

// Blocked lists the people the caller blocks.
func (s *Service) Blocked(ctx context.Context, a Auth) ([]Profile, error) {
	q := s.db.Read()
	ids, err := q.Blocked(ctx, a.UserID)
	if err != nil {
		return nil, s.internal(ctx, "blocked", err)
	}
	out := []Profile{}
	for _, id := range ids {
		if p, err := s.profile(ctx, q, id); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// requireActive refuses people who may not chat or post yet: minors waiting
// for a guardian (R-MIN-1) and frozen accounts (R-SEC-3).
func (s *Service) requireActive(ctx context.Context, a Auth) error {
	status := a.status // read with the session on this very request
	if status == "" {
		rec, err := s.db.Read().FindUserByID(ctx, a.UserID)
		if err != nil {
			return errBadToken
		}
		status = tkesj.UserStatus(rec.Status)
	}
	switch status {
	case tkesj.UserActive:
		// A moderation restriction or ban (moderation.go) also stops sending and posting.
		return s.checkRestrictions(ctx, a.UserID)
	case tkesj.UserPendingGuardian:
		return tkesj.Errorf(tkesj.EForbidden, "guardian_consent_required", "a parent or guardian must consent before this account can chat or post")
	}
	return tkesj.Errorf(tkesj.EForbidden, "account_frozen", "this account is frozen; unfreeze it in Account and Security")
}
