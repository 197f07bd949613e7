// Package wire holds the JSON shapes of tkesj's HTTP API and WebSocket
// frames: plain structs whose field tags are the contract of API.md and
// openapi.json (TestOpenAPISchemasMatchWire generates the document's schemas
// from them). It holds no behaviour and imports only the standard library;
// httpapi fills these structs from the service's results, the service uses
// them for the frames it publishes, and nothing else needs to import it.
//
// Conventions: times are RFC 3339 strings formatted by the caller (some
// fields carry seconds, some nanoseconds, as they always have); a field that
// is present but may be empty is a plain value, a field that is sometimes
// absent has omitempty, and one that must appear even when zero in some
// states is a pointer with omitempty. Lists are never nil.
package wire

import "encoding/json"

// Status is a bare status answer, such as {"status":"ok"}.
type Status struct {
	Status string `json:"status" doc:"ok, ready, or degraded: /readyz serves but stored data failed its integrity check since the node started (issue 14 item 9)"`
	// IntegrityFailures and LastIntegrityFailure come with degraded.
	IntegrityFailures    int64 `json:"integrity_failures,omitempty" doc:"stored items that failed their integrity check since the node started"`
	LastIntegrityFailure Time  `json:"last_integrity_failure,omitempty" doc:"when the last one failed"`
}

// Accepted answers a request for a one-time code.
type Accepted struct {
	Status    string `json:"status"`
	ExpiresIn int    `json:"expires_in" doc:"seconds a code stays valid"`
}

// Policy is the current privacy policy (R-POL-1).
type Policy struct {
	Version     string `json:"version"`
	Major       bool   `json:"major"`
	Text        string `json:"text"`
	PublishedAt string `json:"published_at" format:"date-time"`
}

// User is API.md's user; phone and status only in one's own profile.
type User struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Nickname  string `json:"nickname"`
	Gender    string `json:"gender"`
	AvatarURL string `json:"avatar_url" doc:"empty when there is none"`
	Phone     string `json:"phone,omitempty" doc:"E.164; only in one's own profile"`
	Status    string `json:"status,omitempty" enum:"active|pending_guardian|frozen" doc:"only in one's own profile"`
}

// Me is the caller's own profile, with their staff role when they are staff
// (so the web client need not probe /admin/me, which refuses everyone else).
type Me struct {
	User
	StaffRole string `json:"staff_role,omitempty" doc:"the caller's staff role; absent for everyone else"`
}

// Session is what registering or signing in answers.
type Session struct {
	User  User   `json:"user"`
	Token string `json:"token"`
}

// DeviceList is the person's signed-in devices.
type DeviceList struct {
	Devices []DeviceInfo `json:"devices"`
}

// DeviceInfo is one signed-in device.
type DeviceInfo struct {
	ID         string `json:"id"`
	Model      string `json:"model"`
	OS         string `json:"os"`
	AppVersion string `json:"app_version"`
	Network    string `json:"network"`
	LoginIP    string `json:"login_ip,omitempty"`
	CreatedAt  string `json:"created_at" format:"date-time"`
	LastSeenAt string `json:"last_seen_at" format:"date-time"`
	Current    bool   `json:"current"`
}

// Permissions maps each device permission to whether it is granted.
type Permissions struct {
	Permissions map[string]bool `json:"permissions"`
}

// PermissionState is one permission after a change.
type PermissionState struct {
	Name    string `json:"name"`
	Granted bool   `json:"granted"`
	At      string `json:"at" format:"date-time"`
}

// ConsentList is the person's consent ledger.
type ConsentList struct {
	Consents []Consent `json:"consents"`
}

// Consent is one entry of the consent ledger.
type Consent struct {
	Kind          string `json:"kind" enum:"policy|permission|sharing|cross_border|guardian"`
	Subject       string `json:"subject"`
	Granted       bool   `json:"granted"`
	PolicyVersion string `json:"policy_version"`
	At            string `json:"at" format:"date-time"`
	Purpose       string `json:"purpose"`
	Method        string `json:"method"`
}

