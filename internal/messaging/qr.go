package messaging

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/ratelimit"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// QR codes (R-QR-1, R-QR-2). A code's payload is "tkesj:<kind>:<token>" with
// kind friend, group or login and a 32-character token. The store keeps no
// token: it finds a row by the token's keyed hash (s.keys.Index), and the
// tokens of friend and group codes are derived from a stored random salt with
// the index key, so the same code can be drawn again without being stored.
//
// Every code that is no longer usable (expired, revoked, used, or whose maker
// left the group) answers 410 qr_expired: the scanner holds the payload
// already, so saying the code once worked reveals nothing new, and one answer
// ("ask for a new code") is all a client needs. A payload that never was a
// code, or one of a person who blocks the scanner, is not_found.

const (
	qrScheme       = "tkesj:"
	qrKindFriend   = "friend"
	qrKindGroup    = "group"
	qrKindLogin    = "login"
	qrTokenLen     = 32 // base32 of 20 bytes
	qrMaxPayload   = 256
	qrGroupDefault = 7 * 24 * time.Hour
	qrLoginDefault = 2 * time.Minute
	// Expired codes stay a while so that scanning one says qr_expired
	// rather than not_found; then they are deleted.
	qrGroupKeep = 30 * 24 * time.Hour
	qrLoginKeep = 10 * time.Minute
)

// qrLimits holds the QR rate limits, made on first use so that Service
// needs no set-up for them.
type qrLimits struct {
	once    sync.Once
	scans   *ratelimit.Limiter // scans and joins per person
	creates *ratelimit.Limiter // group codes made per person
	logins  *ratelimit.Limiter // login codes per client IP
}

func (s *Service) qrLimits() *qrLimits {
	s.qr.once.Do(func() {
		s.qr.scans = ratelimit.New(60, 10*time.Minute, 0)
		s.qr.creates = ratelimit.New(30, time.Hour, 0)
		s.qr.logins = ratelimit.New(30, 10*time.Minute, 0)
	})
	return &s.qr
}

func (s *Service) groupQRTTL() time.Duration {
	if s.Cfg.GroupQRTTL > 0 {
		return s.Cfg.GroupQRTTL
	}
	return qrGroupDefault
}

func (s *Service) loginQRTTL() time.Duration {
	if s.Cfg.LoginQRTTL > 0 {
		return s.Cfg.LoginQRTTL
	}
	return qrLoginDefault
}

var (
	errQRExpired = tkesj.Errorf(tkesj.EGone, "qr_expired", "this QR code has expired or was revoked; ask for a new one")
	errQRUnknown = tkesj.ErrNotFound("qr code")
)

func errQRInvalid(detail string) error {
	return tkesj.Errorf(tkesj.EInvalid, "invalid_qr", "%s", detail)
}

// parseQR splits a payload into its kind and token. Anything that is not a
// well-formed tkesj code is invalid_qr; a well-formed one may still be unknown.
func parseQR(payload string) (kind, token string, err error) {
	payload = strings.TrimSpace(payload)
	if payload == "" {
		return "", "", errQRInvalid("send the scanned code's text as payload")
	}
	if len(payload) > qrMaxPayload {
		return "", "", errQRInvalid("this is not a tkesj QR code")
	}
	rest, ok := strings.CutPrefix(payload, qrScheme)
	if !ok {
		return "", "", errQRInvalid("this is not a tkesj QR code")
	}
	kind, token, ok = strings.Cut(rest, ":")
	if !ok || (kind != qrKindFriend && kind != qrKindGroup && kind != qrKindLogin) {
		return "", "", errQRInvalid("this is not a tkesj QR code")
	}
	if !validQRToken(token) {
		return "", "", errQRInvalid("this QR code is damaged; scan it again")
	}
	return kind, token, nil
}

