package messaging

import (
	"context"
	"fmt"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// This file is the bulk path of the load generator, `tkesj bench`
// (internal/bench). Only that command calls these methods, on a store it has
// just created in a temporary data directory and before it starts the server
// it measures; no HTTP route, and nothing in `tkesj serve`, reaches them.
// They skip what makes registration deliberately slow (one-time codes, one
// argon2id hash per person) but otherwise write the same rows, sealed with
// the same keys, as Register, SendFriendRequest and Send do.

// SeededUser is an account made by SeedUsers, signed in on one device.
type SeededUser struct {
	ID, Username, Phone, Password, DeviceID, Token string
}

// seedBatch is how many rows one seeding transaction holds.
const seedBatch = 500

// SeedUsers creates n active accounts named prefix000001, prefix000002...
// with phones +8613900000001... (offset by phoneBase), each with its data
// key, the policy accepted, one device and a session; it returns their
// tokens. All share password, hashed once. Bench only (see above).
func (s *Service) SeedUsers(ctx context.Context, n int, prefix string, phoneBase int, password string) ([]SeededUser, error) {
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	pol, err := s.DB.Read().CurrentPolicy(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]SeededUser, 0, n)
	for start := 0; start < n; start += seedBatch {
		end := min(n, start+seedBatch)
		type row struct {
			u   SeededUser
			rec store.UserRecord
			dev tkesj.Device
		}
		rows := make([]row, 0, end-start)
		now := s.Now()
		for i := start; i < end; i++ {
			u := tkesj.User{ID: kernel.NewID("u"), Username: fmt.Sprintf("%s%06d", prefix, i+1), Nickname: fmt.Sprintf("Bench %d", i+1),
				Gender: "other", Phone: fmt.Sprintf("+86139%08d", phoneBase+i+1), Status: tkesj.UserActive, CreatedAt: now}
			if err := s.Keys.CreateKey(ctx, u.ID); err != nil {
				return nil, err
			}
			sealed, err := s.Seal(ctx, u.ID, accounts.ProfileAD(u.ID), accounts.ProfileOf(u))
			if err != nil {
				return nil, err
			}
			rows = append(rows, row{
				u: SeededUser{ID: u.ID, Username: u.Username, Phone: u.Phone, Password: password, DeviceID: fmt.Sprintf("bench-%d", i+1)},
				rec: store.UserRecord{ID: u.ID, UsernameIdx: s.UsernameIdx(u.Username), PhoneIdx: s.PhoneIdx(u.Phone), Profile: sealed,
					PasswordHash: hash, Status: string(u.Status), CreatedAt: now, UpdatedAt: now},
				dev: tkesj.Device{ID: fmt.Sprintf("bench-%d", i+1), Model: "bench", OS: "linux", AppVersion: "bench", Network: "loopback", LoginIP: "127.0.0.1"},
			})
		}
		err := s.DB.Update(ctx, func(q *store.Queries) error {
			for i := range rows {
				r := &rows[i]
				if err := q.CreateUser(ctx, r.rec); err != nil {
					return err
				}
				if err := q.AppendConsent(ctx, r.rec.ID, tkesj.Consent{Kind: tkesj.ConsentPolicy, Subject: pol.Version, Granted: true,
					Purpose: "acceptance of the privacy policy at registration", PolicyVersion: pol.Version, Method: "registration", At: now}); err != nil {
					return err
				}
				if err := q.SetPolicyAccepted(ctx, r.rec.ID, pol.PublishedAt); err != nil {
					return err
				}
				tok, err := s.StartSession(ctx, q, r.rec.ID, r.dev)
				if err != nil {
					return err
				}
				r.u.Token = tok
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, r.u)
		}
	}
	return out, nil
}

// SeedFriends makes each pair friends, as an accepted request would. Bench
// only (see above).
func (s *Service) SeedFriends(ctx context.Context, pairs [][2]string) error {
	for start := 0; start < len(pairs); start += seedBatch {
		batch := pairs[start:min(len(pairs), start+seedBatch)]
		now := s.Now()
		err := s.DB.Update(ctx, func(q *store.Queries) error {
			for _, p := range batch {
				if err := q.AddFriendship(ctx, p[0], p[1], now); err != nil {
					return err
				}
				// As addFriendship does (no cap: the bench seeds large circles).
				if err := q.EnqueueBackfill(ctx, p[0], p[1], now); err != nil {
					return err
				}
				if err := q.EnqueueBackfill(ctx, p[1], p[0], now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SeedMessages stores n text messages ("text (1)", "text (2)"...) from sender in convID (which sender
// must belong to), sealed and indexed as Send stores them, in large
// transactions and without fan-out. Bench only (see above).
func (s *Service) SeedMessages(ctx context.Context, senderID, convID string, n int, text string) error {
	split := s.DB.SearchIndex() != s.DB // SQLite: the index has its own file
	for start := 0; start < n; start += 2 * seedBatch {
		end := min(n, start+2*seedBatch)
		now := s.Now()
		recs := make([]store.MessageRecord, 0, end-start)
		tokens := make([][][]byte, 0, end-start)
		for i := start; i < end; i++ {
			id := kernel.NewMessageID(now)
			txt := fmt.Sprintf("%s (%d)", text, i+1)
			sealed, err := s.Seal(ctx, senderID, messageAD(convID, id), body{Text: txt})
			if err != nil {
				return err
			}
			recs = append(recs, store.MessageRecord{ConvID: convID, ID: id, SenderID: senderID, ClientID: fmt.Sprintf("seed-%s-%d", convID, i), Kind: KindText, Body: sealed, SentAt: now})
			tokens = append(tokens, s.tokenHashes(txt))
		}
		err := s.DB.Update(ctx, func(q *store.Queries) error {
			var seq int64
			var entries []store.IndexEntry
			for i := range recs {
				var err error
				if seq, err = q.NextSeq(ctx, convID, now); err != nil {
					return err
				}
				recs[i].Seq = seq
				if err := q.InsertMessage(ctx, recs[i]); err != nil {
					return err
				}
				if split {
					continue
				}
				entries = append(entries, store.IndexEntry{ConvID: convID, Seq: seq, Tokens: tokens[i], SentAt: now})
			}
			// Indexed here (one batch), so the indexer has nothing to redo.
			if !split {
				if err := q.IndexMessages(ctx, entries); err != nil {
					return err
				}
				if err := q.SetIndexed(ctx, []store.IndexBacklog{{ConvID: convID, IndexedSeq: seq}}); err != nil {
					return err
				}
			}
			return q.AdvanceRead(ctx, convID, senderID, seq)
		})
		if err != nil {
			return err
		}
	}
	// SQLite's index file follows the log: index the seeded messages now,
	// so the indexer has nothing left to do when the bench starts.
	for split {
		more, err := s.indexPass(ctx)
		if err != nil {
			return err
		}
		split = more
	}
	return nil
}
