package wire

// Moment is a post as the caller may see it.
type Moment struct {
	ID         string            `json:"id"`
	Author     PublicUser        `json:"author"`
	Text       string            `json:"text"`
	Media      []MomentMedia     `json:"media"`
	CreatedAt  string            `json:"created_at"`
	Likes      []Like            `json:"likes"`
	Comments   []Comment         `json:"comments"`
	Location   *Location         `json:"location,omitempty"`
	Visibility *MomentVisibility `json:"visibility,omitempty" doc:"only in the author's own view"`
}

// MomentMedia is a picture or video of a Moment.
type MomentMedia struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Mime string `json:"mime"`
	URL  string `json:"url"`
}

// Like is one person's like of a Moment.
type Like struct {
	User PublicUser `json:"user"`
}

// Comment is a comment on a Moment.
type Comment struct {
	ID        string     `json:"id"`
	User      PublicUser `json:"user"`
	Text      string     `json:"text"`
	CreatedAt string     `json:"created_at"`
	ReplyTo   string     `json:"reply_to,omitempty"`
}

// MomentVisibility is who may see a Moment.
type MomentVisibility struct {
	Kind  string   `json:"kind" enum:"friends|only|except|private"`
	Users []string `json:"users"`
}

// MomentPage is a page of Moments, newest first.
type MomentPage struct {
	Moments    []Moment `json:"moments"`
	NextCursor string   `json:"next_cursor,omitempty" doc:"absent at the end"`
}

// Liked answers liking a Moment.
type Liked struct {
	Liked bool `json:"liked"`
}

// Media is an uploaded file.
type Media struct {
	ID   string         `json:"id"`
	Kind string         `json:"kind" enum:"image|video|voice|file"`
	Mime string         `json:"mime"`
	Size int64          `json:"size"`
	URL  string         `json:"url"`
	Meta map[string]any `json:"meta,omitempty" doc:"width, height, duration... as the media processor found them"`
}

// QRCode is the caller's personal QR code.
type QRCode struct {
	Token   string `json:"token"`
	Payload string `json:"payload" doc:"tkesj:friend:<token>"`
}

// GroupPreview is what scanning a group's code shows before joining.
type GroupPreview struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	MemberCount  int    `json:"member_count"`
	JoinApproval bool   `json:"join_approval_required"`
	Member       bool   `json:"member" doc:"whether the scanner is in it already"`
}

// QRScanResult is what a scanned code is.
type QRScanResult struct {
	Kind         string         `json:"kind" enum:"friend|group"`
	User         *PublicUser    `json:"user,omitempty"`
	IsFriend     *bool          `json:"is_friend,omitempty"`
	Request      *FriendRequest `json:"request,omitempty"`
	Conversation *GroupPreview  `json:"conversation,omitempty"`
}

// JoinRequest is a request to join a group that needs approval.
type JoinRequest struct {
	ID             string      `json:"id"`
	ConversationID string      `json:"conversation_id"`
	Status         string      `json:"status" enum:"pending|approved|declined"`
	CreatedAt      string      `json:"created_at" format:"date-time"`
	User           *PublicUser `json:"user,omitempty"`
}

// JoinRequestList is a group's join requests.
type JoinRequestList struct {
	Requests []JoinRequest `json:"requests"`
}

// QRJoin answers joining a group by its code.
type QRJoin struct {
	Status       string        `json:"status" enum:"joined|pending"`
	Request      *JoinRequest  `json:"request,omitempty"`
	Conversation *Conversation `json:"conversation,omitempty"`
}

// GroupQR is a group's invitation code.
type GroupQR struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	CreatorID      string `json:"creator_id"`
	Payload        string `json:"payload" doc:"tkesj:group:<token>"`
	CreatedAt      string `json:"created_at" format:"date-time"`
	ExpiresAt      string `json:"expires_at" format:"date-time"`
	PNGURL         string `json:"png_url"`
}

// JoinApproval is whether joining a group needs an admin's approval.
type JoinApproval struct {
	Required bool `json:"required"`
}

