package e2e

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/metrics"
	"github.com/tkesj/tkesj/internal/service"
)

// R-OPS-3: `tkesj admin cease` stops registrations and collection at once and
// tells everyone; with no notice left it deletes every piece of personal
// information: no user rows, no sealed data, no data keys, no media files;
// only the tables the README lists stay.
func TestCessationOfService(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b, fastNotices)
		officer := s.staff(t, service.RolePrivacyOfficer)
		p, q := s.register(t, "Leaving"), s.register(t, "Friend")
		s.befriend(t, p, q)
		conv := s.direct(t, p, q)
		s.send(t, p, conv, "a message that must not survive")
		up := s.upload(t, p.Token, "", "p.jpg", photoWithGPS(t, 32, 32))
		want(t, up, 201, "")
		want(t, s.do(t, p.Token, "POST", "/api/v1/moments", map[string]any{"text": "a post", "media_ids": []string{up.str(t, "id")}}), 201, "")
		s.setAvatar(t, q, photoWithGPS(t, 40, 40))
		want(t, s.do(t, p.Token, "POST", "/api/v1/me/tickets", map[string]any{"kind": "question", "subject": "hello", "body": "a question"}), 201, "")
		hook := newRecipientServer(t, "cease-secret-0123456789", 0)
		rc := s.do(t, officer.Token, "POST", "/api/v1/admin/recipients", map[string]any{"kind": "affiliate", "name": "Sister app",
			"purpose": "signing in to the sister app with a tkesj account", "categories": []string{"username"}, "region": "CN", "deletion_url": hook.URL + "/delete", "secret": hook.secret})
		want(t, rc, 201, "")
		want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/"+rc.str(t, "id"), map[string]any{"granted": true}), 200, "")
		if err := share(t, s, p.ID, rc.str(t, "id"), "signing in to the sister app with a tkesj account", []string{"username"}, p.Username); err != nil {
			t.Fatal(err)
		}
		sock := s.ws(t, p.Token)
		sock.next("ready")

		// Notice first: everything stops collecting, everyone is told.
		withApp(t, s, func(a *app.App) {
			c, err := a.Service.Cease(context.Background(), 30, "")
			if err != nil || !c.ErasedAt.IsZero() {
				t.Fatalf("Cease(30) = %+v, %v; want a notice period", c, err)
			}
		})
		if f := sock.next("announcement"); f["kind"] != "cessation" {
			t.Errorf("announcement frame = %v, want kind cessation", f)
		}
		as := entries(t, s.do(t, q.Token, "GET", "/api/v1/announcements", nil), "announcements")
		if len(as) != 1 || as[0]["kind"] != "cessation" {
			t.Errorf("inbox = %v, want the cessation notice", as)
		}
		phone := newPhone()
		code := s.code(t, phone, "register")
		waitFor(t, "registrations to stop", func() bool {
			r := s.do(t, "", "POST", "/api/v1/accounts", map[string]any{"phone": phone, "code": code, "username": newUsername("late"),
				"password": goodPassword, "nickname": "Late", "policy_version": "1", "device": map[string]string{"id": "d"}})
			return r.Status == 403 && r.str(t, "code") == "service_ceasing"
		})
		want(t, s.upload(t, p.Token, "", "p.jpg", photoWithGPS(t, 8, 8)), 403, "service_ceasing")
		want(t, s.do(t, p.Token, "POST", "/api/v1/moments", map[string]any{"text": "more"}), 403, "service_ceasing")
		want(t, s.do(t, p.Token, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"client_id": "late", "kind": "text", "text": "x"}), 403, "service_ceasing")
		// Rights stay open.
		want(t, s.do(t, p.Token, "GET", "/api/v1/me", nil), 200, "")
		want(t, s.do(t, p.Token, "POST", "/api/v1/me/tickets", map[string]any{"kind": "complaint", "subject": "closing", "body": "why?"}), 201, "")

		// The end: with no notice left, everything personal goes at once.
		withApp(t, s, func(a *app.App) {
			c, err := a.Service.Cease(context.Background(), 0, "")
			if err != nil || c.ErasedAt.IsZero() {
				t.Fatalf("Cease(0) = %+v, %v; want erased", c, err)
			}
		})
		want(t, s.do(t, p.Token, "GET", "/api/v1/me", nil), 401, "")
		waitFor(t, "the recipient's deletion notice", func() bool { _, n, _, _ := hook.got(); return len(n) == 1 })
		if _, n, _, _ := hook.got(); n[0]["reason"] != "service_ceased" {
			t.Errorf("notice = %v, want reason service_ceased", n[0])
		}

		db := openStoreForCheck(t, b, s)
		tablesQ := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
		if b == "postgres" {
			tablesQ = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
		}
		rows, err := db.Query(tablesQ)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			tables = append(tables, n)
		}
		rows.Close()
		if len(tables) < 20 {
			t.Fatalf("found only %d tables", len(tables))
		}
		for _, tb := range tables {
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM ` + tb).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if _, kept := service.ErasureKept[tb]; !kept && n != 0 {
				t.Errorf("table %s has %d rows after the erasure", tb, n)
			}
		}
		var leftover int
		db.QueryRow(`SELECT COUNT(*) FROM sharing_records WHERE user_id <> ''`).Scan(&leftover)
		waitFor(t, "acknowledged records to forget the person", func() bool {
			db.QueryRow(`SELECT COUNT(*) FROM sharing_records WHERE user_id <> ''`).Scan(&leftover)
			return leftover == 0
		})

		ks, err := app.OpenKeyStore(context.Background(), s.cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer ks.Close()
		var keys []string
		ks.EachKey(context.Background(), func(id string, _ []byte) error { keys = append(keys, fmt.Sprintf("%q", id)); return nil })
		if len(keys) != 1 || keys[0] != `"\x00index"` {
			t.Errorf("key store holds %v after the erasure, want only the index key", keys)
		}
		filepath.WalkDir(filepath.Join(s.Data, "media"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("media file left: %s", path)
			}
			return nil
		})
	})
}

// R-SHR-5: statistics are aggregates with small counts suppressed (k = 10 by
// default) and no identifier of anyone.
func TestDeidentifiedStatistics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		admin := s.staff(t, service.RoleAdmin)
		support := s.staff(t, service.RoleSupport)
		var people []person
		for i := 0; i < 10; i++ {
			people = append(people, s.register(t, fmt.Sprintf("Counted %d", i)))
		}
		s.befriend(t, people[0], people[1])
		conv := s.direct(t, people[0], people[1])
		for i := 0; i < 11; i++ {
			s.send(t, people[i%2], conv, fmt.Sprintf("message %d", i))
		}
		for i := 0; i < 3; i++ {
			want(t, s.do(t, people[i].Token, "POST", "/api/v1/moments", map[string]any{"text": "a post"}), 201, "")
		}
		want(t, s.do(t, people[0].Token, "GET", "/api/v1/admin/stats", nil), 403, "forbidden")
		want(t, s.do(t, support.Token, "GET", "/api/v1/admin/stats", nil), 403, "forbidden")
		r := s.do(t, admin.Token, "GET", "/api/v1/admin/stats?days=7", nil)
		want(t, r, 200, "")
		st := r.JSON(t)
		today := time.Now().UTC().Format(time.DateOnly)
		cell := func(key, field, value string) any {
			for _, c := range st[key].([]any) {
				if c.(map[string]any)[field] == value {
					return c.(map[string]any)["count"]
				}
			}
			return nil
		}
		if v := cell("active_users_per_day", "day", today); v != float64(12) {
			t.Errorf("active users today = %v, want 12 (10 people and 2 staff)", v)
		}
		if v := cell("messages_per_kind", "kind", "text"); v != float64(11) {
			t.Errorf("text messages = %v, want 11", v)
		}
		if v := cell("posts_per_day", "day", today); v != "<10" {
			t.Errorf("posts today = %v, want suppressed as <10", v)
		}
		var operator service.Statistics
		withApp(t, s, func(a *app.App) {
			var err error
			if operator, err = a.Service.StatisticsAsOperator(context.Background(), 7); err != nil {
				t.Fatal(err)
			}
		})
		if len(operator.PostsPerDay) != 1 || !operator.PostsPerDay[0].Suppressed || operator.PostsPerDay[0].Count != 0 {
			t.Errorf("operator's posts per day = %+v, want one suppressed cell without its count", operator.PostsPerDay)
		}
		for _, p := range append(people, admin, support) {
			for _, v := range []string{p.ID, p.Phone, strings.TrimPrefix(p.Phone, "+"), p.Username, p.Device} {
				if strings.Contains(string(r.Body), v) || strings.Contains(fmt.Sprint(operator), v) {
					t.Fatalf("statistics hold an identifier %q: %s", v, r.Body)
				}
			}
		}
		if strings.Contains(string(r.Body), "Counted") {
			t.Errorf("statistics hold a nickname: %s", r.Body)
		}
	})
}

// R-OPS-2: staff announce to everyone: the inbox has it and connected
// clients get it at once.
func TestAnnouncements(t *testing.T) {
	s := startServer(t, "sqlite")
	admin, support := s.staff(t, service.RoleAdmin), s.staff(t, service.RoleSupport)
	p := s.register(t, "Reader")
	sock := s.ws(t, p.Token)
	sock.next("ready")
	body := map[string]any{"title": "Maintenance", "body": "tkesj is down for maintenance on Sunday 02:00 to 03:00 UTC"}
	want(t, s.do(t, support.Token, "POST", "/api/v1/admin/announcements", body), 403, "forbidden")
	want(t, s.do(t, admin.Token, "POST", "/api/v1/admin/announcements", map[string]any{"title": "", "body": "x"}), 422, "invalid_title")
	r := s.do(t, admin.Token, "POST", "/api/v1/admin/announcements", body)
	want(t, r, 201, "")
	f := sock.next("announcement")
	if f["id"] != r.str(t, "id") || f["title"] != "Maintenance" || f["kind"] != "general" {
		t.Errorf("frame = %v, want the announcement", f)
	}
	as := entries(t, s.do(t, p.Token, "GET", "/api/v1/announcements", nil), "announcements")
	if len(as) != 1 || as[0]["body"] != body["body"] {
		t.Errorf("inbox = %v, want the announcement", as)
	}
}

// R-OPS-1: people open questions and complaints in the app, support answers
// with a purpose that the person sees in their access log, the conversation
// is the person's alone, and a closed ticket goes after the retention period.
func TestSupportTickets(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) { c.Service.TicketRetention = time.Hour })
	support, moderator := s.staff(t, service.RoleSupport), s.staff(t, service.RoleModerator)
	p, other := s.register(t, "Asker"), s.register(t, "Other")
	want(t, s.do(t, p.Token, "POST", "/api/v1/me/tickets", map[string]any{"kind": "praise", "subject": "x", "body": "y"}), 422, "invalid_kind")
	r := s.do(t, p.Token, "POST", "/api/v1/me/tickets", map[string]any{"kind": "complaint", "subject": "My data", "body": "Why was my post hidden?"})
	want(t, r, 201, "")
	id := r.str(t, "id")
	want(t, s.do(t, p.Token, "POST", "/api/v1/me/tickets/"+id+"/messages", map[string]any{"body": "It was about my cat."}), 201, "")
	want(t, s.do(t, other.Token, "GET", "/api/v1/me/tickets/"+id, nil), 404, "not_found")
	want(t, s.do(t, other.Token, "POST", "/api/v1/me/tickets/"+id+"/messages", map[string]any{"body": "hi"}), 404, "not_found")

	want(t, s.do(t, moderator.Token, "GET", "/api/v1/admin/tickets", nil), 403, "forbidden")
	queue := s.do(t, support.Token, "GET", "/api/v1/admin/tickets?status=open", nil)
	want(t, queue, 200, "")
	if strings.Contains(string(queue.Body), "My data") {
		t.Errorf("the queue shows a ticket's subject: %s", queue.Body)
	}
	want(t, s.do(t, support.Token, "GET", "/api/v1/admin/tickets/"+id, nil), 422, "purpose_required")
	read := s.do(t, support.Token, "GET", "/api/v1/admin/tickets/"+id+"?purpose="+strings.ReplaceAll(goodPurpose, " ", "+"), nil)
	want(t, read, 200, "")
	if ms := read.JSON(t)["messages"].([]any); len(ms) != 2 {
		t.Errorf("support sees %d messages, want 2", len(ms))
	}
	sock := s.ws(t, p.Token)
	sock.next("ready")
	want(t, s.do(t, support.Token, "POST", "/api/v1/admin/tickets/"+id+"/messages", map[string]any{"body": "It is visible again.", "close": true}), 201, "")
	if f := sock.next("ticket"); f["ticket_id"] != id || f["status"] != "closed" {
		t.Errorf("frame = %v, want the closed ticket", f)
	}
	mine := s.do(t, p.Token, "GET", "/api/v1/me/tickets/"+id, nil)
	want(t, mine, 200, "")
	ms := mine.JSON(t)["messages"].([]any)
	last := ms[len(ms)-1].(map[string]any)
	if mine.str(t, "status") != "closed" || last["author"] != "staff" || last["body"] != "It is visible again." || !strings.HasPrefix(last["staff_ref"].(string), "staff-") {
		t.Errorf("ticket = %s, want closed with support's answer under a pseudonym", mine.Body)
	}
	found := false
	for _, e := range entries(t, s.do(t, p.Token, "GET", "/api/v1/me/access-log", nil), "entries") {
		found = found || (e["action"] == "read:ticket" && e["purpose"] == goodPurpose)
	}
	if !found {
		t.Error("the access log does not show support's read of the ticket with its purpose")
	}
	// Retention: an hour after closing, the ticket is gone.
	withApp(t, s, func(a *app.App) {
		a.Service.SetClock(func() time.Time { return time.Now().UTC().Add(2 * time.Hour) })
		if n, err := a.Service.RunTicketRetention(context.Background()); err != nil || n != 1 {
			t.Fatalf("RunTicketRetention = %d, %v; want 1 ticket deleted", n, err)
		}
	})
	want(t, s.do(t, p.Token, "GET", "/api/v1/me/tickets/"+id, nil), 404, "not_found")
}

// R-SHR-4: a public link to one post exists only by its author's choice,
// shows the post and its pictures and nothing else personal, and ends when
// revoked or when the post is deleted.
func TestShareLinks(t *testing.T) {
	s := startServer(t, "sqlite")
	author, friend := s.register(t, "Secret Author"), s.register(t, "Friend")
	s.befriend(t, author, friend)
	up := s.upload(t, author.Token, "", "p.jpg", photoWithGPS(t, 32, 32))
	want(t, up, 201, "")
	post := s.do(t, author.Token, "POST", "/api/v1/moments", map[string]any{"text": "sunset <script>alert(1)</script>", "media_ids": []string{up.str(t, "id")},
		"visibility": map[string]any{"kind": "private"}})
	want(t, post, 201, "")
	id := post.str(t, "id")
	want(t, s.do(t, "", "GET", "/s/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", nil), 404, "not_found")
	want(t, s.do(t, friend.Token, "POST", "/api/v1/moments/"+id+"/share-link", nil), 404, "not_found")
	r := s.do(t, author.Token, "POST", "/api/v1/moments/"+id+"/share-link", nil)
	want(t, r, 201, "")
	url := r.str(t, "url")
	if !strings.HasPrefix(url, "/s/") {
		t.Fatalf("url = %q", url)
	}
	page := s.do(t, "", "GET", url, nil)
	want(t, page, 200, "")
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("page headers = %v, want HTML under a CSP without scripts", page.Header)
	}
	html := string(page.Body)
	if !strings.Contains(html, "sunset &lt;script&gt;") || strings.Contains(html, "<script") {
		t.Errorf("page does not escape the text: %s", html)
	}
	if !strings.Contains(html, url+"/media/0") {
		t.Errorf("page lacks its picture: %s", html)
	}
	for _, v := range []string{author.ID, author.Username, author.Phone, "Secret Author", up.str(t, "id"), "avatar"} {
		if strings.Contains(html, v) {
			t.Errorf("page shows %q: %s", v, html)
		}
	}
	img := s.do(t, "", "GET", url+"/media/0", nil)
	want(t, img, 200, "")
	if img.Header.Get("Content-Type") != "image/jpeg" || len(img.Body) < 100 {
		t.Errorf("picture = %v, %d bytes", img.Header, len(img.Body))
	}
	want(t, s.do(t, "", "GET", url+"/media/1", nil), 404, "not_found")
	want(t, s.do(t, author.Token, "DELETE", "/api/v1/moments/"+id+"/share-link", nil), 204, "")
	want(t, s.do(t, "", "GET", url, nil), 404, "not_found")
	want(t, s.do(t, "", "GET", url+"/media/0", nil), 404, "not_found")
	// A new link dies with the post.
	url = s.do(t, author.Token, "POST", "/api/v1/moments/"+id+"/share-link", nil).str(t, "url")
	want(t, s.do(t, "", "GET", url, nil), 200, "")
	want(t, s.do(t, author.Token, "DELETE", "/api/v1/moments/"+id, nil), 204, "")
	want(t, s.do(t, "", "GET", url, nil), 404, "not_found")
}

// Operations: /readyz checks the store and the bus; /metrics is on its own
// address, labels requests by route pattern (never the URL), and reports
// connections, the writer, pushes and retention.
func TestMetricsAndReadiness(t *testing.T) {
	addr := freePort(t)
	s := startServer(t, "sqlite", func(c *app.Config) { c.MetricsAddr = addr })
	p := s.register(t, "Measured")
	want(t, s.do(t, "", "GET", "/readyz", nil), 200, "")
	want(t, s.do(t, p.Token, "GET", "/api/v1/users/"+p.ID+"/avatar", nil), 404, "")
	sock := s.ws(t, p.Token)
	sock.next("ready")
	// A message: one group commit, timed (issue 17).
	q := s.registerFriendOf(t, p)
	s.send(t, p, s.direct(t, p, q), "measured")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, w := range []string{
		`tkesj_http_requests_total{route="GET /readyz",code="2xx"} 1`,
		`tkesj_http_requests_total{route="GET /api/v1/users/{id}/avatar",code="4xx"} 1`,
		`tkesj_http_request_duration_seconds_bucket{route="POST /api/v1/accounts",le="+Inf"} 2`, // p and q
		"tkesj_ws_connections 1", "# TYPE tkesj_writer_batches_total counter", "tkesj_pushes_sent_total 0",
		`tkesj_retention_deleted_total{category="tickets"} 0`,
		"tkesj_sfu_calls 0", "tkesj_turn_allocations 0", "# TYPE tkesj_call_signals_total counter",
		"# TYPE tkesj_writer_commit_seconds histogram", `tkesj_writer_commit_seconds_bucket{le="1"} `,
	} {
		if !strings.Contains(text, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if n, _ := metrics.Sample(strings.Split(text, "\n"), `tkesj_writer_commit_seconds_count`); n < 1 {
		t.Errorf("tkesj_writer_commit_seconds_count is %v after a message was sent", n)
	}
	if strings.Contains(text, p.ID) {
		t.Error("/metrics holds a user id: labels must be route patterns")
	}
	if r := s.do(t, "", "GET", "/metrics", nil); strings.Contains(string(r.Body), "tkesj_http_requests_total") {
		t.Error("the API address serves metrics too")
	}
}

// R-OPS-3: README.md lists what the erasure keeps, and the code keeps only that.
func TestReadmeListsWhatCessationKeeps(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "## Cessation of service\n")
	if !ok {
		t.Fatal(`README.md has no "## Cessation of service" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	for table, why := range service.ErasureKept {
		if !strings.Contains(sec, "| `"+table+"` | "+why+" |") {
			t.Errorf("README.md Cessation of service lacks %s: %q", table, why)
		}
	}
	if n := strings.Count(sec, "\n| `"); n != len(service.ErasureKept) {
		t.Errorf("README.md lists %d kept tables, the code keeps %d", n, len(service.ErasureKept))
	}
}
