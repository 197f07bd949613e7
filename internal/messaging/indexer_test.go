package messaging

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// Issue 17: on SQLite the search index has a file of its own, so a message
// commits through the group-commit writer while an indexer pass holds the
// index file's writer (before, a send waited for the slice that held the
// one write lock: B2 small p99 21–30 ms with the indexer, 6–11 without).
// The pass then commits, and its messages are found.
func TestSendNotBlockedByIndexPass(t *testing.T) {
	s, senders, convs := newIndexBench(t, 2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := 0
	seedUnindexed(t, s, senders, convs, 50, &n)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	indexHook = func() {
		once.Do(func() {
			close(held)
			<-release
		})
	}
	defer func() { indexHook = nil }()
	pass := make(chan error, 1)
	go func() {
		_, err := s.indexPass(ctx)
		pass <- err
	}()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the index pass never reached its commit")
	}
	// A send's write, through the group-commit writer, while the pass
	// holds the index file's writer in an open transaction.
	wrote := make(chan error, 1)
	start := time.Now()
	go func() {
		wrote <- s.writer.do(ctx, convs[0], func(ctx context.Context, q *store.Queries) error {
			seq, err := q.NextSeq(ctx, convs[0], s.Now())
			if err != nil {
				return err
			}
			return q.InsertMessage(ctx, store.MessageRecord{ConvID: convs[0], Seq: seq, ID: kernel.NewID("m"), SenderID: senders[0],
				ClientID: "while-indexing", Kind: KindText, Body: []byte("x"), SentAt: s.Now()})
		})
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("the send's write = %v", err)
		}
		t.Logf("the send committed in %v while the pass held the index writer", time.Since(start))
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("the send's write waited for the index pass")
	}
	close(release)
	if err := <-pass; err != nil {
		t.Fatalf("indexPass = %v", err)
	}
	pos, err := s.DB.SearchIndex().Read().SearchPosition(ctx)
	if err != nil || pos < 50 {
		t.Errorf("SearchPosition after the pass = %d, %v; want the 50 messages read", pos, err)
	}
}
