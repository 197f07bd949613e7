package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// Sizes of the store BenchmarkAppendMessage sends into (issue 17): enough
// direct chats and stored messages that a send's pages are spread over
// B-trees larger than the page cache's hot part, as on a server that has
// been running, instead of 64 chats whose every page stays hot.
const (
	benchChats    = 4000
	benchMessages = 100_000
	benchBatch    = 128 // sends per group commit
)

// benchIDs are the two ways of spelling message ids the benchmark
// compares: ten random bytes (kernel.NewID, the ids before issue 17's
// third pass), and the time-ordered ids of kernel.NewMessageID (copied
// here: adapters do not import the kernel).
var benchIDs = []struct {
	name string
	id   func(at time.Time) string
}{
	{"random", func(time.Time) string {
		b := make([]byte, 10)
		rand.Read(b)
		return "m" + benchIDEncoding.EncodeToString(b)
	}},
	{"time", func(at time.Time) string {
		var b [12]byte
		binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli())<<16)
		rand.Read(b[6:])
		return "m" + benchSortedEncoding.EncodeToString(b[:])
	}},
}

var (
	benchIDEncoding     = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	benchSortedEncoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)
)

// BenchmarkAppendMessage is the send path's one write (issue 17) as the
// group-commit writer runs it: batches of 128 sends to random direct chats
// of 4,000 (8,000 people), into a store already holding 100,000 messages.
// ns/op is per message, commit and fsync included; cpu-ns/msg is the
// process's CPU time per message (less noisy on a shared machine); frames/msg is the WAL
// frames its commits wrote per message, i.e. the distinct pages a send
// dirties (each frame is a page written twice with pwrite and
// checksummed: 18 % of B2's server CPU before this pass). The store is
// seeded once per process and copied for each run.
func BenchmarkAppendMessage(b *testing.B) {
	for _, ids := range benchIDs {
		b.Run("ids="+ids.name, func(b *testing.B) {
			benchAppend(b, ids.name, ids.id)
		})
	}
}

