package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/sqlite"
)

// BenchmarkAppendMessage is the send path's one write (issue 17) as the
// group-commit writer runs it: 128 sends to 64 direct chats in one batch.
// ns/op is per message, commit and fsync included.
func BenchmarkAppendMessage(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "tkesj.db"), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	const chats = 64
	if err := db.Update(ctx, func(q *store.Queries) error {
		for i := range 2 * chats {
			u := fmt.Sprint("u", i)
			if err := q.CreateUser(ctx, store.UserRecord{ID: u, UsernameIdx: []byte(u), PhoneIdx: []byte(u), Profile: []byte("s"), Status: "active"}); err != nil {
				return err
			}
		}
		for i := range chats {
			c := fmt.Sprint("c", i)
			if err := q.CreateConversation(ctx, store.ConversationRecord{ID: c, Kind: "direct", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			for _, u := range []string{fmt.Sprint("u", 2*i), fmt.Sprint("u", 2*i+1)} {
				if err := q.AddMember(ctx, store.MemberRecord{ConvID: c, UserID: u, Role: "member", JoinedAt: now}); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 120)
	const batch = 128
	b.ResetTimer()
	for n := 0; n < b.N; n += batch {
		fns := make([]func(*store.Queries) error, 0, batch)
		for k := n; k < n+batch; k++ {
			i := k % chats
			m := store.MessageRecord{ConvID: fmt.Sprint("c", i), ID: fmt.Sprint("m", k), SenderID: fmt.Sprint("u", 2*i+k/chats%2),
				ClientID: fmt.Sprint("k", k), Kind: "text", Body: body, SentAt: now}
			fns = append(fns, func(q *store.Queries) error {
				_, _, ok, err := q.AppendMessage(ctx, m)
				if err == nil && !ok {
					err = fmt.Errorf("message %d not stored", k)
				}
				return err
			})
		}
		if err := db.Update(ctx, func(q *store.Queries) error {
			for _, fn := range fns {
				if err := fn(q); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
