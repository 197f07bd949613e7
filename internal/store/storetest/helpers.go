package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// ctx is the context of every statement the suite runs.
var ctx = context.Background()

// result holds what a store method returned, for the checks below:
// res(db.Read().FindX(ctx, id)).must(t, "FindX").
type result[T any] struct {
	v   T
	err error
}

func res[T any](v T, err error) result[T] { return result[T]{v, err} }

// must fails the test when the call failed and returns its value.
func (r result[T]) must(t *testing.T, what string) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s = %v", what, r.err)
	}
	return r.v
}

// notFound fails the test unless the call answered not_found.
func (r result[T]) notFound(t *testing.T, what string) {
	t.Helper()
	if tkesj.ErrorKindOf(r.err) != tkesj.ENotFound {
		t.Errorf("%s = %+v, %v; want not_found", what, r.v, r.err)
	}
}

// write runs fn in one write transaction and fails the test on error.
func write(t *testing.T, db *store.DB, what string, fn func(q *store.Queries) error) {
	t.Helper()
	if err := db.Update(ctx, fn); err != nil {
		t.Fatalf("%s = %v", what, err)
	}
}

// writeErr runs fn in one write transaction and returns its error.
func writeErr(db *store.DB, fn func(q *store.Queries) error) error { return db.Update(ctx, fn) }

// want fails the test when got is not deeply equal to want.
func want(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// wantNotFound fails the test unless err is the domain's not_found.
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("%s = %v, want not_found", what, err)
	}
}

// wantCode fails the test unless err carries the domain error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if tkesj.ErrorCode(err) != code {
		t.Errorf("%s = %v, want %s", what, err, code)
	}
}

// users creates plain users with the given ids.
func users(t *testing.T, db *store.DB, ids ...string) {
	t.Helper()
	for _, id := range ids {
		mustCreate(t, db, user(id))
	}
}

// ok is must for calls that return only an error.
func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v", what, err)
	}
}

func str(v any) string { return fmt.Sprint(v) }

// result2 is result for the methods that return two values and an error.
type result2[A, B any] struct {
	a   A
	b   B
	err error
}

func res2[A, B any](a A, b B, err error) result2[A, B] { return result2[A, B]{a, b, err} }

// must fails the test when the call failed and returns its values.
func (r result2[A, B]) must(t *testing.T, what string) (A, B) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s = %v", what, r.err)
	}
	return r.a, r.b
}

func reflectEqual(a, b any) bool { return reflect.DeepEqual(a, b) }

func isCode(err error, code string) bool { return tkesj.ErrorCode(err) == code }