func validQRToken(t string) bool {
	if len(t) != qrTokenLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func qrPayload(kind, token string) string { return qrScheme + kind + ":" + token }

// qrToken derives a code's token from its owner (a person or a code id) and
// salt with the index key: the database alone cannot produce it.
func (s *Service) qrToken(kind, owner string, salt []byte) string {
	m := s.Keys.Index("qr-"+kind+"-token", owner+"\x00"+hex.EncodeToString(salt))
	return kernel.IDEncoding.EncodeToString(m[:20])
}

func (s *Service) qrIdx(kind, token string) []byte { return s.Keys.Index("qr-"+kind, token) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// ---- personal codes (R-QR-1) ----

// FriendQR is a person's "add me" code.
type FriendQR struct{ Token, Payload string }

// MyFriendQR returns the caller's personal code, made on first use. It stays
// the same until ResetFriendQR.
func (s *Service) MyFriendQR(ctx context.Context, a kernel.Auth) (FriendQR, error) {
	rec, err := s.DB.Read().FindFriendCode(ctx, a.UserID)
	if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		err = s.DB.Update(ctx, func(q *store.Queries) error {
			salt := randomBytes(16)
			fresh := store.FriendCodeRecord{UserID: a.UserID, Salt: salt, TokenIdx: s.qrIdx(qrKindFriend, s.qrToken(qrKindFriend, a.UserID, salt)), CreatedAt: s.Now()}
			if err := q.CreateFriendCode(ctx, fresh); err != nil {
				return err
			}
			// A concurrent first request may have won; both answer its code.
			rec, err = q.FindFriendCode(ctx, a.UserID)
			return err
		})
	}
	if err != nil {
		return FriendQR{}, s.Internal(ctx, "friend qr", err)
	}
	t := s.qrToken(qrKindFriend, a.UserID, rec.Salt)
	return FriendQR{Token: t, Payload: qrPayload(qrKindFriend, t)}, nil
}

// ResetFriendQR gives the caller a new personal code; every earlier one is
// unknown from now on.
func (s *Service) ResetFriendQR(ctx context.Context, a kernel.Auth) (FriendQR, error) {
	salt := randomBytes(16)
	t := s.qrToken(qrKindFriend, a.UserID, salt)
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		return q.PutFriendCode(ctx, store.FriendCodeRecord{UserID: a.UserID, Salt: salt, TokenIdx: s.qrIdx(qrKindFriend, t), CreatedAt: s.Now()})
	})
	if err != nil {
		return FriendQR{}, s.Internal(ctx, "reset friend qr", err)
	}
	return FriendQR{Token: t, Payload: qrPayload(qrKindFriend, t)}, nil
}

// ScanResult is what scanning a code shows.
type ScanResult struct {
	Kind     string // friend or group
	User     social.Profile
	IsFriend bool
	Request  *social.FriendRequest // when the scan sent a friend request
	Group    GroupPreview
}

// GroupPreview is what a scanner who may not be a member sees of a group.
type GroupPreview struct {
	ID, Name     string
	MemberCount  int
	JoinApproval bool
	Member       bool
}

// ScanQR answers a scanned friend or group code (R-QR-1). A friend code shows
// its owner's public profile (never the phone) and, when greeting is not nil,
// sends them a friend request through SendFriendRequest. A group code shows
// the group's name and size. Unknown codes and people who block the scanner
// are not_found; codes no longer valid are 410 qr_expired. Scans are
// rate-limited per person.
func (s *Service) ScanQR(ctx context.Context, a kernel.Auth, payload string, greeting *string) (ScanResult, error) {
	kind, token, err := parseQR(payload)
	if err != nil {
		return ScanResult{}, err
	}
	if ok, wait := s.qrLimits().scans.Allow(a.UserID); !ok {
		return ScanResult{}, accounts.RateLimited(wait, "QR code scans")
	}
	q := s.DB.Read()
	switch kind {
	case qrKindFriend:
		rec, err := q.FindFriendCodeByToken(ctx, s.qrIdx(qrKindFriend, token))
		if err != nil {
			return ScanResult{}, s.notFoundOr(ctx, "scan qr", err)
		}
		if blocked, err := q.Blocks(ctx, rec.UserID, a.UserID); err != nil {
			return ScanResult{}, s.Internal(ctx, "scan qr", err)
		} else if blocked {
			return ScanResult{}, errQRUnknown
		}
		p, err := s.LookupProfile(ctx, q, rec.UserID)
		if err != nil {
			return ScanResult{}, errQRUnknown
		}
		res := ScanResult{Kind: qrKindFriend, User: p}
		if res.IsFriend, err = q.AreFriends(ctx, a.UserID, rec.UserID); err != nil {
			return ScanResult{}, s.Internal(ctx, "scan qr", err)
		}
		if greeting != nil {
			fr, err := s.SendFriendRequest(ctx, a, rec.UserID, *greeting)
			if err != nil {
				return ScanResult{}, err
			}
			res.Request = &fr
			res.IsFriend = fr.Status == "accepted"
		}
		return res, nil
	case qrKindGroup:
		if greeting != nil {
			return ScanResult{}, tkesj.Errorf(tkesj.EInvalid, "invalid_field", "a greeting goes with a personal code only; join a group with POST /api/v1/qr/join")
		}
		code, err := s.usableGroupCode(ctx, q, a, token)
		if err != nil {
			return ScanResult{}, err
		}
		g, err := s.groupPreview(ctx, q, a, code.ConvID)
		if err != nil {
			return ScanResult{}, err
		}
		return ScanResult{Kind: qrKindGroup, Group: g}, nil
	}
	return ScanResult{}, errQRInvalid("this is a login code; scan it with POST /api/v1/login-qr/scan")
}

