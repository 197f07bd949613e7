package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/postgres"
	"github.com/tkesj/tkesj/internal/testkit"
)

// BenchmarkAppend is the send path's write (issue 17) as the group-commit
// writer runs it, in batches of 1 to 64 sends to 64 direct chats: one
// AppendMessage statement per send ("each") or one AppendMessages
// statement per batch ("batch"). Besides ns/op (per message, commit
// included) it reports db-µs/msg: the CPU of the PostgreSQL backends that
// served it, from /proc (the database must run on this machine).
func BenchmarkAppend(b *testing.B) {
	base := os.Getenv("TKESJ_TEST_POSTGRES_URL")
	if base == "" {
		b.Skip("TKESJ_TEST_POSTGRES_URL not set")
	}
	for _, size := range []int{1, 4, 16, 64} {
		for _, mode := range []string{"each", "batch"} {
			b.Run(fmt.Sprintf("%s/%d", mode, size), func(b *testing.B) { benchAppend(b, base, mode, size) })
		}
	}
}

func benchAppend(b *testing.B, base, mode string, size int) {
	ctx := context.Background()
	tag := make([]byte, 6)
	rand.Read(tag)
	app := "bench_" + hex.EncodeToString(tag)
	u, err := url.Parse(testkit.PostgresSchema(b, base, "b"))
	if err != nil {
		b.Fatal(err)
	}
	qs := u.Query()
	qs.Set("application_name", app)
	u.RawQuery = qs.Encode()
	db, err := postgres.Open(ctx, u.String(), 2)
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
	msg := func(k int) store.MessageRecord {
		i := k % chats
		return store.MessageRecord{ConvID: fmt.Sprint("c", i), ID: fmt.Sprint("m", k), SenderID: fmt.Sprint("u", 2*i+k/chats%2),
			ClientID: fmt.Sprint("k", k), Kind: "text", Body: body, SentAt: now}
	}
	cpu0 := backendsCPU(b, base, app)
	b.ResetTimer()
	msgs := 0
	for n := 0; n < b.N; n += size {
		ms := make([]store.MessageRecord, size)
		for j := range ms {
			ms[j] = msg(n + j)
		}
		msgs += size
		if err := db.Update(ctx, func(q *store.Queries) error {
			if mode == "batch" {
				got, err := q.AppendMessages(ctx, ms)
				for j, a := range got {
					if !a.OK {
						return fmt.Errorf("message %d not stored", j)
					}
				}
				return err
			}
			for _, m := range ms {
				if _, _, ok, err := q.AppendMessage(ctx, m); err != nil || !ok {
					return fmt.Errorf("message %s not stored: %v", m.ID, err)
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((backendsCPU(b, base, app)-cpu0).Seconds()*1e6/float64(msgs), "db-µs/msg")
}

// backendsCPU is the CPU time of the PostgreSQL backends whose
// application_name is app.
func backendsCPU(b *testing.B, base, app string) time.Duration {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	rows, err := admin.Query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Fatal(err)
		}
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stt, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+stt) * 10 * time.Millisecond // USER_HZ 100
	}
	return total
}
