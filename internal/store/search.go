package store

import (
	"context"
	"strconv"
	"strings"
)

// IndexMessage records a message's token hashes.
func (q *Queries) IndexMessage(ctx context.Context, convID string, seq int64, tokens [][]byte) error {
	// One statement per 64 tokens, not one per token: the group-commit
	// writer is the bottleneck of sending.
	return insertPerMessage(ctx, q, "search_tokens", "token", convID, seq, tokens, 64)
}

// insertPerMessage writes one row (key, conv_id, seq) per key into table,
// chunk keys per statement, leaving rows already there alone.
func insertPerMessage[K any](ctx context.Context, q *Queries, table, keyCol, convID string, seq int64, keys []K, chunk int) error {
	for len(keys) > 0 {
		n := min(len(keys), chunk)
		args := make([]any, 0, 3*n)
		for _, k := range keys[:n] {
			args = append(args, k, convID, seq)
		}
		if _, err := q.exec(ctx, `INSERT INTO `+table+` (`+keyCol+`, conv_id, seq) VALUES (?, ?, ?)`+strings.Repeat(`, (?, ?, ?)`, n-1)+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// UnindexMessage removes a message from the index.
func (q *Queries) UnindexMessage(ctx context.Context, convID string, seq int64) error {
	_, err := q.exec(ctx, `DELETE FROM search_tokens WHERE conv_id = ? AND seq = ?`, convID, seq)
	return err
}

// SearchMessages returns, newest first, messages that carry every token and
// that viewerID may see: in a conversation they belong to, sent after they
// joined, not deleted for them.
func (q *Queries) SearchMessages(ctx context.Context, viewerID string, tokens [][]byte, limit int) ([]MessageRecord, error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(tokens)+3)
	for _, t := range tokens {
		args = append(args, t)
	}
	args = append(args, len(tokens), viewerID, viewerID)
	rows, err := q.query(ctx, `SELECT `+prefixed("m.", messageCols)+` FROM (
			SELECT conv_id, seq FROM search_tokens WHERE token IN (?`+strings.Repeat(", ?", len(tokens)-1)+`)
			GROUP BY conv_id, seq HAVING COUNT(*) = ?) hit
		JOIN messages m ON m.conv_id = hit.conv_id AND m.seq = hit.seq
		JOIN members mem ON mem.conv_id = m.conv_id AND mem.user_id = ? AND m.seq > mem.joined_seq
		WHERE NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ? AND h.conv_id = m.conv_id AND h.seq = m.seq)
		ORDER BY m.sent_at DESC LIMIT `+strconv.Itoa(limit), args...)
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

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}
