package social

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/validate"
	"github.com/tkesj/tkesj/internal/wire"
)

// SettingsUpdate changes some settings; nil means unchanged.
type SettingsUpdate struct {
	FoundByPhone, FoundByUsername, FriendRequestsNeedApproval, PushEnabled, PushShowText *bool
	MomentsRange, DefaultPostVisibility                                                  *string
}

func (s *Service) LookupSettings(ctx context.Context, q *store.Queries, userID string) (tkesj.Settings, error) {
	doc, err := q.Settings(ctx, userID)
	if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		return tkesj.DefaultSettings(), nil
	} else if err != nil {
		return tkesj.Settings{}, err
	}
	st := tkesj.DefaultSettings()
	if err := json.Unmarshal([]byte(doc), &st); err != nil {
		return tkesj.Settings{}, err
	}
	return st, nil
}

// Settings returns the caller's settings.
func (s *Service) Settings(ctx context.Context, a kernel.Auth) (tkesj.Settings, error) {
	st, err := s.LookupSettings(ctx, s.DB.Read(), a.UserID)
	if err != nil {
		return tkesj.Settings{}, s.Internal(ctx, "settings", err)
	}
	return st, nil
}

// UpdateSettings changes the caller's settings.
func (s *Service) UpdateSettings(ctx context.Context, a kernel.Auth, up SettingsUpdate) (tkesj.Settings, error) {
	if up.MomentsRange != nil {
		switch *up.MomentsRange {
		case "3d", "6m", "all":
		default:
			return tkesj.Settings{}, tkesj.Errorf(tkesj.EInvalid, "invalid_moments_range", "moments_range must be 3d, 6m or all")
		}
	}
	if up.DefaultPostVisibility != nil && *up.DefaultPostVisibility != "friends" && *up.DefaultPostVisibility != "private" {
		return tkesj.Settings{}, tkesj.Errorf(tkesj.EInvalid, "invalid_visibility", "default_post_visibility must be friends or private")
	}
	var st tkesj.Settings
	err := s.DB.Update(ctx, func(q *store.Queries) (err error) {
		if st, err = s.LookupSettings(ctx, q, a.UserID); err != nil {
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
		return q.PutSettings(ctx, a.UserID, string(doc), s.Now())
	})
	if err != nil {
		return tkesj.Settings{}, s.Internal(ctx, "update settings", err)
	}
	return st, nil
}

// Profile is what one person may see of another: no phone, no birth date.
type Profile struct {
	ID, Username, Nickname, Gender, AvatarID string
	Remark                                   string // the viewer's own remark for this person
	// Unreadable: the stored profile failed its integrity check; only ID
	// is set (issue 14 item 9).
	Unreadable bool
}

// LookupProfile opens a user's public profile; not_found when the user is
// gone. A profile that fails its integrity check is not gone: the error wraps
// kernel.ErrIntegrity, and the Profile returned with it holds the id and
// Unreadable, for lists that show it as damaged rather than drop it
// (UnreadableOr).
func (s *Service) LookupProfile(ctx context.Context, q *store.Queries, id string) (Profile, error) {
	rec, err := q.FindUserByID(ctx, id)
	if err != nil {
		return Profile{}, err
	}
	u, err := s.UserFromRecord(ctx, rec)
	if errors.Is(err, kernel.ErrIntegrity) {
		return Profile{ID: id, Unreadable: true}, err
	}
	if err != nil {
		return Profile{}, tkesj.ErrNotFound("user")
	}
	return Profile{ID: u.ID, Username: u.Username, Nickname: u.Nickname, Gender: u.Gender, AvatarID: u.AvatarID}, nil
}

// SearchUsers finds people by their exact username or phone number (R-MSG-1):
// no prefix search, nobody who switched that way of being found off, nobody
// who blocks the caller. It is rate-limited against enumeration.
func (s *Service) SearchUsers(ctx context.Context, a kernel.Auth, query string) ([]Profile, error) {
	if ok, wait := s.searches.Allow(a.UserID); !ok {
		return nil, s.LimitedFor(ctx, a.UserID, "rate_limit:searches", "searches", wait)
	}
	query = strings.TrimSpace(query)
	if query == "" || len(query) > 64 {
		return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_query", "search for an exact username or phone number")
	}
	q := s.DB.Read()
	var rec store.UserRecord
	var err error
	byPhone := false
	if name, nerr := validate.Username(query); nerr == nil {
		rec, err = q.FindUserByUsernameIdx(ctx, s.UsernameIdx(name))
	} else if phone, perr := validate.Phone(query, s.Cfg.PhoneRegion); perr == nil {
		byPhone = true
		rec, err = q.FindUserByPhoneIdx(ctx, s.PhoneIdx(phone))
	} else {
		return []Profile{}, nil
	}
	if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		return []Profile{}, nil
	} else if err != nil {
		return nil, s.Internal(ctx, "search users", err)
	}
	st, err := s.LookupSettings(ctx, q, rec.ID)
	if err != nil {
		return nil, s.Internal(ctx, "search users", err)
	}
	if (byPhone && !st.FoundByPhone) || (!byPhone && !st.FoundByUsername) {
		return []Profile{}, nil
	}
	if blocked, err := q.EitherBlocks(ctx, a.UserID, rec.ID); err != nil || blocked {
		return []Profile{}, nil
	}
	p, err := s.LookupProfile(ctx, q, rec.ID)
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
func (s *Service) SendFriendRequest(ctx context.Context, a kernel.Auth, to, greeting string) (FriendRequest, error) {
	if err := s.RequireActive(ctx, a); err != nil {
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
		return FriendRequest{}, s.LimitedFor(ctx, a.UserID, "rate_limit:friend_requests", "friend requests", wait)
	}
	q := s.DB.Read()
	target, err := s.LookupProfile(ctx, q, to)
	if err != nil {
		return FriendRequest{}, tkesj.ErrNotFound("user")
	}
	if blocked, err := q.EitherBlocks(ctx, a.UserID, to); err != nil {
		return FriendRequest{}, s.Internal(ctx, "friend request", err)
	} else if blocked {
		return FriendRequest{}, tkesj.Errorf(tkesj.EForbidden, "blocked", "this person does not accept requests from you")
	}
	if friends, err := q.AreFriends(ctx, a.UserID, to); err != nil {
		return FriendRequest{}, s.Internal(ctx, "friend request", err)
	} else if friends {
		return FriendRequest{}, tkesj.Errorf(tkesj.EConflict, "already_friends", "you are friends already")
	}
	if n, err := q.CountFriends(ctx, a.UserID); err != nil {
		return FriendRequest{}, s.Internal(ctx, "friend request", err)
	} else if n >= s.Cfg.FriendCap {
		return FriendRequest{}, tkesj.Errorf(tkesj.EConflict, "friend_limit_reached", "you have %d friends, the most allowed; remove someone before adding a friend", s.Cfg.FriendCap)
	}
	st, err := s.LookupSettings(ctx, q, to)
	if err != nil {
		return FriendRequest{}, s.Internal(ctx, "friend request", err)
	}
	sealed, err := s.Seal(ctx, a.UserID, "friend_requests/greeting", greeting)
	if err != nil {
		return FriendRequest{}, s.Internal(ctx, "friend request", err)
	}
	now := s.Now()
	rec := store.FriendRequestRecord{ID: kernel.NewID("r"), FromID: a.UserID, ToID: to, Greeting: sealed, Status: "pending", CreatedAt: now, ExpiresAt: now.Add(friendRequestTTL)}
	if !st.FriendRequestsNeedApproval {
		rec.Status = "accepted"
	}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
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
		return FriendRequest{}, s.Internal(ctx, "friend request", err)
	}
	s.fanout.kick()
	me, _ := s.LookupProfile(ctx, s.DB.Read(), a.UserID)
	fr := FriendRequest{ID: rec.ID, FromID: a.UserID, ToID: to, Greeting: greeting, Status: rec.Status, From: me, To: target, CreatedAt: now, ExpiresAt: rec.ExpiresAt}
	s.Publish(ctx, []string{to, a.UserID}, wire.FriendRequestFrame{Type: "friend_request", Request: friendRequestFrame(fr)})
	return fr, nil
}

