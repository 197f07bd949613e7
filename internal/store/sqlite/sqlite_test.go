package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/sqlite"
	"github.com/tkesj/tkesj/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.DB {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tkesj.db"), 4)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tkesj.db")
	db, err := sqlite.Open(ctx, path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(q *store.Queries) error {
		return q.CreateUser(ctx, store.UserRecord{ID: "x", UsernameIdx: []byte("u"), PhoneIdx: []byte("p"), Profile: []byte("s"), Status: "active"})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.Open(ctx, path, 2)
	if err != nil {
		t.Fatalf("reopening (migrations must be idempotent) = %v", err)
	}
	defer db.Close()
	if _, err := db.Read().FindUserByID(ctx, "x"); err != nil {
		t.Errorf("after reopening, FindUserByID = %v", err)
	}
}
