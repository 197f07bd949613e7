package wire

import "encoding/json"

// WebSocket frames. Every frame is a JSON object whose "type" names it; the
// server sends "ready" first, then events as they happen. Each struct's Type
// holds its one name (the enum tag), which makes the generated TypeScript a
// union the client can switch on.

// WSTicket opens the WebSocket once (?ticket=) without the token in the URL.
type WSTicket struct {
	Ticket    string `json:"ticket"`
	ExpiresAt Time   `json:"expires_at"`
}

// ReadyFrame is the first frame on a socket: the conversations with
// messages the device has not acknowledged.
type ReadyFrame struct {
	Type          string                `json:"type" enum:"ready"`
	UserID        string                `json:"user_id"`
	Conversations []PendingConversation `json:"conversations"`
	Calls         []Call                `json:"calls,omitempty" doc:"the live calls of the person's conversations, so a device that connects while a call rings rings too"`
}

// PendingConversation is a conversation with unacknowledged messages.
type PendingConversation struct {
	ID          string `json:"id"`
	LastSeq     int64  `json:"last_seq"`
	ReceivedSeq int64  `json:"received_seq"`
	ReadSeq     int64  `json:"read_seq"`
}

// MessageFrame carries a new message to its conversation's members.
type MessageFrame struct {
	Type           string  `json:"type" enum:"message"`
	ConversationID string  `json:"conversation_id"`
	Message        Message `json:"message"`
	Mentioned      bool    `json:"mentioned,omitempty" doc:"the message mentions the receiving person (or everyone): it reaches them even in a muted chat"`
}

// RecallFrame tells members a message was recalled.
type RecallFrame struct {
	Type           string `json:"type" enum:"recall"`
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
}

// ReceiptFrame tells a direct chat's two people how far one of them has
// delivered or read: one of delivered_seq and read_seq.
type ReceiptFrame struct {
	Type           string `json:"type" enum:"receipt"`
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	DeliveredSeq   *int64 `json:"delivered_seq,omitempty"`
	ReadSeq        *int64 `json:"read_seq,omitempty"`
}

// TypingFrame tells the others someone is typing.
type TypingFrame struct {
	Type           string `json:"type" enum:"typing"`
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
}

// ConversationFrame tells members a conversation changed; they fetch it again.
type ConversationFrame struct {
	Type           string `json:"type" enum:"conversation"`
	ConversationID string `json:"conversation_id"`
	Event          string `json:"event" enum:"created|updated|members_changed|join_requested"`
	RequestID      string `json:"request_id,omitempty" doc:"join_requested only"`
}

// FriendRequestFrame tells both people of a friend request or its answer.
type FriendRequestFrame struct {
	Type    string           `json:"type" enum:"friend_request"`
	Request FriendRequestRef `json:"request"`
}

// FriendRequestRef is a friend request as a frame names it.
type FriendRequestRef struct {
	ID     string `json:"id"`
	From   string `json:"from"`
	To     string `json:"to"`
	Status string `json:"status"`
}

// MomentLikeFrame tells an author of a like.
type MomentLikeFrame struct {
	Type     string `json:"type" enum:"moment_like"`
	MomentID string `json:"moment_id"`
	UserID   string `json:"user_id"`
}

// MomentCommentFrame tells an author of a comment.
type MomentCommentFrame struct {
	Type      string `json:"type" enum:"moment_comment"`
	MomentID  string `json:"moment_id"`
	CommentID string `json:"comment_id"`
	UserID    string `json:"user_id"`
}

// AnnouncementFrame carries an announcement to everyone (R-OPS-2).
type AnnouncementFrame struct {
	Type  string `json:"type" enum:"announcement"`
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	Body  string `json:"body"`
	At    string `json:"at"`
}

// PolicyFrame tells everyone the privacy policy changed (R-POL-1).
type PolicyFrame struct {
	Type    string `json:"type" enum:"policy"`
	Version string `json:"version"`
	Major   bool   `json:"major"`
}

// NoticeFrame tells a person's devices of a notice in their inbox.
type NoticeFrame struct {
	Type      string `json:"type" enum:"notice"`
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	Ref       string `json:"ref"`
	CreatedAt string `json:"created_at"`
}

// RightsRequestFrame tells a person their rights request moved on.
type RightsRequestFrame struct {
	Type   string `json:"type" enum:"rights_request"`
	ID     string `json:"id"`
	Status string `json:"status"`
}

// SecurityFrame warns a person: their account was locked (until), or a
// device they had not used before signed in (device, at).
type SecurityFrame struct {
	Type   string          `json:"type" enum:"security"`
	Event  string          `json:"event" enum:"account_locked|new_login"`
	Until  string          `json:"until,omitempty"`
	Device *SecurityDevice `json:"device,omitempty"`
	At     string          `json:"at,omitempty"`
}

// SecurityDevice is the device a new_login frame names.
type SecurityDevice struct {
	Model      string `json:"model"`
	OS         string `json:"os"`
	AppVersion string `json:"app_version"`
}

// JoinRequestFrame tells someone who asked to join a group of the answer.
type JoinRequestFrame struct {
	Type           string            `json:"type" enum:"join_request"`
	ConversationID string            `json:"conversation_id"`
	Request        JoinRequestStatus `json:"request"`
}

