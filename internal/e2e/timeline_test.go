package e2e

import (
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// storeDB opens the server's store beside it: the SQLite file, or the
// PostgreSQL schema. Tests read the timeline tables through it to show the
// stored references are exact, not only the pages read through them.
func (s *server) storeDB(t testing.TB) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+filepath.Join(s.Data, "tkesj.db")+"?_pragma=busy_timeout(10000)"
	if s.cfg.DB != "" {
		driver, dsn = "pgx", s.cfg.DB
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sqlFor numbers the ? placeholders for PostgreSQL.
func (s *server) sqlFor(q string) string {
	if s.cfg.DB == "" {
		return q
	}
	for n := 1; strings.Contains(q, "?"); n++ {
		q = strings.Replace(q, "?", "$"+strconv.Itoa(n), 1)
	}
	return q
}

// settled waits (bounded) until no fan-out or backfill is pending.
func (s *server) settled(t testing.TB, db *sql.DB) {
	t.Helper()
	s.waitFor(t, db, "every fan-out to finish", `SELECT COUNT(*) FROM moment_fanout`, 0)
}

// waitFor polls a count until it is want, for at most 30 s.
func (s *server) waitFor(t testing.TB, db *sql.DB, what, query string, want int, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow(s.sqlFor(query), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: count %d, want %d", what, n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// refs lists the posts stored in a viewer's timeline, newest first.
func (s *server) refs(t testing.TB, db *sql.DB, viewer string) []string {
	t.Helper()
	rows, err := db.Query(s.sqlFor(`SELECT moment_id FROM moment_timeline WHERE viewer_id = ? ORDER BY created_at DESC, moment_id DESC`), viewer)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		out = append(out, id)
	}
	return out
}

// timeline lists the post ids of p's first timeline page.
func (s *server) timeline(t testing.TB, p person) []string {
	t.Helper()
	r := s.do(t, p.Token, "GET", "/api/v1/moments/timeline?limit=50", nil)
	want(t, r, 200, "")
	out := []string{}
	for _, m := range r.JSON(t)["moments"].([]any) {
		out = append(out, m.(map[string]any)["id"].(string))
	}
	return out
}

func (s *server) post(t testing.TB, p person, text string, vis ...any) string {
	t.Helper()
	body := map[string]any{"text": text}
	if len(vis) > 0 {
		body["visibility"] = map[string]any{"kind": vis[0], "users": vis[1:]}
	}
	r := s.do(t, p.Token, "POST", "/api/v1/moments", body)
	want(t, r, 201, "")
	return r.str(t, "id")
}

// R-MOM-2, R-MOM-4 (issue 19): every change that alters who may see what
// keeps both the pages and the stored timelines exact: the page is right at
// once (pending fan-outs are read too), and once the worker is done the
// stored references are exactly the posts each person may see.
func TestTimelineFollowsEveryChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		db := s.storeDB(t)
		a, f, g := s.register(t, "Author"), s.register(t, "Friend"), s.register(t, "Guest")
		s.befriend(t, a, f)
		s.befriend(t, a, g)
		p1 := s.post(t, a, "first")
		// Each check: the page at once, then the stored references once settled.
		check := func(what string, p person, wantPage, wantRefs []string) {
			t.Helper()
			if got := s.timeline(t, p); !slices.Equal(got, wantPage) {
				t.Errorf("%s: %s's timeline = %v, want %v", what, p.Username, got, wantPage)
			}
			s.settled(t, db)
			if got := s.refs(t, db, p.ID); !slices.Equal(got, wantRefs) {
				t.Errorf("%s: %s's stored timeline = %v, want %v", what, p.Username, got, wantRefs)
			}
		}
		check("a new post", f, []string{p1}, []string{p1})
		check("a new post", a, []string{p1}, []string{p1})

		t.Run("R-MOM-2: a narrowed visibility leaves the timelines at once, a widened one comes back", func(t *testing.T) {
			r := s.do(t, a.Token, "PATCH", "/api/v1/moments/"+p1, map[string]any{"visibility": map[string]any{"kind": "only", "users": []string{g.ID}}})
			want(t, r, 200, "")
			if v := r.JSON(t)["visibility"].(map[string]any); v["kind"] != "only" {
				t.Errorf("the edited post shows visibility %v", v)
			}
			check("only the guest", f, []string{}, []string{})
			check("only the guest", g, []string{p1}, []string{p1})
			want(t, s.do(t, f.Token, "GET", "/api/v1/moments/"+p1, nil), 404, "not_found")
			want(t, s.do(t, a.Token, "PATCH", "/api/v1/moments/"+p1, map[string]any{"visibility": map[string]any{"kind": "friends"}}), 200, "")
			check("friends again", f, []string{p1}, []string{p1})
			want(t, s.do(t, f.Token, "PATCH", "/api/v1/moments/"+p1, map[string]any{"visibility": map[string]any{"kind": "private"}}), 404, "not_found")
			want(t, s.do(t, a.Token, "PATCH", "/api/v1/moments/"+p1, map[string]any{"visibility": map[string]any{"kind": "public"}}), 422, "invalid_visibility")
			want(t, s.do(t, a.Token, "PATCH", "/api/v1/moments/"+p1, map[string]any{}), 422, "invalid_visibility")
		})

		t.Run("R-MOM-2: hiding one's posts from someone and muting someone take the posts out, undoing brings them back", func(t *testing.T) {
			want(t, s.do(t, a.Token, "PUT", "/api/v1/me/moments-hidden-from/"+f.ID, nil), 204, "")
			check("hidden from the friend", f, []string{}, []string{})
			want(t, s.do(t, a.Token, "DELETE", "/api/v1/me/moments-hidden-from/"+f.ID, nil), 204, "")
			check("no longer hidden", f, []string{p1}, []string{p1})
			want(t, s.do(t, f.Token, "PUT", "/api/v1/me/moments-muted/"+a.ID, nil), 204, "")
			check("muted by the friend", f, []string{}, []string{})
			want(t, s.do(t, f.Token, "DELETE", "/api/v1/me/moments-muted/"+a.ID, nil), 204, "")
			check("no longer muted", f, []string{p1}, []string{p1})
		})

		t.Run("R-DEL-1: a deleted post leaves every timeline", func(t *testing.T) {
			p2 := s.post(t, a, "to delete")
			check("a second post", g, []string{p2, p1}, []string{p2, p1})
			want(t, s.do(t, a.Token, "DELETE", "/api/v1/moments/"+p2, nil), 204, "")
			check("after deleting it", g, []string{p1}, []string{p1})
			check("after deleting it", a, []string{p1}, []string{p1})
		})

		var f1 string
		t.Run("R-MSG-1: unfriending takes each one's posts out of the other's timeline", func(t *testing.T) {
			f1 = s.post(t, f, "the friend's")
			check("the friend posts", a, []string{f1, p1}, []string{f1, p1})
			want(t, s.do(t, f.Token, "DELETE", "/api/v1/contacts/"+a.ID, nil), 204, "")
			check("unfriended", f, []string{f1}, []string{f1})
			check("unfriended", a, []string{p1}, []string{p1})
		})

		t.Run("R-MOM-2: a new friend sees older posts only as the author's range allows", func(t *testing.T) {
			// p1 is five days old; a lets friends see three days.
			old := time.Now().Add(-5 * 24 * time.Hour).UnixMicro()
			for _, q := range []string{`UPDATE moments SET created_at = ? WHERE id = ?`, `UPDATE moment_timeline SET created_at = ? WHERE moment_id = ?`} {
				if _, err := db.Exec(s.sqlFor(q), old, p1); err != nil {
					t.Fatal(err)
				}
			}
			want(t, s.do(t, a.Token, "PATCH", "/api/v1/me/settings", map[string]any{"moments_range": "3d"}), 200, "")
			p3 := s.post(t, a, "recent")
			s.befriend(t, a, f)
			check("befriended again, range 3d", f, []string{p3, f1}, []string{p3, f1, p1})
			check("befriended again", a, []string{p3, f1, p1}, []string{p3, f1, p1})
			want(t, s.do(t, a.Token, "PATCH", "/api/v1/me/settings", map[string]any{"moments_range": "all"}), 200, "")
			check("range all", f, []string{p3, f1, p1}, []string{p3, f1, p1})
		})

		t.Run("R-MSG-1: blocking takes each one's posts out of the other's timeline", func(t *testing.T) {
			g1 := s.post(t, g, "the guest's")
			s.settled(t, db)
			if got := s.refs(t, db, a.ID); !slices.Contains(got, g1) {
				t.Fatalf("a's stored timeline %v lacks the guest's post", got)
			}
			want(t, s.do(t, g.Token, "PUT", "/api/v1/blocks/"+a.ID, nil), 204, "")
			check("blocked", g, []string{g1}, []string{g1})
			if got := s.refs(t, db, a.ID); slices.Contains(got, g1) {
				t.Errorf("after the block, a's stored timeline %v still holds the guest's post", got)
			}
		})

		t.Run("R-DEL-2: a destroyed account's posts leave every timeline, and its own timeline goes", func(t *testing.T) {
			want(t, s.do(t, a.Token, "DELETE", "/api/v1/me", map[string]any{"password": a.Password}), 204, "")
			if got := s.timeline(t, f); !slices.Equal(got, []string{f1}) {
				t.Errorf("at once, the friend's timeline = %v, want [%s]", got, f1)
			}
			// The references go with the purge the destruction wakes, in batches.
			s.waitFor(t, db, "the purge of a's timeline references", `SELECT COUNT(*) FROM moment_timeline WHERE viewer_id = ? OR author_id = ?`, 0, a.ID, a.ID)
			check("the author purged", f, []string{f1}, []string{f1})
		})
	})
}