// Settings are the person's privacy and notification settings.
type Settings struct {
	FoundByPhone               bool   `json:"found_by_phone"`
	FoundByUsername            bool   `json:"found_by_username"`
	FriendRequestsNeedApproval bool   `json:"friend_requests_need_approval"`
	MomentsRange               string `json:"moments_range" enum:"3d|6m|all"`
	PushEnabled                bool   `json:"push_enabled"`
	PushShowText               bool   `json:"push_show_text"`
	DefaultPostVisibility      string `json:"default_post_visibility" enum:"friends|private" doc:"minors start private (R-MIN-1)"`
}

// PublicUser is a person as others see them.
type PublicUser struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Nickname  string `json:"nickname"`
	Gender    string `json:"gender"`
	AvatarURL string `json:"avatar_url"`
	Remark    string `json:"remark,omitempty" doc:"the remark the caller gave this friend"`
	// Unreadable: the stored profile failed its integrity check; the
	// operator has been told. Not a deleted account (issue 14 item 9).
	Unreadable bool `json:"unreadable,omitempty" doc:"the stored profile failed its integrity check (damaged, not deleted); only the id is known"`
}

// UserList answers a user search.
type UserList struct {
	Users []PublicUser `json:"users"`
}

// ContactList is the caller's friends.
type ContactList struct {
	Contacts []PublicUser `json:"contacts"`
}

// BlockedList is whom the caller blocked.
type BlockedList struct {
	Blocked []PublicUser `json:"blocked"`
}

// FriendRequest is a friend request, sent or received.
type FriendRequest struct {
	ID        string      `json:"id"`
	From      string      `json:"from"`
	To        string      `json:"to"`
	Status    string      `json:"status" enum:"pending|accepted|declined|expired"`
	CreatedAt string      `json:"created_at"`
	ExpiresAt string      `json:"expires_at"`
	Greeting  string      `json:"greeting,omitempty"`
	FromUser  *PublicUser `json:"from_user,omitempty"`
	ToUser    *PublicUser `json:"to_user,omitempty"`
}

// FriendRequestList is the caller's friend requests.
type FriendRequestList struct {
	Requests []FriendRequest `json:"requests"`
}

// Peer is the other person of a direct chat. Once they destroyed their
// account it is only {"id", "deleted": true}.
type Peer struct {
	PublicUser
	Deleted bool `json:"deleted,omitempty"`
}

// MarshalJSON writes a deleted peer as its id alone.
func (p Peer) MarshalJSON() ([]byte, error) {
	if p.Deleted {
		return json.Marshal(struct {
			ID      string `json:"id"`
			Deleted bool   `json:"deleted"`
		}{p.ID, true})
	}
	return json.Marshal(p.PublicUser)
}

// JSONSchema is Peer's schema in openapi.json: a PublicUser, of whom only
// the id is left once deleted.
func (Peer) JSONSchema() map[string]any {
	str := map[string]any{"type": "string"}
	return map[string]any{"type": "object", "required": []any{"id"}, "properties": map[string]any{
		"id": str, "username": str, "nickname": str, "gender": str, "avatar_url": str, "remark": str,
		"deleted": map[string]any{"type": "boolean", "description": "the person destroyed their account; only id is left"},
	}}
}

// Member is a member of a group, as its members see them.
type Member struct {
	PublicUser
	Role    string `json:"role"`
	ReadSeq int64  `json:"read_seq"`
}