func (s *Service) notFoundOr(ctx context.Context, op string, err error) error {
	if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		return errQRUnknown
	}
	return s.Internal(ctx, op, err)
}

// ---- group codes (R-QR-1) ----

// GroupQR is a group's invitation code.
type GroupQR struct {
	ID, ConvID, CreatorID, Payload string
	CreatedAt, ExpiresAt           time.Time
	Revoked                        bool
}

// usableGroupCode finds the group code behind token for scanner a: unknown,
// or made by someone who blocks or is blocked by the scanner, is not_found;
// revoked, expired or made by someone who has left the group is qr_expired.
func (s *Service) usableGroupCode(ctx context.Context, q *store.Queries, a kernel.Auth, token string) (store.GroupCodeRecord, error) {
	code, err := q.FindGroupCodeByToken(ctx, s.qrIdx(qrKindGroup, token))
	if err != nil {
		return code, s.notFoundOr(ctx, "group qr", err)
	}
	if blocked, err := q.EitherBlocks(ctx, code.CreatorID, a.UserID); err != nil {
		return code, s.Internal(ctx, "group qr", err)
	} else if blocked {
		return code, errQRUnknown
	}
	if code.RevokedAt.Valid || !s.Now().Before(code.ExpiresAt) {
		return code, errQRExpired
	}
	if _, err := q.FindMember(ctx, code.ConvID, code.CreatorID); err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return code, errQRExpired
		}
		return code, s.Internal(ctx, "group qr", err)
	}
	return code, nil
}

func (s *Service) groupPreview(ctx context.Context, q *store.Queries, a kernel.Auth, convID string) (GroupPreview, error) {
	rec, err := q.FindConversation(ctx, convID)
	if err != nil {
		return GroupPreview{}, s.notFoundOr(ctx, "group preview", err)
	}
	g := GroupPreview{ID: rec.ID}
	var meta groupMeta
	if err := s.Open(ctx, convKeyID(rec.ID), "conversations/"+rec.ID+"/meta", rec.Meta, &meta); err == nil {
		g.Name = meta.Name
	}
	if g.MemberCount, err = q.CountMembers(ctx, convID); err != nil {
		return GroupPreview{}, s.Internal(ctx, "group preview", err)
	}
	if g.JoinApproval, err = q.JoinApproval(ctx, convID); err != nil {
		return GroupPreview{}, s.Internal(ctx, "group preview", err)
	}
	if _, err := q.FindMember(ctx, convID, a.UserID); err == nil {
		g.Member = true
	}
	return g, nil
}

// groupMember returns the caller's membership of a group: not_found for
// non-members, not_a_group for direct chats.
func (s *Service) groupMember(ctx context.Context, q *store.Queries, a kernel.Auth, convID string) (store.MemberRecord, error) {
	m, err := s.Member(ctx, q, a, convID)
	if err != nil {
		return m, err
	}
	rec, err := q.FindConversation(ctx, convID)
	if err != nil {
		return m, s.Internal(ctx, "group", err)
	}
	if rec.Kind != "group" {
		return m, tkesj.Errorf(tkesj.EInvalid, "not_a_group", "only groups have QR codes and join requests")
	}
	return m, nil
}

func isGroupAdmin(m store.MemberRecord) bool { return m.Role == "owner" || m.Role == "admin" }

func (s *Service) groupQRView(code store.GroupCodeRecord) GroupQR {
	return GroupQR{ID: code.ID, ConvID: code.ConvID, CreatorID: code.CreatorID,
		Payload:   qrPayload(qrKindGroup, s.qrToken(qrKindGroup, code.ID, code.Salt)),
		CreatedAt: code.CreatedAt, ExpiresAt: code.ExpiresAt, Revoked: code.RevokedAt.Valid}
}

