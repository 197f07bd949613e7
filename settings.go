package tkesj

import "encoding/json"

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

// Location is a place shared in a message or post.
type Location struct {
	Lat  float64 `json:"lat"`
	Lng  float64 `json:"lng"`
	Name string  `json:"name,omitempty"`
}

// MediaInfo describes an attachment.
type MediaInfo struct {
	ID, Kind, Mime string
	Size           int64
	Meta           json.RawMessage
}
