package store

import (
	"context"
	"strconv"
)

// AddMentions records that message (convID, seq) mentions each of userIDs.
func (q *Queries) AddMentions(ctx context.Context, convID string, seq int64, userIDs []string) error {
	return insertPerMessage(ctx, q, "message_mentions", "user_id", convID, seq, userIDs, 100)
}

// DeleteMentions forgets a message's mentions (recall, expiry).
func (q *Queries) DeleteMentions(ctx context.Context, convID string, seq int64) error {
	_, err := q.exec(ctx, `DELETE FROM message_mentions WHERE conv_id = ? AND seq = ?`, convID, seq)
	return err
}

// MentionedUnread lists the conversations where userID has a mention they
// have not read yet (the chat list's "[@you]").
func (q *Queries) MentionedUnread(ctx context.Context, userID string) ([]string, error) {
	return q.strings(ctx, `SELECT DISTINCT mm.conv_id FROM message_mentions mm
		JOIN members m ON m.conv_id = mm.conv_id AND m.user_id = mm.user_id
		WHERE mm.user_id = ? AND mm.seq > m.read_seq`, userID)
}

// MentionsOf returns, newest first, the messages that mention userID and
// that they may see (as SearchMessages: member, after joining, not hidden).
func (q *Queries) MentionsOf(ctx context.Context, userID string, limit int) ([]MessageRecord, error) {
	return q.queryMessages(ctx, `SELECT `+prefixed("m.", messageCols)+` FROM message_mentions mm
		JOIN messages m ON m.conv_id = mm.conv_id AND m.seq = mm.seq
		JOIN members mem ON mem.conv_id = m.conv_id AND mem.user_id = mm.user_id AND m.seq > mem.joined_seq
		WHERE mm.user_id = ?
		AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = mm.user_id AND h.conv_id = m.conv_id AND h.seq = m.seq)
		ORDER BY m.sent_at DESC LIMIT `+strconv.Itoa(limit), userID)
}