// CreateGroupQR makes an invitation code for a group the caller is in. Any
// member may, unless the group needs approval to join: then only its owner
// and admins. Non-members get not_found. The code works for GroupQRTTL.
func (s *Service) CreateGroupQR(ctx context.Context, a kernel.Auth, convID string) (GroupQR, error) {
	if err := s.RequireActive(ctx, a); err != nil {
		return GroupQR{}, err
	}
	q := s.DB.Read()
	m, err := s.groupMember(ctx, q, a, convID)
	if err != nil {
		return GroupQR{}, err
	}
	approval, err := q.JoinApproval(ctx, convID)
	if err != nil {
		return GroupQR{}, s.Internal(ctx, "create group qr", err)
	}
	if approval && !isGroupAdmin(m) {
		return GroupQR{}, tkesj.Errorf(tkesj.EForbidden, "forbidden", "in this group only the owner and admins can make QR codes")
	}
	if ok, wait := s.qrLimits().creates.Allow(a.UserID); !ok {
		return GroupQR{}, accounts.RateLimited(wait, "group QR codes")
	}
	now := s.Now()
	code := store.GroupCodeRecord{ID: kernel.NewID("q"), ConvID: convID, CreatorID: a.UserID, Salt: randomBytes(16), CreatedAt: now, ExpiresAt: now.Add(s.groupQRTTL())}
	code.TokenIdx = s.qrIdx(qrKindGroup, s.qrToken(qrKindGroup, code.ID, code.Salt))
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.DeleteGroupCodesExpiredBefore(ctx, now.Add(-qrGroupKeep)); err != nil {
			return err
		}
		return q.CreateGroupCode(ctx, code)
	})
	if err != nil {
		return GroupQR{}, s.Internal(ctx, "create group qr", err)
	}
	return s.groupQRView(code), nil
}

// GroupQRCode returns one of a group's codes to a member (to draw it again);
// not_found for non-members and unknown codes, qr_expired once it no longer works.
func (s *Service) GroupQRCode(ctx context.Context, a kernel.Auth, convID, id string) (GroupQR, error) {
	q := s.DB.Read()
	if _, err := s.groupMember(ctx, q, a, convID); err != nil {
		return GroupQR{}, err
	}
	code, err := q.FindGroupCode(ctx, convID, id)
	if err != nil {
		return GroupQR{}, s.notFoundOr(ctx, "group qr", err)
	}
	if code.RevokedAt.Valid || !s.Now().Before(code.ExpiresAt) {
		return GroupQR{}, errQRExpired
	}
	return s.groupQRView(code), nil
}

// RevokeGroupQR stops a group code from working: its maker, the owner or an
// admin may; other members are forbidden, non-members get not_found.
func (s *Service) RevokeGroupQR(ctx context.Context, a kernel.Auth, convID, id string) error {
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		m, err := s.groupMember(ctx, q, a, convID)
		if err != nil {
			return err
		}
		code, err := q.FindGroupCode(ctx, convID, id)
		if err != nil {
			return err
		}
		if code.CreatorID != a.UserID && !isGroupAdmin(m) {
			return tkesj.Errorf(tkesj.EForbidden, "forbidden", "only the code's maker, the owner and admins can revoke it")
		}
		return q.RevokeGroupCode(ctx, id, s.Now())
	})
	if err != nil {
		if k := tkesj.ErrorKindOf(err); k == tkesj.ENotFound {
			return errQRUnknown
		} else if _, ok := err.(*tkesj.Error); ok {
			return err
		}
		return s.Internal(ctx, "revoke group qr", err)
	}
	return nil
}

// JoinApproval reports whether joining the group needs approval; members only.
func (s *Service) JoinApproval(ctx context.Context, a kernel.Auth, convID string) (bool, error) {
	q := s.DB.Read()
	if _, err := s.groupMember(ctx, q, a, convID); err != nil {
		return false, err
	}
	on, err := q.JoinApproval(ctx, convID)
	if err != nil {
		return false, s.Internal(ctx, "join approval", err)
	}
	return on, nil
}

// SetJoinApproval switches whether joining by QR code needs the owner's or
// an admin's approval (and whether plain members may make codes). Owner and
// admins only; members get an "updated" conversation event.
func (s *Service) SetJoinApproval(ctx context.Context, a kernel.Auth, convID string, on bool) error {
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		m, err := s.groupMember(ctx, q, a, convID)
		if err != nil {
			return err
		}
		if !isGroupAdmin(m) {
			return tkesj.Errorf(tkesj.EForbidden, "forbidden", "only the group's owner and admins can change this")
		}
		return q.SetJoinApproval(ctx, convID, on, s.Now())
	})
	if err != nil {
		if _, ok := err.(*tkesj.Error); ok {
			return err
		}
		return s.Internal(ctx, "set join approval", err)
	}
	s.PublishToMembers(ctx, convID, wire.ConversationFrame{Type: "conversation", ConversationID: convID, Event: "updated"})
	return nil
}