// Conversation is a direct chat or a group as one member sees it.
type Conversation struct {
	ID          string `json:"id"`
	Kind        string `json:"kind" enum:"direct|group"`
	Role        string `json:"role"`
	LastSeq     int64  `json:"last_seq"`
	ReadSeq     int64  `json:"read_seq"`
	ReceivedSeq int64  `json:"received_seq"`
	Unread      int64  `json:"unread"`
	Muted       bool   `json:"muted"`
	Mentioned   bool   `json:"mentioned,omitempty" doc:"an unread message mentions the caller (the chat list's [@you]); cleared by reading past it"`
	Pinned      bool   `json:"pinned" doc:"pinned by the caller: pinned conversations list first, the latest pin on top"`
	// DisappearAfterS is the disappearing-messages timer (R-MSG-10).
	DisappearAfterS int64     `json:"disappear_after_s" doc:"disappearing messages: 0 (off), 86400, 604800 or 2592000 seconds"`
	UpdatedAt       string    `json:"updated_at"`
	Name            *string   `json:"name,omitempty" doc:"groups only"`
	Announcement    *string   `json:"announcement,omitempty" doc:"groups only"`
	Peer            *Peer     `json:"peer,omitempty" doc:"direct chats only"`
	Members         *[]Member `json:"members,omitempty" doc:"in a single group's answer"`
	MemberCount     *int      `json:"member_count,omitempty"`
	LastMessage     *Message  `json:"last_message,omitempty"`
}

// Pinned answers pinning or unpinning a conversation.
type Pinned struct {
	Pinned bool `json:"pinned"`
}

// Favorite is a saved message or Moment: the caller's own copy, sealed with
// their key (R-MSG-9). media are their own copies, fetched at their url.
type Favorite struct {
	ID             string         `json:"id"`
	Kind           string         `json:"kind" enum:"message|moment"`
	ConversationID string         `json:"conversation_id,omitempty" doc:"a saved message's conversation"`
	Seq            int64          `json:"seq,omitempty" doc:"a saved message's seq"`
	MomentID       string         `json:"moment_id,omitempty"`
	AuthorID       string         `json:"author_id"`
	AuthorName     string         `json:"author_name" doc:"the author's nickname when saved"`
	ContentKind    string         `json:"content_kind" doc:"the message's kind (text, image, ...), or moment"`
	Text           string         `json:"text,omitempty"`
	Media          []MessageMedia `json:"media,omitempty"`
	Location       *Location      `json:"location,omitempty"`
	SentAt         string         `json:"sent_at" doc:"when the original was sent or posted"`
	CreatedAt      string         `json:"created_at" doc:"when it was saved"`
}

// FavoriteList is the caller's favorites, newest first.
type FavoriteList struct {
	Favorites []Favorite `json:"favorites"`
}

// ConversationList is the caller's conversations.
type ConversationList struct {
	Conversations []Conversation `json:"conversations"`
}

// Muted answers muting or unmuting a conversation.
type Muted struct {
	Muted bool `json:"muted"`
}

// Message is a message as its conversation's members see it. A message from
// a destroyed account is only {id, seq, conversation_id, sent_at,
// sender_deleted: true}; a recalled one has no content.
type Message struct {
	ID             string        `json:"id"`
	Seq            int64         `json:"seq"`
	ConversationID string        `json:"conversation_id"`
	SenderID       string        `json:"sender_id,omitempty"`
	ClientID       string        `json:"client_id,omitempty"`
	Kind           string        `json:"kind,omitempty" enum:"text|image|video|file|voice|location|card|call|history|system"`
	SentAt         string        `json:"sent_at"`
	SenderDeleted  bool          `json:"sender_deleted,omitempty"`
	Recalled       bool          `json:"recalled,omitempty"`
	Unreadable     bool          `json:"unreadable,omitempty" doc:"the stored message failed its integrity check (damaged, not deleted or recalled): no content is shown, and the operator has been told"`
	Text           *string       `json:"text,omitempty" doc:"always present on a text message"`
	MediaID        string        `json:"media_id,omitempty"`
	Media          *MessageMedia `json:"media,omitempty"`
	Location       *Location     `json:"location,omitempty"`
	Card           *Card         `json:"card,omitempty"`
	ReplyTo        *ReplyTo      `json:"reply_to,omitempty" doc:"the message this one answers (R-MSG-7)"`
	Mentions       []string      `json:"mentions,omitempty" doc:"ids of the members it mentions"`
	MentionAll     bool          `json:"mention_all,omitempty" doc:"it mentions everyone (a group's owner or admins)"`
	Forwarded      bool          `json:"forwarded,omitempty" doc:"forwarded by its sender from another chat (R-MSG-8)"`
	History        *History      `json:"history,omitempty" doc:"a merged forward (kind history): the messages as one readable list"`
	System         *SystemEvent  `json:"system,omitempty" doc:"a message the service wrote (kind system); sender_id is who caused it"`
	ExpiresAt      string        `json:"expires_at,omitempty" doc:"when a disappearing message goes (R-MSG-10); absent: never"`
	Call           *MessageCall  `json:"call,omitempty" doc:"on a call record (kind call), written by the server when a call ends"`
}