// R-MSG-4 for Moments (issue 19): a post acknowledged but not yet fanned
// out when the process stops still reaches every friend's stored timeline
// after a restart; meanwhile the friends' pages already show it.
func TestFanOutResumesAfterRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b, func(c *app.Config) { c.Service.FanOutPaused = true })
		db := s.storeDB(t)
		a, f := s.register(t, "Author"), s.register(t, "Friend")
		s.befriend(t, a, f)
		id := s.post(t, a, "acknowledged, not fanned out")
		if got := s.timeline(t, f); !slices.Equal(got, []string{id}) {
			t.Errorf("before any fan-out the friend's page = %v, want [%s]", got, id)
		}
		if got := s.refs(t, db, f.ID); len(got) != 0 {
			t.Fatalf("with the worker paused the friend's stored timeline = %v", got)
		}
		s.cfg.Service.FanOutPaused = false
		s = s.restart(t)
		s.settled(t, db)
		if got := s.refs(t, db, f.ID); !slices.Equal(got, []string{id}) {
			t.Errorf("after the restart the friend's stored timeline = %v, want [%s]", got, id)
		}
	})
}

// R-MSG-1 (issue 19): nobody has more friends than the cap; going past it
// is a 409 friend_limit_reached that says whose circle is full.
func TestFriendCap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b, func(c *app.Config) { c.Service.FriendCap = 2 })
		a, b1, b2, c, d := s.register(t, "A"), s.register(t, "B1"), s.register(t, "B2"), s.register(t, "C"), s.register(t, "D")
		s.befriend(t, a, b1)
		s.befriend(t, b2, a)
		r := s.do(t, a.Token, "POST", "/api/v1/friend-requests", map[string]any{"to": c.ID, "greeting": "hi"})
		want(t, r, 409, "friend_limit_reached")
		if d := r.JSON(t)["detail"].(string); !strings.Contains(d, "you have 2 friends") {
			t.Errorf("detail = %q", d)
		}
		req := s.do(t, d.Token, "POST", "/api/v1/friend-requests", map[string]any{"to": a.ID, "greeting": "hi"})
		want(t, req, 201, "")
		r = s.do(t, a.Token, "POST", "/api/v1/friend-requests/"+req.str(t, "id")+"/accept", nil)
		want(t, r, 409, "friend_limit_reached")
		// A request sent while there was room fails when the sender's circle
		// filled up meanwhile.
		r = s.do(t, d.Token, "POST", "/api/v1/friend-requests", map[string]any{"to": b1.ID, "greeting": "hi"})
		want(t, r, 201, "")
		s.befriend(t, d, c)
		s.befriend(t, d, s.register(t, "E"))
		r = s.do(t, b1.Token, "POST", "/api/v1/friend-requests/"+r.str(t, "id")+"/accept", nil)
		want(t, r, 409, "friend_limit_reached")
		if d := r.JSON(t)["detail"].(string); !strings.Contains(d, "this person has the most friends allowed") {
			t.Errorf("detail = %q", d)
		}
		if n := len(s.do(t, a.Token, "GET", "/api/v1/contacts", nil).JSON(t)["contacts"].([]any)); n != 2 {
			t.Errorf("a has %d friends, the cap is 2", n)
		}
	})
}
