package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/store/sqlite"
	"github.com/tkesj/tkesj/internal/store/storetest"
)

// R-DEL-3: a backup taken before someone destroyed their account never brings
// them back. Their key is gone from the key store (which backups never
// carry), and the restore finds their rows by that absence and purges them.
func TestRestoreNeverResurrects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		gone, stay := s.register(t, "Gone Person"), s.register(t, "Stayer")
		s.befriend(t, gone, stay)
		conv := s.direct(t, gone, stay)
		s.send(t, gone, conv, "words of the departed")
		s.send(t, stay, conv, "reply that stays")
		want(t, s.do(t, gone.Token, "PUT", "/api/v1/me/permissions/album", map[string]any{"granted": true}), 200, "")
		up := s.upload(t, gone.Token, "album", "p.jpg", photoWithGPS(t, 64, 64))
		want(t, up, 201, "")
		mediaID := up.str(t, "id")
		want(t, s.do(t, gone.Token, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"client_id": "pic", "kind": "image", "media_id": mediaID}), 201, "")

		// Back up while the server runs.
		backupDir := t.TempDir()
		var dump []byte
		if b == "sqlite" {
			if err := app.Backup(context.Background(), s.cfg, backupDir); err != nil {
				t.Fatalf("Backup = %v", err)
			}
			for _, f := range []string{"keys.db", "master.key"} {
				if _, err := os.Stat(filepath.Join(backupDir, f)); err == nil {
					t.Errorf("the backup holds %s", f)
				}
			}
		} else {
			dump = pgDump(t, s.cfg.DB)
		}

		want(t, s.do(t, gone.Token, "DELETE", "/api/v1/me", map[string]any{"password": gone.Password}), 204, "")
		s.stop()

		if b == "sqlite" {
			st, err := app.Restore(context.Background(), s.cfg, backupDir, app.NewLogger(&bytes.Buffer{}, "error"))
			if err != nil {
				t.Fatalf("Restore = %v", err)
			}
			if st.RestoredGhost != 1 {
				t.Errorf("restore found %d destroyed accounts in the backup, want 1", st.RestoredGhost)
			}
		} else {
			pgRestore(t, s.cfg.DB, dump)
			if _, err := app.Purge(context.Background(), s.cfg, app.NewLogger(&bytes.Buffer{}, "error")); err != nil {
				t.Fatalf("Purge = %v", err)
			}
		}
		s = runServer(t, s.cfg, s.SMS)

		// The person is gone for everyone, as before the restore.
		want(t, s.do(t, "", "POST", "/api/v1/sessions", map[string]any{"login": gone.Username, "password": gone.Password, "device": map[string]string{"id": "x"}}), 401, "invalid_credentials")
		want(t, s.do(t, gone.Token, "GET", "/api/v1/me", nil), 401, "unauthenticated")
		msgs := s.messages(t, stay, conv, 0)
		if len(msgs) != 3 || msgs[0]["sender_deleted"] != true || msgs[2]["sender_deleted"] != true || msgs[1]["text"] != "reply that stays" {
			t.Errorf("after restore the chat shows %v", msgs)
		}
		want(t, s.get(t, stay.Token, "/api/v1/media/"+mediaID), 404, "not_found")
		if cs := s.do(t, stay.Token, "GET", "/api/v1/contacts", nil).JSON(t)["contacts"].([]any); len(cs) != 0 {
			t.Errorf("the destroyed person is a contact again: %v", cs)
		}
		// And nothing of them is left in the rows or the media directory.
		db := openStoreForCheck(t, b, s)
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM users WHERE id = '` + gone.ID + `'`).Scan(&n)
		if n != 0 {
			t.Errorf("the users table still holds the destroyed person")
		}
		db.QueryRow(`SELECT COUNT(*) FROM messages WHERE sender_id = '` + gone.ID + `' AND (body IS NOT NULL OR media_id IS NOT NULL)`).Scan(&n)
		if n != 0 {
			t.Errorf("%d of the destroyed person's message bodies survive the restore", n)
		}
		db.QueryRow(`SELECT COUNT(*) FROM media WHERE owner_id = '` + gone.ID + `'`).Scan(&n)
		if n != 0 {
			t.Errorf("%d of their media records survive", n)
		}
		filepath.WalkDir(filepath.Join(s.Data, "media"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), mediaID) {
				t.Errorf("their media file %s survives", d.Name())
			}
			return nil
		})
	})
}

func openStoreForCheck(t *testing.T, b backend, s *server) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if b == "sqlite" {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(s.Data, "tkesj.db")+"?mode=ro")
	} else {
		db, err = sql.Open("pgx", s.cfg.DB)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if b == "sqlite" {
		attachSearch(t, db, s.Data)
	}
	return db
}

// attachSearch attaches SQLite's search index file (issue 17) to db as the
// server's readers do, so queries name the index tables as on PostgreSQL. db
// keeps one connection, which holds the attachment.
func attachSearch(t *testing.T, db *sql.DB, data string) {
	t.Helper()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if _, err := db.Exec(`ATTACH DATABASE ? AS search`, "file:"+sqlite.SearchPath(filepath.Join(data, "tkesj.db"))+"?mode=ro"); err != nil {
		t.Fatalf("attach the search index: %v", err)
	}
}

func schemaOf(t *testing.T, dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// pgDump dumps the data schema only, as the README tells operators to.
func pgDump(t *testing.T, dbURL string) []byte {
	t.Helper()
	base := storetest.PostgresURL(t)
	out, err := exec.Command("pg_dump", "--dbname", base, "--schema", schemaOf(t, dbURL), "--no-owner").Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return out
}

// pgRestore replaces the data schema with the dump.
func pgRestore(t *testing.T, dbURL string, dump []byte) {
	t.Helper()
	base := storetest.PostgresURL(t)
	schema := schemaOf(t, dbURL)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("psql", "--dbname", base, "--quiet", "--set", "ON_ERROR_STOP=1")
	cmd.Stdin = bytes.NewReader(dump)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql restore: %v\n%s", err, out)
	}
}

// R-DEL-2: after destruction the background purge empties the person's
// message bodies and deletes their media files, in bounded batches.
func TestPurgeAfterDestroy(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) { c.Service.SendsPerMinute = 100000 })
	gone, stay := s.register(t, "Purged"), s.register(t, "Stayer")
	s.befriend(t, gone, stay)
	conv := s.direct(t, gone, stay)
	for i := 0; i < 1200; i++ {
		if i%400 == 0 {
			s.send(t, stay, conv, "from the stayer")
		}
		s.send(t, gone, conv, "bulk words")
	}
	want(t, s.do(t, gone.Token, "DELETE", "/api/v1/me", map[string]any{"password": gone.Password}), 204, "")
	db := openStoreForCheck(t, "sqlite", s)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM messages WHERE sender_id = ? AND body IS NOT NULL`, gone.ID).Scan(&n)
		var queued int
		db.QueryRow(`SELECT COUNT(*) FROM purges`).Scan(&queued)
		if n == 0 && queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s, %d bodies remain and %d purges are queued", n, queued)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if msgs := s.messages(t, stay, conv, 0); len(msgs) != 100 || msgs[1]["sender_deleted"] != true {
		t.Errorf("the stayer's first page after the purge = %d messages", len(msgs))
	}
}