// JoinResult is the outcome of joining by QR code: "joined" (with the
// conversation) or "pending" (with the request waiting for approval).
type JoinResult struct {
	Status       string
	Conversation Conversation
	Request      JoinRequest
}

// JoinRequest is a request to join a group.
type JoinRequest struct {
	ID, ConvID, Status string
	User               social.Profile
	CreatedAt          time.Time
}

// JoinByQR joins the caller to the group of a scanned code. With join
// approval on, it files a request the owner and admins answer (they get a
// "join_requested" conversation event); otherwise the caller is a member at
// once, seeing messages from now on, and members get "members_changed". The
// group's member cap holds; blocks and invalid codes answer as in ScanQR.
func (s *Service) JoinByQR(ctx context.Context, a kernel.Auth, payload string) (JoinResult, error) {
	kind, token, err := parseQR(payload)
	if err != nil {
		return JoinResult{}, err
	}
	if kind != qrKindGroup {
		return JoinResult{}, errQRInvalid("this is not a group's QR code")
	}
	if err := s.RequireActive(ctx, a); err != nil {
		return JoinResult{}, err
	}
	if ok, wait := s.qrLimits().scans.Allow(a.UserID); !ok {
		return JoinResult{}, accounts.RateLimited(wait, "QR code scans")
	}
	code, err := s.usableGroupCode(ctx, s.DB.Read(), a, token)
	if err != nil {
		return JoinResult{}, err
	}
	convID := code.ConvID
	var res JoinResult
	already := false
	now := s.Now()
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		// Checked again in the transaction: the code may have been revoked since.
		if _, err := s.usableGroupCode(ctx, q, a, token); err != nil {
			return err
		}
		if _, err := q.FindMember(ctx, convID, a.UserID); err == nil {
			res.Status, already = "joined", true
			return nil
		}
		approval, err := q.JoinApproval(ctx, convID)
		if err != nil {
			return err
		}
		if approval {
			res.Status = "pending"
			if r, err := q.PendingJoinRequest(ctx, convID, a.UserID); err == nil {
				res.Request = JoinRequest{ID: r.ID, ConvID: convID, Status: r.Status, CreatedAt: r.CreatedAt}
				return nil
			}
			r := store.JoinRequestRecord{ID: kernel.NewID("j"), ConvID: convID, UserID: a.UserID, Status: "pending", CreatedAt: now}
			res.Request = JoinRequest{ID: r.ID, ConvID: convID, Status: r.Status, CreatedAt: now}
			return q.CreateJoinRequest(ctx, r)
		}
		res.Status = "joined"
		return s.addJoiner(ctx, q, convID, a.UserID, now)
	})
	if err != nil {
		if _, ok := err.(*tkesj.Error); ok {
			return JoinResult{}, err
		}
		return JoinResult{}, s.Internal(ctx, "join by qr", err)
	}
	if res.Status == "pending" {
		res.Request.User, _ = s.LookupProfile(ctx, s.DB.Read(), a.UserID)
		s.Publish(ctx, s.groupAdmins(ctx, convID), wire.ConversationFrame{Type: "conversation", ConversationID: convID, Event: "join_requested", RequestID: res.Request.ID})
		return res, nil
	}
	if !already {
		s.Invalidate(ctx, kernel.Invalidation{Conversations: []string{convID}})
		s.PublishToMembers(ctx, convID, wire.ConversationFrame{Type: "conversation", ConversationID: convID, Event: "members_changed"})
	}
	res.Conversation, err = s.Conversation(ctx, a, convID)
	return res, err
}

// addJoiner makes userID a member of convID within the group's cap, seeing
// messages after the current last one (as AddMembers does).
func (s *Service) addJoiner(ctx context.Context, q *store.Queries, convID, userID string, now time.Time) error {
	n, err := q.CountMembers(ctx, convID)
	if err != nil {
		return err
	}
	if n+1 > s.Cfg.GroupCap {
		return tkesj.Errorf(tkesj.EInvalid, "group_full", "a group has at most %d members", s.Cfg.GroupCap)
	}
	c, err := q.FindConversation(ctx, convID)
	if err != nil {
		return err
	}
	err = q.AddMember(ctx, store.MemberRecord{ConvID: convID, UserID: userID, Role: "member", JoinedSeq: c.LastSeq, ReceivedSeq: c.LastSeq, ReadSeq: c.LastSeq, JoinedAt: now})
	if err != nil && tkesj.ErrorCode(err) != "already_member" {
		return err
	}
	return nil
}