func benchAppend(b *testing.B, scheme string, newID func(time.Time) string) {
	ctx := context.Background()
	tmpl, err := benchTemplate(scheme, newID)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "tkesj.db")
	if err := copyFile(tmpl.path, path); err != nil {
		b.Fatal(err)
	}
	db, cp, err := open(ctx, path, 1, time.Hour) // the benchmark checkpoints
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var frames int64
	var cpu time.Duration
	checkpoint := func() {
		var busy, log, copied int64
		if err := cp.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied); err != nil {
			b.Fatal(err)
		}
		frames += log
		// Then empty the WAL, so that the next checkpoint's log holds
		// only the frames written since (a PASSIVE one leaves that to
		// the next commit, and without one counts the same frames again).
		if err := cp.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &copied); err != nil || busy != 0 || log != 0 {
			b.Fatalf("truncating the WAL: %v (busy %d, %d frames left)", err, busy, log)
		}
	}
	checkpoint()
	frames = 0
	body := make([]byte, 120)
	rng := newBenchRand()
	b.ResetTimer()
	for n, commits := 0, 0; n < b.N; n, commits = n+benchBatch, commits+1 {
		now := time.Now()
		recs := make([]store.MessageRecord, 0, benchBatch)
		for range min(benchBatch, b.N-n) {
			i := rng.intn(benchChats)
			recs = append(recs, store.MessageRecord{ConvID: tmpl.convs[i], ID: newID(now), SenderID: tmpl.users[2*i+rng.intn(2)],
				ClientID: benchClientID(), Kind: "text", Body: body, SentAt: now})
		}
		cpu0 := cpuTime()
		if err := db.Update(ctx, func(q *store.Queries) error {
			for _, m := range recs {
				_, _, ok, err := q.AppendMessage(ctx, m)
				if err == nil && !ok {
					err = fmt.Errorf("message %s not stored", m.ID)
				}
				if err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - cpu0
		// About once a second at B2's rates, as the checkpointer does.
		if commits%8 == 7 {
			b.StopTimer()
			checkpoint()
			b.StartTimer()
		}
	}
	b.StopTimer()
	checkpoint()
	b.ReportMetric(float64(frames)/float64(b.N), "frames/msg")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
}

// cpuTime is the process's user and system CPU time so far: unlike ns/op
// it does not count waiting for fsync or for the other processes of a
// busy machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchClientID is a client id as the web client makes them (newClientId:
// "c" and 24 random characters).
func benchClientID() string {
	var b [12]byte
	rand.Read(b[:])
	return "c" + hex.EncodeToString(b[:])
}

type benchStore struct {
	path         string
	users, convs []string
}

var benchTemplates sync.Map // id scheme -> *benchOnce

type benchOnce struct {
	once sync.Once
	s    benchStore
	err  error
}

// benchTemplate seeds, once per process and id scheme, a store with the
// benchmark's people, direct chats and messages (sent over the last
// 100,000 seconds), and returns its path.
func benchTemplate(scheme string, newID func(time.Time) string) (benchStore, error) {
	v, _ := benchTemplates.LoadOrStore(scheme, &benchOnce{})
	o := v.(*benchOnce)
	o.once.Do(func() { o.s, o.err = seedBench(newID) })
	return o.s, o.err
}

func seedBench(newID func(time.Time) string) (benchStore, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tkesj-append-bench-")
	if err != nil {
		return benchStore{}, err
	}
	benchDirs = append(benchDirs, dir)
	s := benchStore{path: filepath.Join(dir, "tkesj.db")}
	db, err := Open(ctx, s.path, 1)
	if err != nil {
		return s, err
	}
	now := time.Now()
	idOf := func(prefix string) string {
		b := make([]byte, 10)
		rand.Read(b)
		return prefix + benchIDEncoding.EncodeToString(b)
	}
	for range 2 * benchChats {
		s.users = append(s.users, idOf("u"))
	}
	for range benchChats {
		s.convs = append(s.convs, idOf("c"))
	}
	if err := db.Update(ctx, func(q *store.Queries) error {
		for _, u := range s.users {
			if err := q.CreateUser(ctx, store.UserRecord{ID: u, UsernameIdx: []byte(u), PhoneIdx: []byte(u), Profile: []byte("s"), Status: "active"}); err != nil {
				return err
			}
		}
		for i, c := range s.convs {
			a, b := s.users[2*i], s.users[2*i+1]
			if err := q.CreateConversation(ctx, store.ConversationRecord{ID: c, Kind: "direct", DirectKey: sql.NullString{String: a + ":" + b, Valid: true}, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			for _, u := range []string{a, b} {
				if err := q.AddMember(ctx, store.MemberRecord{ConvID: c, UserID: u, Role: "member", JoinedAt: now}); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return s, err
	}
	body := make([]byte, 120)
	rng := newBenchRand()
	for n := 0; n < benchMessages; n += 2000 {
		if err := db.Update(ctx, func(q *store.Queries) error {
			for k := n; k < n+2000; k++ {
				at := now.Add(time.Duration(k-benchMessages) * time.Second)
				i := rng.intn(benchChats)
				m := store.MessageRecord{ConvID: s.convs[i], ID: newID(at), SenderID: s.users[2*i+rng.intn(2)],
					ClientID: benchClientID(), Kind: "text", Body: body, SentAt: at}
				if _, _, ok, err := q.AppendMessage(ctx, m); err != nil || !ok {
					return fmt.Errorf("seed message %d: %v %v", k, ok, err)
				}
			}
			return nil
		}); err != nil {
			db.Close()
			return s, err
		}
	}
	// Closing checkpoints the WAL into the file, which is then all of
	// the store.
	if err := db.Close(); err != nil {
		return s, err
	}
	if _, err := os.Stat(s.path + "-wal"); err == nil {
		return s, fmt.Errorf("the seeded store's WAL is still there after closing")
	}
	return s, nil
}

// benchDirs are the seeded stores' directories, removed by TestMain.
var benchDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// benchRand is a cheap deterministic generator (xorshift), so every run
// sends to the same chats in the same order.
type benchRand struct{ x uint64 }

func newBenchRand() *benchRand { return &benchRand{x: 0x9e3779b97f4a7c15} }

func (r *benchRand) intn(n int) int {
	r.x ^= r.x << 13
	r.x ^= r.x >> 7
	r.x ^= r.x << 17
	return int(r.x % uint64(n))
}
