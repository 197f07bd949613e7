package social

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
)

// ExportProfile is a profile as exports write it.
func ExportProfile(p Profile) map[string]any {
	j := map[string]any{"id": p.ID, "username": p.Username, "nickname": p.Nickname, "gender": p.Gender}
	if p.Remark != "" {
		j["remark"] = p.Remark
	}
	return j
}

func (s *Service) exportContacts(ctx context.Context, a kernel.Auth, x *kernel.Archive) error {
	if cs, err := s.Contacts(ctx, a); err != nil {
		x.Lost("contacts.json", "", "read_failed")
	} else {
		out := make([]map[string]any, 0, len(cs))
		for _, c := range cs {
			out = append(out, ExportProfile(c))
		}
		x.Count("contacts", len(out))
		if err := x.JSON("contacts.json", "contacts", len(out), map[string]any{"contacts": out}); err != nil {
			return err
		}
	}
	bs, err := s.Blocked(ctx, a)
	if err != nil {
		x.Lost("blocked.json", "", "read_failed")
		return nil
	}
	out := make([]map[string]any, 0, len(bs))
	for _, b := range bs {
		out = append(out, ExportProfile(b))
	}
	x.Count("blocked", len(out))
	return x.JSON("blocked.json", "blocked", len(out), map[string]any{"blocked": out})
}

// exportFriendRequests lists every stored request to or from the person,
// including those whose other side has since destroyed their account.
func (s *Service) exportFriendRequests(ctx context.Context, a kernel.Auth, x *kernel.Archive) error {
	q := s.DB.Read()
	recs, err := q.FriendRequests(ctx, a.UserID, 100_000)
	if err != nil {
		x.Lost("friend_requests.json", "", "read_failed")
		return nil
	}
	now := s.Now()
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		status := r.Status
		if status == "pending" && !now.Before(r.ExpiresAt) {
			status = "expired"
		}
		j := map[string]any{"id": r.ID, "from": r.FromID, "to": r.ToID, "status": status,
			"created_at": r.CreatedAt.Format(time.RFC3339), "expires_at": r.ExpiresAt.Format(time.RFC3339)}
		var greeting string
		if err := s.Open(ctx, r.FromID, "friend_requests/greeting", r.Greeting, &greeting); err == nil && greeting != "" {
			j["greeting"] = greeting
		}
		other := r.ToID
		if other == a.UserID {
			other = r.FromID
		}
		if p, err := s.LookupProfile(ctx, q, other); err == nil {
			j["other_user"] = ExportProfile(p)
		} else {
			j["other_user"] = map[string]any{"id": other, "deleted": true}
		}
		out = append(out, j)
	}
	x.Count("friend_requests", len(out))
	return x.JSON("friend_requests.json", "friend_requests", len(out), map[string]any{"friend_requests": out})
}

func (s *Service) exportSettings(ctx context.Context, a kernel.Auth, x *kernel.Archive) error {
	set, err := s.Settings(ctx, a)
	if err != nil {
		x.Lost("settings.json", "", "read_failed")
		return nil
	}
	perms, err := s.Permissions(ctx, a)
	if err != nil {
		perms = nil
		x.Lost("settings.json#permissions", "", "read_failed")
	}
	return x.JSON("settings.json", "settings", 1, map[string]any{
		"privacy": map[string]any{"found_by_phone": set.FoundByPhone, "found_by_username": set.FoundByUsername,
			"friend_requests_need_approval": set.FriendRequestsNeedApproval, "moments_range": set.MomentsRange},
		"notifications": map[string]any{"push_enabled": set.PushEnabled, "push_show_text": set.PushShowText},
		"permissions":   perms,
	})
}