func friendRequestFrame(fr FriendRequest) wire.FriendRequestRef {
	return wire.FriendRequestRef{ID: fr.ID, From: fr.FromID, To: fr.ToID, Status: fr.Status}
}

// FriendRequests lists the caller's requests, both ways, newest first.
// Expired pending requests show as expired.
func (s *Service) FriendRequests(ctx context.Context, a kernel.Auth) ([]FriendRequest, error) {
	q := s.DB.Read()
	recs, err := q.FriendRequests(ctx, a.UserID, 200)
	if err != nil {
		return nil, s.Internal(ctx, "friend requests", err)
	}
	now := s.Now()
	out := make([]FriendRequest, 0, len(recs))
	for _, r := range recs {
		from, ferr := s.LookupProfile(ctx, q, r.FromID)
		to, terr := s.LookupProfile(ctx, q, r.ToID)
		if ferr != nil || terr != nil {
			continue
		}
		var greeting string
		if err := s.Open(ctx, r.FromID, "friend_requests/greeting", r.Greeting, &greeting); err != nil {
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
func (s *Service) AnswerFriendRequest(ctx context.Context, a kernel.Auth, id string, accept bool) (FriendRequest, error) {
	if err := s.RequireActive(ctx, a); err != nil {
		return FriendRequest{}, err
	}
	now := s.Now()
	var rec store.FriendRequestRecord
	err := s.DB.Update(ctx, func(q *store.Queries) (err error) {
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
		return FriendRequest{}, s.Internal(ctx, "answer friend request", err)
	}
	s.fanout.kick()
	fr := FriendRequest{ID: rec.ID, FromID: rec.FromID, ToID: rec.ToID, Status: rec.Status, CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt}
	fr.From, _ = s.LookupProfile(ctx, s.DB.Read(), rec.FromID)
	fr.To, _ = s.LookupProfile(ctx, s.DB.Read(), rec.ToID)
	s.Publish(ctx, []string{rec.FromID, rec.ToID}, wire.FriendRequestFrame{Type: "friend_request", Request: friendRequestFrame(fr)})
	return fr, nil
}

// Contacts lists the caller's friends with the remark the caller gave each.
func (s *Service) Contacts(ctx context.Context, a kernel.Auth) ([]Profile, error) {
	q := s.DB.Read()
	fs, err := q.Friends(ctx, a.UserID)
	if err != nil {
		return nil, s.Internal(ctx, "contacts", err)
	}
	out := make([]Profile, 0, len(fs))
	for _, f := range fs {
		p, err := s.LookupProfile(ctx, q, f.FriendID)
		if err != nil && !p.Unreadable {
			continue
		}
		if f.Remark != nil {
			s.Open(ctx, a.UserID, "friends/remark/"+f.FriendID, f.Remark, &p.Remark)
		}
		out = append(out, p)
	}
	return out, nil
}

// SetRemark names a friend for the caller only.
func (s *Service) SetRemark(ctx context.Context, a kernel.Auth, friendID, remark string) error {
	remark = strings.TrimSpace(remark)
	if len([]rune(remark)) > 32 {
		return tkesj.Errorf(tkesj.EInvalid, "remark_too_long", "a remark has at most 32 characters")
	}
	var sealed []byte
	if remark != "" {
		var err error
		if sealed, err = s.Seal(ctx, a.UserID, "friends/remark/"+friendID, remark); err != nil {
			return s.Internal(ctx, "set remark", err)
		}
	}
	err := s.DB.Update(ctx, func(q *store.Queries) error { return q.SetRemark(ctx, a.UserID, friendID, sealed) })
	if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		return s.Internal(ctx, "set remark", err)
	}
	return err
}

// RemoveContact ends a friendship (both ways); not_found when there was none.
func (s *Service) RemoveContact(ctx context.Context, a kernel.Auth, friendID string) error {
	err := s.DB.Update(ctx, func(q *store.Queries) error {
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
		return s.Internal(ctx, "remove contact", err)
	}
	if err == nil {
		s.relationEnded(ctx, a.UserID, friendID)
	}
	return err
}

// Block stops another person from requesting, messaging or seeing the
// caller's posts, and hides theirs from the caller. Blocking ends a friendship.
func (s *Service) Block(ctx context.Context, a kernel.Auth, userID string) error {
	if userID == a.UserID {
		return tkesj.Errorf(tkesj.EInvalid, "cannot_block_self", "you cannot block yourself")
	}
	if _, err := s.LookupProfile(ctx, s.DB.Read(), userID); err != nil {
		return tkesj.ErrNotFound("user")
	}
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.Block(ctx, a.UserID, userID, s.Now()); err != nil {
			return err
		}
		return removeFriendship(ctx, q, a.UserID, userID)
	})
	if err != nil {
		return s.Internal(ctx, "block", err)
	}
	s.relationEnded(ctx, a.UserID, userID)
	return nil
}

// Unblock lifts a block (the friendship does not come back by itself).
func (s *Service) Unblock(ctx context.Context, a kernel.Auth, userID string) error {
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.Unblock(ctx, a.UserID, userID) }); err != nil {
		return s.Internal(ctx, "unblock", err)
	}
	return nil
}

// Blocked lists the people the caller blocks.
func (s *Service) Blocked(ctx context.Context, a kernel.Auth) ([]Profile, error) {
	q := s.DB.Read()
	ids, err := q.Blocked(ctx, a.UserID)
	if err != nil {
		return nil, s.Internal(ctx, "blocked", err)
	}
	out := []Profile{}
	for _, id := range ids {
		if p, err := s.LookupProfile(ctx, q, id); err == nil || p.Unreadable {
			out = append(out, p)
		}
	}
	return out, nil
}