// R-DEL-2: destroying an account also deletes its export archives on disk.
func TestDestroyDeletesExportArchives(t *testing.T) {
	s := startServer(t, "sqlite")
	p := s.register(t, "Exporter")
	r := s.do(t, p.Token, "POST", "/api/v1/me/exports", nil)
	want(t, r, 202, "")
	id := r.str(t, "id")
	deadline := time.Now().Add(20 * time.Second)
	for s.do(t, p.Token, "GET", "/api/v1/me/exports/"+id, nil).str(t, "status") != "ready" {
		if time.Now().After(deadline) {
			t.Fatal("export never became ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	archives := func() (n int) {
		filepath.WalkDir(filepath.Join(s.Data, "media"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "x") {
				n++
			}
			return nil
		})
		return n
	}
	if archives() != 1 {
		t.Fatalf("found %d archive blobs before destruction, want 1", archives())
	}
	want(t, s.do(t, p.Token, "DELETE", "/api/v1/me", map[string]any{"password": p.Password}), 204, "")
	if n := archives(); n != 0 {
		t.Errorf("%d export archives survive the account", n)
	}
}

// R-DEL-2, R-DEL-3: after destruction and the purge, no file the server keeps
// (database, WAL, key store, media) holds any byte of the person's phone,
// nickname, username, messages or media, and their media files are gone.
func TestNothingOfADestroyedPersonOnDisk(t *testing.T) {
	s := startServer(t, "sqlite")
	p, q := s.register(t, "Nickname Qx7 Destroyed"), s.register(t, "Witness")
	s.befriend(t, p, q)
	conv := s.direct(t, p, q)
	s.send(t, p, conv, "message text zq9 that must vanish")
	doc := append([]byte("%PDF-1.4\n"), []byte(strings.Repeat("MEDIA-MARKER-77 ", 2000))...)
	up := s.upload(t, p.Token, "", "doc.pdf", doc)
	want(t, up, 201, "")
	want(t, s.do(t, p.Token, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"client_id": "doc", "kind": "file", "media_id": up.str(t, "id")}), 201, "")
	before := s.get(t, q.Token, "/api/v1/media/"+up.str(t, "id"))
	want(t, before, 200, "")
	want(t, s.do(t, p.Token, "DELETE", "/api/v1/me", map[string]any{"password": p.Password}), 204, "")
	db := openStoreForCheck(t, "sqlite", s)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM purges`).Scan(&n)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the purge did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop()
	secrets := map[string][]byte{
		"phone": []byte(p.Phone), "local phone": []byte(p.Phone[3:]), "nickname": []byte("Nickname Qx7 Destroyed"),
		"username": []byte(p.Username), "message text": []byte("text zq9 that must vanish"), "media bytes": []byte("MEDIA-MARKER-77"),
		"media as served": before.Body[len(before.Body)/2 : len(before.Body)/2+64],
	}
	files := 0
	filepath.WalkDir(s.Data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		files++
		b, _ := os.ReadFile(path)
		for what, secret := range secrets {
			if bytes.Contains(b, secret) {
				t.Errorf("%s holds the destroyed person's %s", strings.TrimPrefix(path, s.Data), what)
			}
		}
		if strings.HasPrefix(d.Name(), up.str(t, "id")) {
			t.Errorf("their media file %s is still on disk", d.Name())
		}
		return nil
	})
	if files < 3 {
		t.Fatalf("scanned only %d files; the test would prove nothing", files)
	}
}