// JoinRequestStatus is a join request as a frame names it.
type JoinRequestStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// TicketFrame tells a person support answered or closed their ticket.
type TicketFrame struct {
	Type     string `json:"type" enum:"ticket"`
	TicketID string `json:"ticket_id"`
	Status   string `json:"status"`
}

// PongFrame answers a client's ping.
type PongFrame struct {
	Type string `json:"type" enum:"pong"`
}

// ErrorFrame answers a client frame the server refused; the socket stays open.
// The refusal of a request frame (send) also carries the request's id and the
// problem document the same request over HTTP gets.
type ErrorFrame struct {
	Type       string   `json:"type" enum:"error"`
	Code       string   `json:"code"`
	Detail     string   `json:"detail,omitempty"`
	ID         string   `json:"id,omitempty" doc:"a request frame's refusal: the id the frame gave"`
	Error      *Problem `json:"error,omitempty" doc:"a request frame's refusal: the problem document (status included) the same request over HTTP is answered with"`
	RetryAfter int      `json:"retry_after,omitempty" doc:"rate_limited: seconds to wait, HTTP's Retry-After"`
	RequestID  string   `json:"request_id,omitempty" doc:"a request frame's refusal: the request id to quote to support, HTTP's X-Request-Id"`
}

// SentFrame answers a client's send frame once the message is stored: the
// message exactly as POST /api/v1/conversations/{id}/messages answers it
// (same id, seq and sent_at), and whether this frame stored it (false: the
// client_id had been used, and this is the message stored then). The
// members' message frames, the sender's other sockets' included, go out as
// for a message sent over HTTP; this socket gets its message frame too, before
// or after this answer.
type SentFrame struct {
	Type    string  `json:"type" enum:"sent"`
	ID      string  `json:"id" doc:"the id the send frame gave"`
	Message Message `json:"message"`
	Created bool    `json:"created" doc:"true: stored now (HTTP 201); false: a retry of a client_id already stored (HTTP 200)"`
}

// ClientFrame is what a client sends: ack (delivered up to seq), read,
// typing, or ping. A send frame (openapi.json's SendFrame) is a request:
// answered by a SentFrame or an ErrorFrame with its id.
type ClientFrame struct {
	Type           string `json:"type" enum:"ack|read|typing|ping"`
	ConversationID string `json:"conversation_id,omitempty"`
	Seq            int64  `json:"seq,omitempty"`
}

// PushPayload is the Web Push message a device's service worker receives for
// a new message (text only when the person allowed it), or for a call ringing
// a person none of whose devices has a socket open.
type PushPayload struct {
	Type           string `json:"type" enum:"message|call"`
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq" doc:"0 on a call"`
	CallID         string `json:"call_id,omitempty" doc:"on a call: the call ringing"`
	Media          string `json:"media,omitempty" enum:"audio|video" doc:"on a call"`
	Title          string `json:"title"`
	Body           string `json:"body"`
	Preview        bool   `json:"preview" doc:"whether body is the message's text (the person allows previews) or a generic line"`
	Mentioned      bool   `json:"mentioned,omitempty" doc:"the message mentions the person: sent even when the chat is muted"`
}

// ShareDelivery is the signed body POSTed to a recipient's delivery URL when
// personal data is shared with it (R-SHR-1).
type ShareDelivery struct {
	Type       string   `json:"type" enum:"share"`
	RecordID   string   `json:"record_id"`
	Subject    string   `json:"subject" doc:"the person, pseudonymous per recipient"`
	Purpose    string   `json:"purpose"`
	Categories []string `json:"categories"`
	Data       any      `json:"data"`
	SentAt     string   `json:"sent_at"`
}

// DeletionNotice is the signed body POSTed to a recipient's deletion URL when
// the person asks for what was shared with it to be deleted (R-SHR-3).
type DeletionNotice struct {
	Type        string   `json:"type" enum:"deletion"`
	Subject     string   `json:"subject"`
	Records     []string `json:"records"`
	Reason      string   `json:"reason"`
	RequestedAt string   `json:"requested_at"`
}

// CallFrame tells every member of a call's conversation of each change of
// the call's state (R-CAL-1).
type CallFrame struct {
	Type string `json:"type" enum:"call"`
	Call Call   `json:"call"`
}

// CallSignalFrame carries one WebRTC signal (an offer, an answer, an ICE
// candidate, a restart) to the one device in the call it is for, from the
// other participant of a direct call or from the SFU ("sfu") of a group
// call. The server reads only its size and where it goes.
type CallSignalFrame struct {
	Type   string          `json:"type" enum:"call_signal"`
	CallID string          `json:"call_id"`
	From   string          `json:"from" doc:"the sender's user id, or \"sfu\""`
	Signal json.RawMessage `json:"signal" doc:"opaque to the server: {\"sdp\":{...}}, {\"candidate\":{...}} or what the client sends"`
}

// CallClientFrame is what a client in a call sends over the WebSocket:
// call_signal (to the other participant's user id in a direct call, to
// "sfu" in a group call) and call_ringing (this device rings: no push needed).
type CallClientFrame struct {
	Type   string          `json:"type" enum:"call_signal|call_ringing"`
	CallID string          `json:"call_id"`
	To     string          `json:"to,omitempty" doc:"the peer's user id, or \"sfu\"; empty in a direct call means the other participant"`
	Signal json.RawMessage `json:"signal,omitempty" doc:"a JSON object of at most 48 KiB"`
}