func (s *Service) groupAdmins(ctx context.Context, convID string) []string {
	ms, err := s.DB.Read().Members(ctx, convID)
	if err != nil {
		s.Log.WarnContext(ctx, "group admins", "err", err.Error())
		return nil
	}
	var out []string
	for _, m := range ms {
		if isGroupAdmin(m) {
			out = append(out, m.UserID)
		}
	}
	return out
}

// JoinRequests lists a group's pending join requests, oldest first; owner
// and admins only (others are forbidden, non-members get not_found).
func (s *Service) JoinRequests(ctx context.Context, a kernel.Auth, convID string) ([]JoinRequest, error) {
	q := s.DB.Read()
	m, err := s.groupMember(ctx, q, a, convID)
	if err != nil {
		return nil, err
	}
	if !isGroupAdmin(m) {
		return nil, tkesj.Errorf(tkesj.EForbidden, "forbidden", "only the group's owner and admins see join requests")
	}
	recs, err := q.PendingJoinRequests(ctx, convID, 200)
	if err != nil {
		return nil, s.Internal(ctx, "join requests", err)
	}
	out := make([]JoinRequest, 0, len(recs))
	for _, r := range recs {
		p, err := s.LookupProfile(ctx, q, r.UserID)
		if err != nil {
			continue
		}
		out = append(out, JoinRequest{ID: r.ID, ConvID: r.ConvID, Status: r.Status, User: p, CreatedAt: r.CreatedAt})
	}
	return out, nil
}

// AnswerJoinRequest approves or declines a pending join request; owner and
// admins only. Approving adds the person within the member cap, unless the
// approver and they block each other. An answered request is a conflict.
func (s *Service) AnswerJoinRequest(ctx context.Context, a kernel.Auth, convID, id string, approve bool) (JoinRequest, error) {
	var rec store.JoinRequestRecord
	now := s.Now()
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		m, err := s.groupMember(ctx, q, a, convID)
		if err != nil {
			return err
		}
		if !isGroupAdmin(m) {
			return tkesj.Errorf(tkesj.EForbidden, "forbidden", "only the group's owner and admins answer join requests")
		}
		if rec, err = q.FindJoinRequest(ctx, convID, id); err != nil {
			return err
		}
		if rec.Status != "pending" {
			return tkesj.Errorf(tkesj.EConflict, "request_closed", "this request was answered already")
		}
		rec.Status = "declined"
		if approve {
			rec.Status = "approved"
			if blocked, err := q.EitherBlocks(ctx, a.UserID, rec.UserID); err != nil {
				return err
			} else if blocked {
				return tkesj.Errorf(tkesj.EForbidden, "blocked", "unblock this person first")
			}
			if err := s.addJoiner(ctx, q, convID, rec.UserID, now); err != nil {
				return err
			}
		}
		if ok, err := q.DecideJoinRequest(ctx, id, rec.Status, a.UserID, now); err != nil {
			return err
		} else if !ok {
			return tkesj.Errorf(tkesj.EConflict, "request_closed", "this request was answered already")
		}
		return nil
	})
	if err != nil {
		if _, ok := err.(*tkesj.Error); ok {
			return JoinRequest{}, err
		}
		return JoinRequest{}, s.Internal(ctx, "answer join request", err)
	}
	jr := JoinRequest{ID: rec.ID, ConvID: convID, Status: rec.Status, CreatedAt: rec.CreatedAt}
	jr.User, _ = s.LookupProfile(ctx, s.DB.Read(), rec.UserID)
	s.Publish(ctx, []string{rec.UserID}, wire.JoinRequestFrame{Type: "join_request", ConversationID: convID, Request: wire.JoinRequestStatus{ID: rec.ID, Status: rec.Status}})
	if approve {
		s.Invalidate(ctx, kernel.Invalidation{Conversations: []string{convID}})
		s.PublishToMembers(ctx, convID, wire.ConversationFrame{Type: "conversation", ConversationID: convID, Event: "members_changed"})
	}
	return jr, nil
}

// ---- scan-to-login (R-QR-2) ----

// LoginQR is a new scan-to-login code as the web page that asked sees it.
type LoginQR struct {
	ID, Payload, PollToken string
	ExpiresAt              time.Time
}

