package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// CheckpointEvery is how often the checkpointer copies the WAL into the
// database file.
const CheckpointEvery = time.Second

// checkpointer copies committed WAL frames into the database file from a
// connection of its own. SQLite's automatic checkpoint would run inside the
// commit that crosses 1,000 pages, so one group commit in a thousand pages
// waited for copying ~4 MB and an fsync of the database file; with it off
// (wal_autocheckpoint(0) on the writer) no commit pays for it. A PASSIVE
// checkpoint never blocks the writer or the readers: it copies what no
// reader still needs and leaves the rest for the next round.
type checkpointer struct {
	db     *sql.DB
	stop   chan struct{}
	wg     sync.WaitGroup
	rounds atomic.Uint64 // checkpoints that copied at least one frame
	once   sync.Once
}

func startCheckpointer(dsn string, every time.Duration) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, stop: make(chan struct{})}
	c.wg.Add(1)
	go c.loop(every)
	return c, nil
}

func (c *checkpointer) loop(every time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if _, err := c.checkpoint(context.Background()); err != nil {
				slog.Warn("sqlite checkpoint failed", "err", err)
			}
		}
	}
}

// checkpoint runs one PASSIVE checkpoint and reports the frames it copied.
func (c *checkpointer) checkpoint(ctx context.Context) (int, error) {
	var busy, logFrames, copied int
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied); err != nil {
		return 0, err
	}
	if copied > 0 {
		c.rounds.Add(1)
	}
	return copied, nil
}

// close stops the loop and closes its connection; the writer's own close
// checkpoints what is left.
func (c *checkpointer) close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		c.wg.Wait()
		err = c.db.Close()
	})
	return err
}