// SystemEvent is what a system message says: the disappearing-messages
// timer was set to disappear_after_s (0: off) by the message's sender.
type SystemEvent struct {
	Event           string `json:"event" enum:"disappear_after_changed"`
	DisappearAfterS int64  `json:"disappear_after_s"`
}

// History is a merged forward's list of messages.
type History struct {
	Items []HistoryItem `json:"items"`
}

// HistoryItem is one forwarded message of a merged forward.
type HistoryItem struct {
	SenderName string `json:"sender_name"`
	Kind       string `json:"kind"`
	Text       string `json:"text,omitempty"`
	SentAt     string `json:"sent_at"`
}

// Forwarded answers a forward: the new messages, one per target and
// message (mode each) or per target (merged).
type Forwarded struct {
	Messages []ForwardedMessage `json:"messages"`
}

// ForwardedMessage names one message a forward made.
type ForwardedMessage struct {
	ConversationID string `json:"conversation_id"`
	ID             string `json:"id"`
	Seq            int64  `json:"seq"`
}

// ReplyTo is the quote a reply carries: {seq, sender_id, kind, preview}, or
// {seq, unavailable: true} once the quoted message is recalled, its sender
// destroyed, or it is from before the viewer joined.
type ReplyTo struct {
	Seq         int64   `json:"seq"`
	SenderID    string  `json:"sender_id,omitempty"`
	Kind        string  `json:"kind,omitempty"`
	Preview     *string `json:"preview,omitempty" doc:"a short preview: the text's first 50 characters, or [picture], [voice message]..."`
	Unavailable bool    `json:"unavailable,omitempty"`
}

// MessageCall is what a call record says (R-CAL-1).
type MessageCall struct {
	CallID    string `json:"call_id"`
	Media     string `json:"media" enum:"audio|video"`
	State     string `json:"state" enum:"completed|missed|declined|cancelled"`
	DurationS int    `json:"duration_s"`
	Reason    string `json:"reason,omitempty" doc:"busy, timeout, hang_up or permission_revoked"`
}

// Call is a call as the members of its conversation see it (API.md "Calls"):
// who is in it, muted or with the camera off, never on which device.
type Call struct {
	ID             string            `json:"id"`
	ConversationID string            `json:"conversation_id"`
	Media          string            `json:"media" enum:"audio|video"`
	State          string            `json:"state" enum:"ringing|active|ended"`
	InitiatorID    string            `json:"initiator_id"`
	Group          bool              `json:"group" doc:"a group call: media goes through the server's forwarding unit"`
	Participants   []CallParticipant `json:"participants"`
	Members        []string          `json:"members" doc:"who the call rings: the conversation's members when it began"`
	Declined       []string          `json:"declined"`
	CreatedAt      string            `json:"created_at" format:"date-time"`
	AnsweredAt     string            `json:"answered_at,omitempty" format:"date-time"`
	Outcome        string            `json:"outcome,omitempty" enum:"completed|missed|declined|cancelled" doc:"once ended"`
	DurationS      *int              `json:"duration_s,omitempty" doc:"once ended"`
	Reason         string            `json:"reason,omitempty" doc:"busy, timeout, hang_up or permission_revoked"`
}