// LoginRequester is what a scanning phone is shown about the page asking to sign in.
type LoginRequester struct {
	ID        string
	Device    tkesj.Device
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LoginPoll is what the web page learns when it polls: a status, and once,
// when confirmed, its own session.
type LoginPoll struct {
	Status string // pending, scanned, confirmed, denied, expired
	Token  string
	User   tkesj.User
}

type loginRequester struct {
	Device    tkesj.Device `json:"device"`
	CreatedAt time.Time    `json:"created_at"`
}

func loginKeyID(id string) string { return "qrlogin:" + id }

func loginAD(id string) string { return "qr_logins/" + id + "/requester" }

// CreateLoginQR starts a scan-to-login for a web page (unauthenticated): it
// returns the code's payload and the poll token only the page holds. What the
// page says about its device, and its IP, are sealed with a key of this
// request alone, destroyed when it ends. Rate-limited per client IP.
func (s *Service) CreateLoginQR(ctx context.Context, d accounts.DeviceInput, ip string) (LoginQR, error) {
	dev, err := d.Validate(ip)
	if err != nil {
		return LoginQR{}, err
	}
	if ok, wait := s.qrLimits().logins.Allow(ip); !ok {
		return LoginQR{}, accounts.RateLimited(wait, "login codes from this network")
	}
	s.sweepLoginQRs(ctx)
	now := s.Now()
	id := kernel.NewID("l")
	token := kernel.IDEncoding.EncodeToString(randomBytes(20))
	poll := kernel.IDEncoding.EncodeToString(randomBytes(32))
	if err := s.Keys.CreateKey(ctx, loginKeyID(id)); err != nil {
		return LoginQR{}, s.Internal(ctx, "create login qr", err)
	}
	sealed, err := s.Seal(ctx, loginKeyID(id), loginAD(id), loginRequester{Device: dev, CreatedAt: now})
	if err != nil {
		s.Keys.Destroy(ctx, loginKeyID(id))
		return LoginQR{}, s.Internal(ctx, "create login qr", err)
	}
	rec := store.LoginCodeRecord{ID: id, TokenIdx: s.qrIdx(qrKindLogin, token), PollIdx: s.qrIdx("login-poll", poll), Requester: sealed,
		Status: "pending", CreatedAt: now, ExpiresAt: now.Add(s.loginQRTTL())}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.CreateLoginCode(ctx, rec) }); err != nil {
		s.Keys.Destroy(ctx, loginKeyID(id))
		return LoginQR{}, s.Internal(ctx, "create login qr", err)
	}
	return LoginQR{ID: id, Payload: qrPayload(qrKindLogin, token), PollToken: poll, ExpiresAt: rec.ExpiresAt}, nil
}

// sweepLoginQRs deletes requests that ended a while ago, with their keys.
func (s *Service) sweepLoginQRs(ctx context.Context) {
	ids, err := s.DB.Read().ExpiredLoginCodes(ctx, s.Now().Add(-qrLoginKeep), 50)
	if err != nil {
		s.Log.WarnContext(ctx, "sweep login codes", "err", err.Error())
		return
	}
	for _, id := range ids {
		s.Keys.Destroy(ctx, loginKeyID(id))
		if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DeleteLoginCode(ctx, id) }); err != nil {
			s.Log.WarnContext(ctx, "sweep login codes", "err", err.Error())
			return
		}
	}
}

func (s *Service) loginRequester(ctx context.Context, rec store.LoginCodeRecord) (LoginRequester, error) {
	var r loginRequester
	if err := s.Open(ctx, loginKeyID(rec.ID), loginAD(rec.ID), rec.Requester, &r); err != nil {
		return LoginRequester{}, err
	}
	return LoginRequester{ID: rec.ID, Device: r.Device, CreatedAt: r.CreatedAt, ExpiresAt: rec.ExpiresAt}, nil
}

// ScanLoginQR is a signed-in device scanning a web page's login code: it
// shows the phone what is asking (device, IP, when) and binds the request to
// the scanner, who alone may confirm or deny it. Scanning it again from the
// same account repeats the answer; a code scanned by someone else, answered
// or expired is qr_expired.
func (s *Service) ScanLoginQR(ctx context.Context, a kernel.Auth, payload string) (LoginRequester, error) {
	kind, token, err := parseQR(payload)
	if err != nil {
		return LoginRequester{}, err
	}
	if kind != qrKindLogin {
		return LoginRequester{}, errQRInvalid("this is not a login code; scan it with POST /api/v1/qr/scan")
	}
	if ok, wait := s.qrLimits().scans.Allow(a.UserID); !ok {
		return LoginRequester{}, accounts.RateLimited(wait, "QR code scans")
	}
	rec, err := s.DB.Read().FindLoginCodeByToken(ctx, s.qrIdx(qrKindLogin, token))
	if err != nil {
		return LoginRequester{}, s.notFoundOr(ctx, "scan login qr", err)
	}
	if !s.Now().Before(rec.ExpiresAt) {
		return LoginRequester{}, errQRExpired
	}
	mine := rec.Status == "scanned" && rec.ScannerID.String == a.UserID
	if !mine {
		var moved bool
		err := s.DB.Update(ctx, func(q *store.Queries) (err error) {
			moved, err = q.MoveLoginCode(ctx, rec.ID, "pending", "scanned", a.UserID)
			return err
		})
		if err != nil {
			return LoginRequester{}, s.Internal(ctx, "scan login qr", err)
		}
		if !moved {
			return LoginRequester{}, errQRExpired
		}
	}
	r, err := s.loginRequester(ctx, rec)
	if err != nil {
		return LoginRequester{}, s.Internal(ctx, "scan login qr", err)
	}
	return r, nil
}