// LoginQR is a sign-in code shown by a new device.
type LoginQR struct {
	ID        string `json:"id"`
	Payload   string `json:"payload" doc:"tkesj:login:<token>, to show as a QR code"`
	PollToken string `json:"poll_token" doc:"secret of the page; send it when polling"`
	ExpiresAt string `json:"expires_at" format:"date-time"`
	PNG       string `json:"png" doc:"the code as a data: URL"`
}

// LoginQRRequester is what the signed-in phone sees of a sign-in code it scanned.
type LoginQRRequester struct {
	ID        string         `json:"id"`
	ExpiresAt string         `json:"expires_at" format:"date-time"`
	Requester LoginRequester `json:"requester"`
}

// LoginRequester is the device asking to be signed in.
type LoginRequester struct {
	Device    RequesterDevice `json:"device"`
	IP        string          `json:"ip"`
	CreatedAt string          `json:"created_at" format:"date-time"`
}

// RequesterDevice is a device as it described itself.
type RequesterDevice struct {
	ID         string `json:"id"`
	Model      string `json:"model,omitempty"`
	OS         string `json:"os,omitempty"`
	AppVersion string `json:"app_version,omitempty"`
	Network    string `json:"network,omitempty"`
}

// LoginQRAnswer answers confirming or denying a sign-in code.
type LoginQRAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status" enum:"confirmed|denied"`
}

// LoginQRPoll is the state of a sign-in code, polled by the new device.
type LoginQRPoll struct {
	Status string `json:"status" enum:"pending|scanned|confirmed|denied|expired"`
	Token  string `json:"token,omitempty" doc:"only in the first answer after confirmation"`
	User   *User  `json:"user,omitempty"`
}

// Export is a personal-data export job (R-RGT-1). download_url is present
// only when status is ready.
type Export struct {
	ID          string  `json:"id"`
	Status      string  `json:"status" enum:"pending|ready|failed"`
	CreatedAt   string  `json:"created_at" format:"date-time"`
	FinishedAt  string  `json:"finished_at,omitempty" format:"date-time"`
	DownloadURL string  `json:"download_url,omitempty"`
	ExpiresAt   string  `json:"expires_at,omitempty" format:"date-time"`
	Size        *int64  `json:"size,omitempty" doc:"bytes of the zip"`
	Expired     bool    `json:"expired,omitempty" doc:"ready, but past expires_at: the download answers 410 export_expired"`
	ErrorCode   *string `json:"error_code,omitempty" doc:"why it failed: build_failed, or interrupted (the server stopped while building it)"`
}

// ExportList is the person's exports.
type ExportList struct {
	Exports []Export `json:"exports"`
}

// RightsRequest is a request under the person's data rights (R-RGT-*).
type RightsRequest struct {
	ID         string `json:"id"`
	Kind       string `json:"kind" enum:"access|correction|deletion|explanation|complaint"`
	Details    string `json:"details"`
	Status     string `json:"status" enum:"received|identity_verified|in_progress|done|refused"`
	ReceivedAt string `json:"received_at"`
	DueAt      string `json:"due_at" doc:"30 days after received_at"`
	UpdatedAt  string `json:"updated_at"`
	VerifiedAt string `json:"verified_at,omitempty"`
	Answer     string `json:"answer,omitempty" doc:"the outcome; for a refusal, its reason"`
}

// RightsRequestList is the person's rights requests.
type RightsRequestList struct {
	Requests []RightsRequest `json:"requests"`
}

// Decision is an automated decision about the person, explained (R-ADM-1).
type Decision struct {
	ID        string            `json:"id"`
	Rule      string            `json:"rule"`
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason"`
	Inputs    map[string]string `json:"inputs"`
	CreatedAt string            `json:"created_at"`
	AppealID  string            `json:"appeal_id,omitempty"`
}

// DecisionList is the automated decisions about the person.
type DecisionList struct {
	Decisions []Decision `json:"decisions"`
}

// VAPIDKey is the Web Push application server key.
type VAPIDKey struct {
	PublicKey string `json:"public_key"`
}
