package kernel

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj"
)

// ErrIntegrity marks stored data that failed its integrity check when it was
// opened (a changed byte in a sealed row, a row moved under another id, a
// data key that does not unwrap). Such data is neither missing nor deleted:
// capabilities show it as unreadable, never as a deleted account or message,
// and the operator learns of it from the log, the metric
// tkesj_integrity_failures_total and /readyz (issue 14 item 9).
var ErrIntegrity = errors.New("stored data failed its integrity check")

// Integrity counts integrity failures on this node since it started.
type Integrity struct {
	failures atomic.Int64
	last     atomic.Int64 // unix nanoseconds of the last failure; 0: none

	mu     sync.Mutex
	logged map[string]time.Time // what was logged when, so one damaged row read often logs once in a while
}

// IntegrityStats is what the operator sees of integrity failures.
type IntegrityStats struct {
	Failures int64     // since this node started
	Last     time.Time // zero when there were none
}

// Stats reports the failures counted so far.
func (i *Integrity) Stats() IntegrityStats {
	st := IntegrityStats{Failures: i.failures.Load()}
	if n := i.last.Load(); n != 0 {
		st.Last = time.Unix(0, n).UTC()
	}
	return st
}

// integrityLogEvery is how often one damaged item is logged again.
const integrityLogEvery = 10 * time.Minute

// IntegrityFailure records that what (an associated-data path made of opaque
// ids, such as "users/u…/profile") failed its integrity check with err, logs
// it at ERROR without any content of it, and returns the error callers hand
// on: a *tkesj.Error of kind internal and code integrity_error that wraps
// ErrIntegrity.
func (s *Core) IntegrityFailure(ctx context.Context, what string, err error) error {
	i := &s.Integrity
	i.failures.Add(1)
	now := time.Now()
	i.last.Store(now.UnixNano())
	i.mu.Lock()
	if i.logged == nil || len(i.logged) > 10_000 {
		i.logged = map[string]time.Time{} // a bound on memory; a flood is logged again
	}
	log := now.Sub(i.logged[what]) >= integrityLogEvery
	if log {
		i.logged[what] = now
	}
	i.mu.Unlock()
	if log {
		// err says which check failed (authentication, format, key unwrap);
		// it holds no plaintext, and what holds only ids.
		s.Log.ErrorContext(ctx, "integrity failure", slog.String("what", what), slog.String("err", err.Error()))
	}
	return &tkesj.Error{Kind: tkesj.EInternal, Code: "integrity_error",
		Message: "some stored data could not be read: it failed its integrity check, and the operator has been told",
		Err:     errors.Join(ErrIntegrity, err)}
}
