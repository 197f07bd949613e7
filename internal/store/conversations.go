package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/tkesj/tkesj"
)

// ConversationRecord is a conversation row. Meta (group name, announcement)
// is sealed with the conversation's own key.
type ConversationRecord struct {
	ID, Kind  string
	DirectKey sql.NullString
	Meta      []byte
	LastSeq   int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// DisappearAfter is the disappearing-messages timer (0: off).
	DisappearAfter time.Duration
}

// MemberRecord is one person's place in a conversation.
type MemberRecord struct {
	ConvID, UserID string
	Role           string // owner, admin, member
	JoinedSeq      int64  // the person sees messages after this seq
	ReceivedSeq    int64
	ReadSeq        int64
	Muted          bool
	JoinedAt       time.Time
	PinnedAt       time.Time // zero: not pinned
}

// MessageRecord is a stored message. Body is sealed with the sender's key and
// is nil once recalled.
type MessageRecord struct {
	ConvID   string
	Seq      int64
	ID       string
	SenderID string
	ClientID string
	Kind     string
	Body     []byte
	MediaID  sql.NullString
	SentAt   time.Time
	Recalled bool
	// ExpiresAt is when a disappearing message goes (zero: never).
	ExpiresAt time.Time
}

// CreateConversation inserts a conversation. For direct chats a taken
// DirectKey is a conflict (the caller then reads the existing one).
func (q *Queries) CreateConversation(ctx context.Context, c ConversationRecord) error {
	_, err := q.exec(ctx, `INSERT INTO conversations (id, kind, direct_key, meta, last_seq, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Kind, c.DirectKey, c.Meta, c.LastSeq, micros(c.CreatedAt), micros(c.UpdatedAt))
	if err != nil && q.d.IsUnique(err) {
		return tkesj.Errorf(tkesj.EConflict, "conversation_exists", "the conversation exists already")
	}
	return err
}

const convCols = `id, kind, direct_key, meta, last_seq, created_at, updated_at, disappear_after_s`

func scanConversation(sc interface{ Scan(...any) error }) (ConversationRecord, error) {
	var c ConversationRecord
	var cr, up, d int64
	err := sc.Scan(&c.ID, &c.Kind, &c.DirectKey, &c.Meta, &c.LastSeq, &cr, &up, &d)
	c.CreatedAt, c.UpdatedAt, c.DisappearAfter = fromMicros(cr), fromMicros(up), time.Duration(d)*time.Second
	return c, err
}

// SetDisappearing sets a conversation's disappearing-messages timer (0: off).
func (q *Queries) SetDisappearing(ctx context.Context, id string, after time.Duration) error {
	_, err := q.exec(ctx, `UPDATE conversations SET disappear_after_s = ? WHERE id = ?`, int64(after/time.Second), id)
	return err
}

// FindConversation returns a conversation by id, or not_found.
func (q *Queries) FindConversation(ctx context.Context, id string) (ConversationRecord, error) {
	c, err := scanConversation(q.row(ctx, `SELECT `+convCols+` FROM conversations WHERE id = ?`, id))
	return c, notFound(err, "conversation")
}

// FindDirectConversation returns the direct conversation with that key, or not_found.
func (q *Queries) FindDirectConversation(ctx context.Context, key string) (ConversationRecord, error) {
	c, err := scanConversation(q.row(ctx, `SELECT `+convCols+` FROM conversations WHERE direct_key = ?`, key))
	return c, notFound(err, "conversation")
}

// UpdateConversationMeta replaces a conversation's sealed meta.
func (q *Queries) UpdateConversationMeta(ctx context.Context, id string, meta []byte, at time.Time) error {
	_, err := q.exec(ctx, `UPDATE conversations SET meta = ? WHERE id = ?`, meta, id)
	return err
}

// DeleteConversation removes a conversation with its members, messages and
// search index rows.
func (q *Queries) DeleteConversation(ctx context.Context, id string) error {
	if q.d.Name == "postgres" {
		// An indexer pass writing this conversation's rows holds a key
		// share on it (IndexMessages): wait for its commit, so the rows it
		// wrote are removed below; a later pass skips the locked row.
		if _, err := q.strings(ctx, `SELECT id FROM conversations WHERE id = ? FOR UPDATE`, id); err != nil {
			return err
		}
	}
	if q.split {
		// The index is in its own file: asked for after the delete, so
		// the request's floor is below the rowids it frees (schema 0060).
		if _, err := q.exec(ctx, `DELETE FROM conversations WHERE id = ?`, id); err != nil {
			return err
		}
		return q.enqueueUnindex(ctx, id, 0)
	}
	// The index has no foreign key to cascade from (schema 0057).
	if err := q.unindex(ctx, `conv_id = ?`, id); err != nil {
		return err
	}
	_, err := q.exec(ctx, `DELETE FROM conversations WHERE id = ?`, id)
	return err
}

// ConversationsOf lists the conversations userID is a member of, with the
// member's row: pinned ones first (the latest pin on top), then the rest
// most recently active first.
func (q *Queries) ConversationsOf(ctx context.Context, userID string) ([]ConversationRecord, []MemberRecord, error) {
	rows, err := q.query(ctx, `SELECT c.id, c.kind, c.direct_key, c.meta, c.last_seq, c.created_at, c.updated_at, c.disappear_after_s,
		m.role, m.joined_seq, m.received_seq, m.read_seq, m.muted, m.joined_at, m.pinned_at
		FROM members m JOIN conversations c ON c.id = m.conv_id WHERE m.user_id = ? ORDER BY m.pinned_at DESC, c.updated_at DESC, c.id`, userID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var cs []ConversationRecord
	var ms []MemberRecord
	for rows.Next() {
		var c ConversationRecord
		m := MemberRecord{UserID: userID}
		var cr, up, d, j, p int64
		if err := rows.Scan(&c.ID, &c.Kind, &c.DirectKey, &c.Meta, &c.LastSeq, &cr, &up, &d,
			&m.Role, &m.JoinedSeq, &m.ReceivedSeq, &m.ReadSeq, &m.Muted, &j, &p); err != nil {
			return nil, nil, err
		}
		c.CreatedAt, c.UpdatedAt, m.JoinedAt, m.PinnedAt, m.ConvID = fromMicros(cr), fromMicros(up), fromMicros(j), pinTime(p), c.ID
		c.DisappearAfter = time.Duration(d) * time.Second
		cs, ms = append(cs, c), append(ms, m)
	}
	return cs, ms, rows.Err()
}

// AddMember adds a person to a conversation; a repeat is a conflict.
func (q *Queries) AddMember(ctx context.Context, m MemberRecord) error {
	_, err := q.exec(ctx, `INSERT INTO members (conv_id, user_id, role, joined_seq, received_seq, read_seq, muted, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ConvID, m.UserID, m.Role, m.JoinedSeq, m.ReceivedSeq, m.ReadSeq, m.Muted, micros(m.JoinedAt))
	if err != nil && q.d.IsUnique(err) {
		return tkesj.Errorf(tkesj.EConflict, "already_member", "that person is in the conversation already")
	}
	return err
}

const memberCols = `conv_id, user_id, role, joined_seq, received_seq, read_seq, muted, joined_at, pinned_at`

func scanMember(sc interface{ Scan(...any) error }) (MemberRecord, error) {
	var m MemberRecord
	var j, p int64
	err := sc.Scan(&m.ConvID, &m.UserID, &m.Role, &m.JoinedSeq, &m.ReceivedSeq, &m.ReadSeq, &m.Muted, &j, &p)
	m.JoinedAt, m.PinnedAt = fromMicros(j), pinTime(p)
	return m, err
}

func pinTime(p int64) time.Time {
	if p == 0 {
		return time.Time{}
	}
	return fromMicros(p)
}

// SetPinned pins (at a non-zero time) or unpins (zero) a conversation for one member.
func (q *Queries) SetPinned(ctx context.Context, convID, userID string, at time.Time) error {
	var p int64
	if !at.IsZero() {
		p = micros(at)
	}
	_, err := q.exec(ctx, `UPDATE members SET pinned_at = ? WHERE conv_id = ? AND user_id = ?`, p, convID, userID)
	return err
}

// FindMember returns userID's membership of convID, or not_found (which is
// also the answer for a conversation that does not exist).
func (q *Queries) FindMember(ctx context.Context, convID, userID string) (MemberRecord, error) {
	m, err := scanMember(q.row(ctx, `SELECT `+memberCols+` FROM members WHERE conv_id = ? AND user_id = ?`, convID, userID))
	return m, notFound(err, "conversation")
}

// Members lists a conversation's members, owner first, then by joining time.
func (q *Queries) Members(ctx context.Context, convID string) ([]MemberRecord, error) {
	rows, err := q.query(ctx, `SELECT `+memberCols+` FROM members WHERE conv_id = ?
		ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, joined_at, user_id`, convID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MemberRecord
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MemberIDs lists the ids of a conversation's members.
func (q *Queries) MemberIDs(ctx context.Context, convID string) ([]string, error) {
	return q.strings(ctx, `SELECT user_id FROM members WHERE conv_id = ?`, convID)
}

// MemberVersion is the count of changes to a conversation's member list
// (schema 0056: triggers bump it on every join, removal and role change),
// or not_found. Read in the transaction that stores a message, it says
// whether a member list cached at an earlier count is still the list.
func (q *Queries) MemberVersion(ctx context.Context, convID string) (int64, error) {
	var v int64
	err := q.row(ctx, `SELECT member_version FROM conversations WHERE id = ?`, convID).Scan(&v)
	return v, notFound(err, "conversation")
}

// FanOutMember is what fan-out needs of a member.
type FanOutMember struct {
	UserID, Role string
	JoinedSeq    int64
}

// FanOut lists a conversation's members for fan-out, with the member
// version (MemberVersion) they are at, read in one statement so the two
// agree; a missing conversation is not_found.
func (q *Queries) FanOut(ctx context.Context, convID string) (int64, []FanOutMember, error) {
	rows, err := q.query(ctx, `SELECT c.member_version, m.user_id, m.role, m.joined_seq FROM conversations c
		LEFT JOIN members m ON m.conv_id = c.id WHERE c.id = ?`, convID)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var version int64
	var out []FanOutMember
	found := false
	for rows.Next() {
		var id, role sql.NullString
		var joined sql.NullInt64
		if err := rows.Scan(&version, &id, &role, &joined); err != nil {
			return 0, nil, err
		}
		found = true
		if id.Valid {
			out = append(out, FanOutMember{UserID: id.String, Role: internRole(role.String), JoinedSeq: joined.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	if !found {
		return 0, nil, tkesj.ErrNotFound("conversation")
	}
	return version, out, nil
}

// internRole spells the three roles with constants, so a cached list of
// hundreds of members does not hold a copy of the word for each.
func internRole(r string) string {
	switch r {
	case "owner":
		return "owner"
	case "admin":
		return "admin"
	case "member":
		return "member"
	}
	return r
}

// BumpMemberVersion counts a change to a conversation's member list ahead
// of making it. The triggers count it anyway; taking the conversation's row
// first matters on PostgreSQL: a send locks that row and then its sender's
// member row, so a removal or role change that locked the member row first
// and then the conversation's (in the trigger) could deadlock with it.
func (q *Queries) BumpMemberVersion(ctx context.Context, convID string) error {
	_, err := q.exec(ctx, `UPDATE conversations SET member_version = member_version + 1 WHERE id = ?`, convID)
	return err
}

// CountMembers counts a conversation's members.
func (q *Queries) CountMembers(ctx context.Context, convID string) (int, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM members WHERE conv_id = ?`, convID).Scan(&n)
	return n, err
}

// RemoveMember takes a person out of a conversation; it reports whether they were in it.
func (q *Queries) RemoveMember(ctx context.Context, convID, userID string) (bool, error) {
	res, err := q.exec(ctx, `DELETE FROM members WHERE conv_id = ? AND user_id = ?`, convID, userID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// SetMemberRole changes a member's role.
func (q *Queries) SetMemberRole(ctx context.Context, convID, userID, role string) error {
	_, err := q.exec(ctx, `UPDATE members SET role = ? WHERE conv_id = ? AND user_id = ?`, role, convID, userID)
	return err
}

// SetMuted mutes or unmutes a conversation for one member.
func (q *Queries) SetMuted(ctx context.Context, convID, userID string, muted bool) error {
	_, err := q.exec(ctx, `UPDATE members SET muted = ? WHERE conv_id = ? AND user_id = ?`, muted, convID, userID)
	return err
}

// AdvanceReceived moves a member's received position forward (never back,
// never past the last message).
func (q *Queries) AdvanceReceived(ctx context.Context, convID, userID string, seq int64) error {
	_, err := q.exec(ctx, `UPDATE members SET received_seq = ? WHERE conv_id = ? AND user_id = ? AND received_seq < ?
		AND ? <= (SELECT last_seq FROM conversations WHERE id = ?)`, seq, convID, userID, seq, seq, convID)
	return err
}

// AdvanceRead moves a member's read position forward; reading implies receiving.
func (q *Queries) AdvanceRead(ctx context.Context, convID, userID string, seq int64) error {
	_, err := q.exec(ctx, `UPDATE members SET read_seq = ?, received_seq = CASE WHEN received_seq < ? THEN ? ELSE received_seq END
		WHERE conv_id = ? AND user_id = ? AND read_seq < ? AND ? <= (SELECT last_seq FROM conversations WHERE id = ?)`,
		seq, seq, seq, convID, userID, seq, seq, convID)
	return err
}

// NextSeq takes the next sequence number of a conversation, in the caller's
// transaction, and stamps its activity time.
func (q *Queries) NextSeq(ctx context.Context, convID string, at time.Time) (int64, error) {
	seq, _, err := q.NextSeqTimer(ctx, convID, at)
	return seq, err
}

// NextSeqTimer is NextSeq that also returns the disappearing-messages timer
// in force in the same transaction, so a message stored just after the
// timer changed gets the new one.
func (q *Queries) NextSeqTimer(ctx context.Context, convID string, at time.Time) (int64, time.Duration, error) {
	var seq, d int64
	err := q.row(ctx, `UPDATE conversations SET last_seq = last_seq + 1, updated_at = ? WHERE id = ? RETURNING last_seq, disappear_after_s`, micros(at), convID).Scan(&seq, &d)
	return seq, time.Duration(d) * time.Second, notFound(err, "conversation")
}

// InsertMessage stores a message whose seq came from NextSeq.
func (q *Queries) InsertMessage(ctx context.Context, m MessageRecord) error {
	var exp sql.NullInt64
	if !m.ExpiresAt.IsZero() {
		exp = sql.NullInt64{Int64: micros(m.ExpiresAt), Valid: true}
	}
	_, err := q.exec(ctx, `INSERT INTO messages (conv_id, seq, id, sender_id, client_id, kind, body, media_id, sent_at, recalled, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ConvID, m.Seq, m.ID, m.SenderID, m.ClientID, m.Kind, m.Body, m.MediaID, micros(m.SentAt), m.Recalled, exp)
	return err
}

// SendCheck is what a send reads before it writes, in one statement
// (issue 17; it was FindMember, FindConversation, EitherBlocks and
// AreFriends): the sender's membership, the conversation and, for a direct
// chat, its other member, whether either of the two blocks the other and
// whether the sender has them as a friend.
type SendCheck struct {
	Member        MemberRecord
	Conversation  ConversationRecord
	PeerID        string // a direct chat's other member; "" in a group or when gone
	PeerJoinedSeq int64
	Blocked       bool // either blocks the other (EitherBlocks)
	Friends       bool // the sender has the peer as a friend (AreFriends)
}

// FindSendCheck returns what a send by userID in convID needs to check, or
// not_found (as "conversation") when userID is not a member.
func (q *Queries) FindSendCheck(ctx context.Context, convID, userID string) (SendCheck, error) {
	var sc SendCheck
	var j, p, cr, up, d int64
	var peer sql.NullString
	var peerJoined sql.NullInt64
	m, c := &sc.Member, &sc.Conversation
	err := q.row(ctx, `SELECT `+prefixed("m.", memberCols)+`, `+prefixed("c.", convCols)+`, o.user_id, o.joined_seq,
		CASE WHEN o.user_id IS NULL THEN FALSE ELSE EXISTS (SELECT 1 FROM blocks b WHERE (b.user_id = m.user_id AND b.blocked_id = o.user_id) OR (b.user_id = o.user_id AND b.blocked_id = m.user_id)) END,
		CASE WHEN o.user_id IS NULL THEN FALSE ELSE EXISTS (SELECT 1 FROM friends f WHERE f.user_id = m.user_id AND f.friend_id = o.user_id) END
		FROM members m JOIN conversations c ON c.id = m.conv_id
		LEFT JOIN members o ON c.kind = 'direct' AND o.conv_id = m.conv_id AND o.user_id <> m.user_id
		WHERE m.conv_id = ? AND m.user_id = ?`, convID, userID).Scan(
		&m.ConvID, &m.UserID, &m.Role, &m.JoinedSeq, &m.ReceivedSeq, &m.ReadSeq, &m.Muted, &j, &p,
		&c.ID, &c.Kind, &c.DirectKey, &c.Meta, &c.LastSeq, &cr, &up, &d,
		&peer, &peerJoined, &sc.Blocked, &sc.Friends)
	if err != nil {
		return SendCheck{}, notFound(err, "conversation")
	}
	m.JoinedAt, m.PinnedAt = fromMicros(j), pinTime(p)
	c.CreatedAt, c.UpdatedAt, c.DisappearAfter = fromMicros(cr), fromMicros(up), time.Duration(d)*time.Second
	sc.PeerID, sc.PeerJoinedSeq = peer.String, peerJoined.Int64
	return sc, nil
}

// AppendMessage stores m as the next message of its conversation, sent by
// a member, unless its sender already stored one with the same client id:
// in one go it takes the seq (and stamps the conversation's activity), gives
// the row the disappearing timer in force (R-MSG-10), inserts it and marks
// it read by its sender. It returns the seq and expiry it stored with. ok is
// false when nothing was stored: the client id was used (the unique index
// messages_client says so, not a read before), or the sender is not a
// member, or there is no such conversation; FindMessageByClientID tells
// which. It is the send path's only write (issue 17): one statement on
// either store (on SQLite with the trigger messages_append); on
// PostgreSQL the writer stores the sends of a group commit with one
// AppendMessages.
func (q *Queries) AppendMessage(ctx context.Context, m MessageRecord) (seq int64, expiresAt time.Time, ok bool, err error) {
	at := micros(m.SentAt)
	if q.d.Name == "postgres" {
		// The conversation's row lock orders sends; a retry racing its
		// first attempt on another node passes the NOT EXISTS and then
		// meets the unique index: the seq was taken with nothing stored,
		// so the transaction must not commit (ErrClientIDRace).
		var stored, exp sql.NullInt64
		var taken int64
		err := q.row(ctx, `WITH c AS (
				UPDATE conversations SET last_seq = last_seq + 1, updated_at = ? WHERE id = ?
				AND EXISTS (SELECT 1 FROM members WHERE conv_id = ? AND user_id = ?)
				AND NOT EXISTS (SELECT 1 FROM messages WHERE sender_id = ? AND client_id = ?)
				RETURNING last_seq, disappear_after_s),
			ins AS (
				INSERT INTO messages (conv_id, seq, id, sender_id, client_id, kind, body, media_id, sent_at, recalled, expires_at)
				SELECT ?, c.last_seq, ?, ?, ?, ?, ?, ?, ?, FALSE, CASE WHEN c.disappear_after_s > 0 THEN CAST(? AS BIGINT) + c.disappear_after_s * 1000000 END FROM c
				ON CONFLICT (sender_id, client_id) DO NOTHING
				RETURNING seq, expires_at),
			rd AS (
				UPDATE members SET read_seq = ins.seq, received_seq = GREATEST(received_seq, ins.seq) FROM ins
				WHERE members.conv_id = ? AND members.user_id = ? AND members.read_seq < ins.seq)
			SELECT c.last_seq, ins.seq, ins.expires_at FROM c LEFT JOIN ins ON TRUE`,
			at, m.ConvID, m.ConvID, m.SenderID, m.SenderID, m.ClientID,
			m.ConvID, m.ID, m.SenderID, m.ClientID, m.Kind, m.Body, m.MediaID, at, at,
			m.ConvID, m.SenderID).Scan(&taken, &stored, &exp)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return 0, time.Time{}, false, nil
		case err != nil:
			return 0, time.Time{}, false, err
		case !stored.Valid:
			return 0, time.Time{}, false, ErrClientIDRace
		}
		if exp.Valid {
			expiresAt = fromMicros(exp.Int64)
		}
		return stored.Int64, expiresAt, true, nil
	}
	// SQLite: the insert takes the next seq, and the trigger
	// messages_append (schema 0054) moves last_seq and the read mark.
	var exp sql.NullInt64
	err = q.row(ctx, `INSERT INTO messages (conv_id, seq, id, sender_id, client_id, kind, body, media_id, sent_at, recalled, expires_at)
		SELECT c.id, c.last_seq + 1, ?, ?, ?, ?, ?, ?, ?, FALSE, CASE WHEN c.disappear_after_s > 0 THEN ? + c.disappear_after_s * 1000000 END
		FROM conversations c WHERE c.id = ? AND EXISTS (SELECT 1 FROM members WHERE conv_id = c.id AND user_id = ?)
		ON CONFLICT (sender_id, client_id) DO NOTHING
		RETURNING seq, expires_at`, m.ID, m.SenderID, m.ClientID, m.Kind, m.Body, m.MediaID, at, at, m.ConvID, m.SenderID).Scan(&seq, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, err
	}
	if exp.Valid {
		expiresAt = fromMicros(exp.Int64)
	}
	return seq, expiresAt, true, nil
}

// Appended is what AppendMessages did with one message: as AppendMessage's
// results, and the conversation's member version (MemberVersion) read under
// the row lock the seq was taken with, when OK.
type Appended struct {
	Seq           int64
	ExpiresAt     time.Time
	OK            bool
	MemberVersion int64
}

// appendBatch is AppendMessages on PostgreSQL: AppendMessage's WITH
// statement for many messages at once. The input comes as arrays, one per
// column, in the order the messages were queued (i). A message may be
// stored (e) when its sender is a member and its client id is not used by
// an earlier one of e; whether a stored message used it, the unique index
// messages_client says (a look-up here was planned, on a messages table
// still small when the statement was first prepared, as a scan of the
// whole table per message, kept as the table grew: 20-40 ms a batch at
// 10,000 messages in a fresh schema). Each
// conversation's row is updated once (c), by the number of messages it
// takes, which get the seqs after its last one in the order they came (m);
// the senders' read marks move to their last message (rd). The messages
// ride through c as arrays, so nothing joins them back row by row (the
// planner, knowing no sizes, joined those CTEs in nested loops: quadratic
// in the batch). The last column counts the rows stored: fewer than
// returned means a client id was used already (ErrClientIDRace).
const appendBatch = `WITH i AS (
		SELECT * FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS BYTEA[]), CAST(? AS TEXT[]), CAST(? AS BIGINT[]))
		WITH ORDINALITY AS t (conv_id, id, sender_id, client_id, kind, body, media_id, sent_at, ord)),
	e AS (
		SELECT i.*, row_number() OVER (PARTITION BY i.sender_id, i.client_id ORDER BY i.ord) AS nth FROM i
		WHERE EXISTS (SELECT 1 FROM members m WHERE m.conv_id = i.conv_id AND m.user_id = i.sender_id)),
	k AS (
		SELECT conv_id, count(*) AS n, max(sent_at) AS at, array_agg(ord ORDER BY ord) AS ords, array_agg(id ORDER BY ord) AS ids,
			array_agg(sender_id ORDER BY ord) AS senders, array_agg(client_id ORDER BY ord) AS clients, array_agg(kind ORDER BY ord) AS kinds,
			array_agg(body ORDER BY ord) AS bodies, array_agg(media_id ORDER BY ord) AS media, array_agg(sent_at ORDER BY ord) AS sent
		FROM e WHERE nth = 1 GROUP BY conv_id),
	c AS (
		UPDATE conversations SET last_seq = last_seq + k.n, updated_at = k.at FROM k WHERE conversations.id = k.conv_id
		RETURNING k.*, conversations.last_seq - k.n AS base, conversations.disappear_after_s AS after, conversations.member_version AS version),
	m AS (
		SELECT c.conv_id, c.base + o.n AS seq, o.*, CASE WHEN c.after > 0 THEN o.sent_at + c.after * 1000000 END AS expires_at, c.version
		FROM c, unnest(c.ords, c.ids, c.senders, c.clients, c.kinds, c.bodies, c.media, c.sent) WITH ORDINALITY
			AS o (ord, id, sender_id, client_id, kind, body, media_id, sent_at, n)),
	ins AS (
		INSERT INTO messages (conv_id, seq, id, sender_id, client_id, kind, body, media_id, sent_at, recalled, expires_at)
		SELECT conv_id, seq, id, sender_id, client_id, kind, body, media_id, sent_at, FALSE, expires_at FROM m ORDER BY ord
		ON CONFLICT (sender_id, client_id) DO NOTHING
		RETURNING conv_id, seq, sender_id),
	rd AS (
		UPDATE members SET read_seq = r.seq, received_seq = GREATEST(received_seq, r.seq)
		FROM (SELECT conv_id, sender_id, max(seq) AS seq FROM ins GROUP BY conv_id, sender_id) r
		WHERE members.conv_id = r.conv_id AND members.user_id = r.sender_id AND members.read_seq < r.seq)
	SELECT ord, seq, expires_at, version, (SELECT count(*) FROM ins) FROM m`

// AppendMessages is AppendMessage for several messages in one statement
// on PostgreSQL (issue 17: the group-commit writer's batch of sends was a
// round trip and a statement each): the result for ms[i] is in slot i, as
// if they had been appended one after the other in that order; a message
// whose client id an earlier one of ms used is not stored (OK false), as
// a retry. A retry of a message stored before (rare: a client that
// resends after a lost answer) makes it fail with ErrClientIDRace on
// PostgreSQL, as one committed meanwhile on another node does: seqs were
// taken for nothing, so the transaction must not commit, and the caller
// stores the batch one by one with AppendMessage, which tells retries
// apart. On SQLite it runs AppendMessage and MemberVersion for each
// message (a stored message's retry: OK false).
func (q *Queries) AppendMessages(ctx context.Context, ms []MessageRecord) ([]Appended, error) {
	out := make([]Appended, len(ms))
	if q.d.Name != "postgres" {
		for i, m := range ms {
			a := &out[i]
			var err error
			if a.Seq, a.ExpiresAt, a.OK, err = q.AppendMessage(ctx, m); err != nil {
				return nil, err
			}
			if a.OK {
				if a.MemberVersion, err = q.MemberVersion(ctx, m.ConvID); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	}
	n := len(ms)
	convs, ids, senders, clients, kinds := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	bodies, media, at := make([][]byte, n), make([]*string, n), make([]int64, n)
	for i, m := range ms {
		convs[i], ids[i], senders[i], clients[i], kinds[i], bodies[i], at[i] = m.ConvID, m.ID, m.SenderID, m.ClientID, m.Kind, m.Body, micros(m.SentAt)
		if m.MediaID.Valid {
			media[i] = &m.MediaID.String
		}
	}
	rows, err := q.query(ctx, appendBatch, convs, ids, senders, clients, kinds, bodies, media, at)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var taken, stored int64
	for rows.Next() {
		var ord, seq, version int64
		var exp sql.NullInt64
		if err := rows.Scan(&ord, &seq, &exp, &version, &stored); err != nil {
			return nil, err
		}
		taken++
		a := &out[ord-1]
		a.Seq, a.OK, a.MemberVersion = seq, true, version
		if exp.Valid {
			a.ExpiresAt = fromMicros(exp.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if stored < taken {
		return nil, ErrClientIDRace
	}
	return out, nil
}

// ErrClientIDRace: two sends with one client id met (see AppendMessage).
var ErrClientIDRace = errors.New("a send with the same client id committed meanwhile; try again")

const messageCols = `conv_id, seq, id, sender_id, client_id, kind, body, media_id, sent_at, recalled, expires_at`

// queryMessages runs a query selecting messageCols and scans its rows.
func (q *Queries) queryMessages(ctx context.Context, query string, args ...any) ([]MessageRecord, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MessageRecord
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func scanMessage(sc interface{ Scan(...any) error }) (MessageRecord, error) {
	var m MessageRecord
	var at int64
	var exp sql.NullInt64
	err := sc.Scan(&m.ConvID, &m.Seq, &m.ID, &m.SenderID, &m.ClientID, &m.Kind, &m.Body, &m.MediaID, &at, &m.Recalled, &exp)
	m.SentAt = fromMicros(at)
	if exp.Valid {
		m.ExpiresAt = fromMicros(exp.Int64)
	}
	return m, err
}

// FindMessageByClientID returns the message a sender sent with clientID, or not_found.
func (q *Queries) FindMessageByClientID(ctx context.Context, senderID, clientID string) (MessageRecord, error) {
	m, err := scanMessage(q.row(ctx, `SELECT `+messageCols+` FROM messages WHERE sender_id = ? AND client_id = ?`, senderID, clientID))
	return m, notFound(err, "message")
}

// FindMessage returns one message of a conversation, or not_found.
func (q *Queries) FindMessage(ctx context.Context, convID string, seq int64) (MessageRecord, error) {
	m, err := scanMessage(q.row(ctx, `SELECT `+messageCols+` FROM messages WHERE conv_id = ? AND seq = ?`, convID, seq))
	return m, notFound(err, "message")
}

// MessageFilter selects a page of a conversation for one viewer.
type MessageFilter struct {
	ConvID    string
	ViewerID  string // hidden (deleted-for-me) messages of this viewer are left out
	AfterSeq  int64  // exclusive lower bound
	BeforeSeq int64  // exclusive upper bound; 0 means none
	Limit     int
	Newest    bool // with BeforeSeq: the newest page below it, still returned ascending
	// LiveAt, when set, leaves out messages expired by then (R-MSG-10).
	LiveAt time.Time
}

// Messages returns a page of messages in ascending seq order.
func (q *Queries) Messages(ctx context.Context, f MessageFilter) ([]MessageRecord, error) {
	query := `SELECT ` + messageCols + ` FROM messages m WHERE conv_id = ? AND seq > ?`
	args := []any{f.ConvID, f.AfterSeq}
	if f.BeforeSeq > 0 {
		query += ` AND seq < ?`
		args = append(args, f.BeforeSeq)
	}
	query += ` AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ? AND h.conv_id = m.conv_id AND h.seq = m.seq)`
	args = append(args, f.ViewerID)
	if !f.LiveAt.IsZero() {
		query += ` AND (expires_at IS NULL OR expires_at > ?)`
		args = append(args, micros(f.LiveAt))
	}
	order := " ORDER BY seq ASC"
	if f.Newest {
		order = " ORDER BY seq DESC"
	}
	query += order + " LIMIT " + strconv.Itoa(f.Limit)
	out, err := q.queryMessages(ctx, query, args...)
	if f.Newest {
		slices.Reverse(out)
	}
	return out, err
}

// RecallMessage drops a message's body and marks it recalled.
func (q *Queries) RecallMessage(ctx context.Context, convID string, seq int64) error {
	_, err := q.exec(ctx, `UPDATE messages SET body = NULL, media_id = NULL, recalled = ? WHERE conv_id = ? AND seq = ?`, true, convID, seq)
	return err
}

// HideMessage deletes a message for one person only.
func (q *Queries) HideMessage(ctx context.Context, userID, convID string, seq int64) error {
	_, err := q.exec(ctx, `INSERT INTO hidden_messages (user_id, conv_id, seq) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, userID, convID, seq)
	return err
}

// MediaRecord describes an uploaded blob; the bytes are in the blob store,
// sealed with the owner's key.
type MediaRecord struct {
	ID, OwnerID, Kind, Mime string
	Size                    int64
	Meta                    string // JSON: width, height, duration...
	CreatedAt               time.Time
}

// CreateMedia records an upload.
func (q *Queries) CreateMedia(ctx context.Context, m MediaRecord) error {
	_, err := q.exec(ctx, `INSERT INTO media (id, owner_id, kind, mime, size, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.OwnerID, m.Kind, m.Mime, m.Size, m.Meta, micros(m.CreatedAt))
	return err
}

// FindMedia returns a media record, or not_found.
func (q *Queries) FindMedia(ctx context.Context, id string) (MediaRecord, error) {
	m, err := scanMedia(q.row(ctx, `SELECT `+mediaCols+` FROM media WHERE id = ?`, id))
	return m, notFound(err, "media")
}

// CanSeeMediaInChats reports whether viewerID is a member of a conversation
// holding a message with that media, sent after they joined.
func (q *Queries) CanSeeMediaInChats(ctx context.Context, mediaID, viewerID string) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM messages msg JOIN members mem ON mem.conv_id = msg.conv_id
		WHERE msg.media_id = ? AND mem.user_id = ? AND msg.seq > mem.joined_seq`, mediaID, viewerID).Scan(&n)
	return n > 0, err
}

// DeleteMedia removes a media record.
func (q *Queries) DeleteMedia(ctx context.Context, id string) error {
	_, err := q.exec(ctx, `DELETE FROM media WHERE id = ?`, id)
	return err
}