// CallParticipant is one person in a call.
type CallParticipant struct {
	UserID    string `json:"user_id"`
	Muted     bool   `json:"muted"`
	CameraOff bool   `json:"camera_off"`
}

// CallAnswer answers a call step (decline, leave, media) and GET of a call.
type CallAnswer struct {
	Call Call `json:"call"`
}

// CallJoined answers starting or joining a call: the call and the built-in
// TURN relay's short-lived credentials for this participant (R-CAL-3).
type CallJoined struct {
	Call       Call        `json:"call"`
	ICEServers []ICEServer `json:"ice_servers" doc:"empty when the server runs no TURN relay"`
}

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// MessageMedia is the media a message carries.
type MessageMedia struct {
	ID   string          `json:"id"`
	Kind string          `json:"kind"`
	Mime string          `json:"mime"`
	Size int64           `json:"size"`
	URL  string          `json:"url"`
	Meta json.RawMessage `json:"meta,omitempty" doc:"width, height, duration... as the media processor found them"`
}

// Location is a place on a message or a Moment.
type Location struct {
	Lat  float64 `json:"lat"`
	Lng  float64 `json:"lng"`
	Name string  `json:"name,omitempty"`
}

// Card is a contact card sent in a message.
type Card struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Nickname string `json:"nickname"`
}

// MessageList is a page of a conversation, ascending by seq.
type MessageList struct {
	Messages []Message `json:"messages"`
}

// SearchResults answers a search of one's messages and contacts.
type SearchResults struct {
	Messages  []Message    `json:"messages"`
	Hits      []SearchHit  `json:"hits" doc:"the same messages, each naming its chat and sender (issue 15)"`
	Contacts  []PublicUser `json:"contacts"`
	Groups    []SearchChat `json:"groups" doc:"the caller's groups whose name matches"`
	Favorites []Favorite   `json:"favorites" doc:"the caller's favorites that match"`
}

// SearchHit is a found message with the chat and sender a result names;
// the client opens the chat at message.seq.
type SearchHit struct {
	Message      Message    `json:"message"`
	Conversation SearchChat `json:"conversation"`
	SenderName   string     `json:"sender_name"`
}

// SearchChat names a conversation in search results.
type SearchChat struct {
	ID   string `json:"id"`
	Kind string `json:"kind" enum:"direct|group"`
	Name string `json:"name" doc:"a group's name, or the other person's remark or nickname"`
}

// Time is an RFC 3339 time, or null when the moment has not happened (a
// hold not yet approved, a notice not yet read): the empty Time is null.
type Time string

// MarshalJSON writes the empty Time as null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(t))
}

// JSONSchema is Time's schema in openapi.json.
func (Time) JSONSchema() map[string]any {
	return map[string]any{"oneOf": []any{map[string]any{"type": "string", "format": "date-time"}, map[string]any{"type": "null"}}}
}

// Count is a published count: a number, or "<k" when it is too small to
// publish without singling people out.
type Count struct {
	N          int64
	Suppressed string // "<k" when suppressed
}

// MarshalJSON writes the number or the suppression mark.
func (c Count) MarshalJSON() ([]byte, error) {
	if c.Suppressed != "" {
		return json.Marshal(c.Suppressed)
	}
	return json.Marshal(c.N)
}

// JSONSchema is Count's schema in openapi.json.
func (Count) JSONSchema() map[string]any {
	return map[string]any{"oneOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string", "pattern": "^<[0-9]+$"}}}
}

// Problem is an RFC 9457 problem document: every refusal, HTTP or WebSocket
// upgrade, is one.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail" doc:"written for people: what is wrong and what to do"`
	Code   string `json:"code" doc:"stable snake_case code, e.g. invalid_phone, weak_password, code_mismatch, permission_revoked, not_found, forbidden, rate_limited, policy_acceptance_required"`
}