// AnswerLoginQR confirms or denies a login request the caller scanned. A
// request the caller did not scan (or an unknown one) is not_found; one
// answered already or expired is qr_expired, so a code confirms once.
func (s *Service) AnswerLoginQR(ctx context.Context, a kernel.Auth, id string, confirm bool) (string, error) {
	if len(id) > 64 {
		return "", errQRUnknown
	}
	rec, err := s.DB.Read().FindLoginCode(ctx, id)
	if err != nil {
		return "", s.notFoundOr(ctx, "answer login qr", err)
	}
	if !rec.ScannerID.Valid || rec.ScannerID.String != a.UserID {
		return "", errQRUnknown
	}
	if !s.Now().Before(rec.ExpiresAt) {
		return "", errQRExpired
	}
	to := "denied"
	if confirm {
		to = "confirmed"
	}
	var moved bool
	err = s.DB.Update(ctx, func(q *store.Queries) (err error) {
		moved, err = q.MoveLoginCode(ctx, id, "scanned", to, "")
		return err
	})
	if err != nil {
		return "", s.Internal(ctx, "answer login qr", err)
	}
	if !moved {
		return "", errQRExpired
	}
	if !confirm {
		s.Keys.Destroy(ctx, loginKeyID(id)) // nothing will read the page's details again
	}
	return to, nil
}

// PollLoginQR is the web page asking how its login request stands
// (unauthenticated; the poll token proves it is the page that asked, and a
// wrong one is not_found). The first poll after confirmation signs the page
// in as the confirming person, on a new device record made of what the page
// sent; later polls say confirmed with no token. After expiry the answer is
// expired, whatever happened before.
func (s *Service) PollLoginQR(ctx context.Context, id, pollToken string) (LoginPoll, error) {
	if len(id) > 64 || len(pollToken) > 128 {
		return LoginPoll{}, errQRUnknown
	}
	rec, err := s.DB.Read().FindLoginCode(ctx, id)
	if err != nil {
		return LoginPoll{}, s.notFoundOr(ctx, "poll login qr", err)
	}
	if subtle.ConstantTimeCompare(rec.PollIdx, s.qrIdx("login-poll", pollToken)) != 1 {
		return LoginPoll{}, errQRUnknown
	}
	if !s.Now().Before(rec.ExpiresAt) {
		return LoginPoll{Status: "expired"}, nil
	}
	switch rec.Status {
	case "pending", "scanned", "denied":
		return LoginPoll{Status: rec.Status}, nil
	case "collected":
		return LoginPoll{Status: "confirmed"}, nil
	}
	r, err := s.loginRequester(ctx, rec)
	if err != nil {
		// A concurrent poll may have collected the session and shredded the
		// request's key in the meantime.
		if cur, ferr := s.DB.Read().FindLoginCode(ctx, id); ferr == nil && cur.Status == "collected" {
			return LoginPoll{Status: "confirmed"}, nil
		}
		return LoginPoll{}, s.Internal(ctx, "poll login qr", err)
	}
	userID := rec.ScannerID.String
	var out LoginPoll
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		moved, err := q.MoveLoginCode(ctx, id, "confirmed", "collected", "")
		if err != nil || !moved {
			return err
		}
		u, err := q.FindUserByID(ctx, userID)
		if err != nil {
			return err
		}
		if out.User, err = s.UserFromRecord(ctx, u); err != nil {
			return err
		}
		out.Token, err = s.StartSession(ctx, q, userID, r.Device)
		return err
	})
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return LoginPoll{}, errQRUnknown // the confirming account is gone
		}
		return LoginPoll{}, s.Internal(ctx, "poll login qr", err)
	}
	s.Keys.Destroy(ctx, loginKeyID(id))
	out.Status = "confirmed"
	if out.Token == "" {
		out.User = tkesj.User{}
	}
	return out, nil
}
