package e2e

import (
	"archive/zip"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// waitExport polls an export until it is no longer pending (bounded).
func (s *server) waitExport(t *testing.T, token, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := s.do(t, token, "GET", "/api/v1/me/exports/"+id, nil)
		want(t, r, 200, "")
		m := r.JSON(t)
		if m["status"] != "pending" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("export %s still pending after 90s", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exportArchive is a downloaded export, opened.
type exportArchive struct {
	zip      *zip.Reader
	manifest struct {
		Format    string         `json:"format"`
		UserID    string         `json:"user_id"`
		CreatedAt string         `json:"created_at"`
		Counts    map[string]int `json:"counts"`
		Files     []struct {
			Path           string `json:"path"`
			Kind           string `json:"kind"`
			Count          int    `json:"count"`
			ConversationID string `json:"conversation_id"`
			MediaID        string `json:"media_id"`
		} `json:"files"`
		Missing []struct {
			Path    string `json:"path"`
			MediaID string `json:"media_id"`
			Reason  string `json:"reason"`
		} `json:"missing"`
	}
}

func (x *exportArchive) file(t *testing.T, name string) []byte {
	t.Helper()
	f, err := x.zip.Open(name)
	if err != nil {
		t.Fatalf("the archive has no %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s from the archive: %v", name, err)
	}
	return b
}

func (x *exportArchive) json(t *testing.T, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(x.file(t, name), &m); err != nil {
		t.Fatalf("%s is not a JSON object: %v", name, err)
	}
	return m
}

func (x *exportArchive) has(name string) bool {
	_, err := fs.Stat(x.zip, name)
	return err == nil
}

// exportNow asks for an export, waits until it is ready and downloads it.
func (s *server) exportNow(t *testing.T, p person) (string, *exportArchive, response) {
	t.Helper()
	r := s.do(t, p.Token, "POST", "/api/v1/me/exports", nil)
	want(t, r, 202, "")
	id := r.str(t, "id")
	if id == "" || r.str(t, "status") != "pending" {
		t.Fatalf("POST /me/exports = %s, want an id and status pending", r.Body)
	}
	st := s.waitExport(t, p.Token, id)
	if st["status"] != "ready" {
		t.Fatalf("export = %v, want ready", st)
	}
	url, _ := st["download_url"].(string)
	if url != "/api/v1/me/exports/"+id+"/download" {
		t.Fatalf("download_url = %q", url)
	}
	dl := s.get(t, p.Token, url)
	want(t, dl, 200, "")
	zr, err := zip.NewReader(bytes.NewReader(dl.Body), int64(len(dl.Body)))
	if err != nil {
		t.Fatalf("the download is not a zip: %v", err)
	}
	x := &exportArchive{zip: zr}
	if err := json.Unmarshal(x.file(t, "manifest.json"), &x.manifest); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if sz, _ := st["size"].(float64); int(sz) != len(dl.Body) {
		t.Errorf("status size = %v, download has %d bytes", st["size"], len(dl.Body))
	}
	return id, x, dl
}

// blobFile finds a media blob's file under <data>/media.
func blobFile(t *testing.T, s *server, key string) string {
	t.Helper()
	var found string
	filepath.WalkDir(filepath.Join(s.Data, "media"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == key {
			found = path
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no blob file for %s under %s", key, s.Data)
	}
	return found
}

// openDB opens the server's database directly (the server must be stopped).
func openDB(t *testing.T, s *server, b backend) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", filepath.Join(s.Data, "tkesj.db")
	if b == "postgres" {
		driver, dsn = "pgx", s.cfg.DB
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (s *server) setAvatar(t *testing.T, p person, picture []byte) {
	t.Helper()
	req, _ := http.NewRequest("PUT", s.URL+"/api/v1/me/avatar", bytes.NewReader(picture))
	req.Header.Set("Authorization", "Bearer "+p.Token)
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT /me/avatar = %d", resp.StatusCode)
	}
}

// allMessages pages through a conversation as the API shows it.
func (s *server) allMessages(t *testing.T, p person, conv string) []map[string]any {
	t.Helper()
	var out []map[string]any
	after := 0
	for {
		page := s.messages(t, p, conv, after)
		out = append(out, page...)
		if len(page) < 100 {
			return out
		}
		after = int(page[len(page)-1]["seq"].(float64))
	}
}

// R-RGT-1: a person downloads everything tkesj holds about them as one zip —
// a readable index, a manifest whose counts match the API, JSON for each
// section, every message they can still see and their own media files — at
// most once a day unless the last one failed, and only with their session.
func TestExport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c, d, eve := s.register(t, "Ann"), s.register(t, "Cai"), s.register(t, "Dai"), s.register(t, "Eve")
		s.befriend(t, a, c)
		s.befriend(t, a, d)
		want(t, s.do(t, a.Token, "PATCH", "/api/v1/contacts/"+c.ID, map[string]any{"remark": "Cai from work"}), 204, "")

		direct := s.direct(t, a, c)
		s.send(t, a, direct, "hello from ann")
		s.send(t, c, direct, "hi from cai")
		gone := s.send(t, c, direct, "deleted for ann only")
		want(t, s.do(t, a.Token, "DELETE", fmt.Sprintf("/api/v1/conversations/%s/messages/%v", direct, gone["seq"]), nil), 204, "")

		g := s.do(t, a.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "name": "Trip <planning>", "members": []string{c.ID, d.ID}})
		want(t, g, 201, "")
		group := g.str(t, "id")
		s.send(t, a, group, "group hello from ann")
		s.send(t, d, group, "group reply from dai")

		// A permission granted and withdrawn; a camera photo sent in chat; an avatar.
		want(t, s.do(t, a.Token, "PUT", "/api/v1/me/permissions/camera", map[string]any{"granted": true}), 200, "")
		up := s.upload(t, a.Token, "camera", "photo.jpg", photoWithGPS(t, 320, 240))
		want(t, up, 201, "")
		photo := up.str(t, "id")
		want(t, s.do(t, a.Token, "PUT", "/api/v1/me/permissions/camera", map[string]any{"granted": false}), 200, "")
		want(t, s.do(t, a.Token, "POST", "/api/v1/conversations/"+direct+"/messages", map[string]any{"client_id": "export-photo", "kind": "image", "media_id": photo}), 201, "")
		s.setAvatar(t, a, photoWithGPS(t, 200, 200))
		avatarURL, _ := s.do(t, a.Token, "GET", "/api/v1/me", nil).JSON(t)["avatar_url"].(string)

		id, x, dl := s.exportNow(t, a)

		t.Run("the download is an attachment named for its date", func(t *testing.T) {
			if ct := dl.Header.Get("Content-Type"); ct != "application/zip" {
				t.Errorf("Content-Type = %q, want application/zip", ct)
			}
			cd := dl.Header.Get("Content-Disposition")
			if !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "tkesj-export-"+time.Now().UTC().Format("2006-01-02")+".zip") {
				t.Errorf("Content-Disposition = %q", cd)
			}
			if cc := dl.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})

		t.Run("index.html is a readable page without scripts that links every section", func(t *testing.T) {
			page := string(x.file(t, "index.html"))
			for _, part := range []string{"<html", "manifest.json", "contacts.json", "consents.json", "messages/" + direct + ".json", "media/" + photo + ".jpg"} {
				if !strings.Contains(page, part) {
					t.Errorf("index.html does not mention %q", part)
				}
			}
			if strings.Contains(strings.ToLower(page), "<script") {
				t.Error("index.html holds a script")
			}
			if strings.Contains(page, "Trip <planning>") {
				t.Error("index.html does not escape a group name")
			}
		})

		t.Run("the manifest's counts are what the API shows", func(t *testing.T) {
			m := x.manifest
			if m.Format != "tkesj-export/1" || m.UserID != a.ID || m.CreatedAt == "" {
				t.Errorf("manifest = %+v", m)
			}
			contacts := s.do(t, a.Token, "GET", "/api/v1/contacts", nil).JSON(t)["contacts"].([]any)
			consents := s.do(t, a.Token, "GET", "/api/v1/me/consents", nil).JSON(t)["consents"].([]any)
			convs := s.do(t, a.Token, "GET", "/api/v1/conversations", nil).JSON(t)["conversations"].([]any)
			msgs := len(s.allMessages(t, a, direct)) + len(s.allMessages(t, a, group))
			for k, want := range map[string]int{"contacts": len(contacts), "consents": len(consents), "conversations": len(convs), "messages": msgs, "media": 2, "missing": 0} {
				if got := m.Counts[k]; got != want {
					t.Errorf("counts[%s] = %d, want %d", k, got, want)
				}
			}
			if msgs != 5 || len(consents) != 3 {
				t.Errorf("the API shows %d messages and %d consents; the test expects 5 and 3", msgs, len(consents))
			}
			if len(m.Missing) != 0 {
				t.Errorf("missing = %+v, want none", m.Missing)
			}
			for _, f := range m.Files {
				if !x.has(f.Path) {
					t.Errorf("the manifest lists %s, which is not in the archive", f.Path)
				}
				if f.Kind == "messages" {
					if got := len(s.allMessages(t, a, f.ConversationID)); got != f.Count {
						t.Errorf("%s count = %d, the API shows %d", f.Path, f.Count, got)
					}
				}
			}
		})

		t.Run("every message Ann can see is there, oldest first; the one she deleted is not", func(t *testing.T) {
			for conv, texts := range map[string][]string{direct: {"hello from ann", "hi from cai"}, group: {"group hello from ann", "group reply from dai"}} {
				raw := x.file(t, "messages/"+conv+".json")
				var doc struct {
					ConversationID string           `json:"conversation_id"`
					Messages       []map[string]any `json:"messages"`
				}
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Fatalf("messages/%s.json: %v", conv, err)
				}
				if doc.ConversationID != conv {
					t.Errorf("conversation_id = %q, want %q", doc.ConversationID, conv)
				}
				last := 0.0
				for _, m := range doc.Messages {
					if seq := m["seq"].(float64); seq <= last {
						t.Errorf("messages/%s.json is not ascending at seq %v", conv, seq)
					} else {
						last = seq
					}
				}
				for _, text := range texts {
					if !bytes.Contains(raw, []byte(text)) {
						t.Errorf("messages/%s.json lacks %q", conv, text)
					}
				}
			}
			for _, f := range x.zip.File {
				if strings.HasSuffix(f.Name, ".json") || strings.HasSuffix(f.Name, ".html") {
					if bytes.Contains(x.file(t, f.Name), []byte("deleted for ann only")) {
						t.Errorf("%s holds a message Ann deleted for herself", f.Name)
					}
				}
			}
			if !bytes.Contains(x.file(t, "messages/"+direct+".json"), []byte(`"media_path":"media/`+photo+`.jpg"`)) {
				t.Error("the photo message does not point at its file in the archive")
			}
		})

		t.Run("sections: profile, devices with IPs, contacts with remarks, groups with members, consents, settings, requests", func(t *testing.T) {
			prof := x.json(t, "profile.json")
			if prof["id"] != a.ID || prof["phone"] != a.Phone || prof["username"] != a.Username {
				t.Errorf("profile.json = %v", prof)
			}
			devs := x.json(t, "devices.json")["devices"].([]any)
			if len(devs) != 1 || devs[0].(map[string]any)["login_ip"] != "127.0.0.1" || devs[0].(map[string]any)["created_at"] == "" {
				t.Errorf("devices.json = %v", devs)
			}
			if !bytes.Contains(x.file(t, "contacts.json"), []byte("Cai from work")) {
				t.Error("contacts.json lacks the remark")
			}
			convs := x.json(t, "conversations.json")["conversations"].([]any)
			for _, cv := range convs {
				cm := cv.(map[string]any)
				if cm["id"] == group {
					if cm["name"] != "Trip <planning>" || len(cm["members"].([]any)) != 3 {
						t.Errorf("group = %v", cm)
					}
					for _, mm := range cm["members"].([]any) {
						if _, leak := mm.(map[string]any)["phone"]; leak {
							t.Error("a member's phone is in the export")
						}
					}
				}
			}
			cons := x.json(t, "consents.json")["consents"].([]any)
			var perms []string
			for _, c := range cons {
				cm := c.(map[string]any)
				if cm["kind"] == "permission" {
					perms = append(perms, fmt.Sprintf("%v=%v", cm["subject"], cm["granted"]))
				}
			}
			if strings.Join(perms, ",") != "camera=true,camera=false" {
				t.Errorf("permission ledger = %v, want the grant then the withdrawal", perms)
			}
			set := x.json(t, "settings.json")
			if _, ok := set["notifications"].(map[string]any)["push_enabled"]; !ok {
				t.Errorf("settings.json = %v", set)
			}
			if reqs := x.json(t, "friend_requests.json")["friend_requests"].([]any); len(reqs) != 2 {
				t.Errorf("friend_requests.json has %d requests, want 2", len(reqs))
			}
		})

		t.Run("media files are byte for byte what the API serves", func(t *testing.T) {
			got := x.file(t, "media/"+photo+".jpg")
			api := s.get(t, a.Token, "/api/v1/media/"+photo)
			want(t, api, 200, "")
			if !bytes.Equal(got, api.Body) {
				t.Errorf("media/%s.jpg has %d bytes, the API serves %d different ones", photo, len(got), len(api.Body))
			}
			avatar := x.json(t, "profile.json")["avatar"].(map[string]any)
			apiAvatar := s.get(t, a.Token, avatarURL)
			want(t, apiAvatar, 200, "")
			if !bytes.Equal(x.file(t, avatar["path"].(string)), apiAvatar.Body) {
				t.Error("the avatar in the archive differs from the one the API serves")
			}
		})

		t.Run("a second export within 24 hours is rate limited", func(t *testing.T) {
			r := s.do(t, a.Token, "POST", "/api/v1/me/exports", nil)
			want(t, r, 429, "rate_limited")
			if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 23*3600 || ra > 24*3600 {
				t.Errorf("Retry-After = %q, want about a day", r.Header.Get("Retry-After"))
			}
		})

		t.Run("another person's export is not found", func(t *testing.T) {
			want(t, s.do(t, eve.Token, "GET", "/api/v1/me/exports/"+id, nil), 404, "not_found")
			want(t, s.get(t, eve.Token, "/api/v1/me/exports/"+id+"/download"), 404, "not_found")
			want(t, s.get(t, "", "/api/v1/me/exports/"+id+"/download"), 401, "unauthenticated")
			list := s.do(t, eve.Token, "GET", "/api/v1/me/exports", nil).JSON(t)["exports"].([]any)
			if len(list) != 0 {
				t.Errorf("Eve's list = %v, want empty", list)
			}
			mine := s.do(t, a.Token, "GET", "/api/v1/me/exports", nil).JSON(t)["exports"].([]any)
			if len(mine) != 1 || mine[0].(map[string]any)["id"] != id {
				t.Errorf("Ann's list = %v", mine)
			}
		})

		t.Run("a byte range of the archive is served exactly", func(t *testing.T) {
			r := s.get(t, a.Token, "/api/v1/me/exports/"+id+"/download", "Range", "bytes=100-199")
			want(t, r, 206, "")
			if !bytes.Equal(r.Body, dl.Body[100:200]) {
				t.Error("the range differs from the whole download")
			}
		})

		// The server dies while an export is pending, the first export
		// expires, and a media blob vanishes from disk while another rots.
		os.Remove(blobFile(t, s, photo))
		avatarID := strings.TrimSuffix(strings.TrimPrefix(x.json(t, "profile.json")["avatar"].(map[string]any)["path"].(string), "media/"), ".jpg")
		rot := blobFile(t, s, avatarID)
		blob, err := os.ReadFile(rot)
		if err != nil {
			t.Fatal(err)
		}
		blob[len(blob)-20] ^= 0xff
		if err := os.WriteFile(rot, blob, 0o600); err != nil {
			t.Fatal(err)
		}
		s.stop()
		db := openDB(t, s, b)
		now := time.Now().UnixMicro()
		for _, q := range []string{
			fmt.Sprintf(`UPDATE exports SET expires_at = %d WHERE id = '%s'`, now-1, id),
			fmt.Sprintf(`INSERT INTO exports (id, user_id, status, created_at, finished_at, expires_at, heartbeat_at, size, error_code, purged)
				VALUES ('xstale', '%s', 'pending', %d, 0, 0, %d, 0, '', FALSE)`, a.ID, now, now-int64(10*time.Minute/time.Microsecond)),
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		s = s.restart(t)

		t.Run("a job left pending by a stopped server is failed at start, and may be retried", func(t *testing.T) {
			st := s.do(t, a.Token, "GET", "/api/v1/me/exports/xstale", nil).JSON(t)
			if st["status"] != "failed" || st["error_code"] != "interrupted" || st["download_url"] != nil {
				t.Errorf("stale job = %v, want failed (interrupted) without a link", st)
			}
			want(t, s.get(t, a.Token, "/api/v1/me/exports/xstale/download"), 409, "export_failed")
		})

		t.Run("an expired export's download is gone", func(t *testing.T) {
			want(t, s.get(t, a.Token, "/api/v1/me/exports/"+id+"/download"), 410, "export_expired")
			if st := s.do(t, a.Token, "GET", "/api/v1/me/exports/"+id, nil).JSON(t); st["expired"] != true {
				t.Errorf("expired export = %v", st)
			}
		})

		t.Run("media that cannot be read is listed as missing and the export still succeeds", func(t *testing.T) {
			_, x2, _ := s.exportNow(t, a)
			reasons := map[string]string{}
			for _, m := range x2.manifest.Missing {
				reasons[m.MediaID] = m.Reason
			}
			if reasons[photo] != "blob_missing" || reasons[avatarID] != "unreadable" || len(reasons) != 2 {
				t.Errorf("missing = %+v, want the photo (blob_missing) and the avatar (unreadable)", x2.manifest.Missing)
			}
			if x2.has("media/"+photo+".jpg") || x2.has("media/"+avatarID+".jpg") {
				t.Error("an unreadable file is in the archive anyway")
			}
			if x2.manifest.Counts["media"] != 0 || x2.manifest.Counts["missing"] != 2 || x2.manifest.Counts["messages"] != x.manifest.Counts["messages"] {
				t.Errorf("counts = %v", x2.manifest.Counts)
			}
			if !bytes.Contains(x2.file(t, "index.html"), []byte("blob_missing")) {
				t.Error("index.html does not say what is missing")
			}
		})
	})
}

// R-RGT-1: how long an export of about 2,000 messages takes (logged, not
// asserted: the machine is shared).
func TestExportTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 2,000 messages")
	}
	forEachBackend(t, func(t *testing.T, b backend) { exportTiming(t, b) })
}

func exportTiming(t *testing.T, b backend) {
	s := startServer(t, b, func(c *app.Config) { c.Service.SendsPerMinute = 100_000 })
	a, c := s.register(t, "Ann"), s.register(t, "Cai")
	s.befriend(t, a, c)
	conv := s.direct(t, a, c)
	const total = 2000
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		p := a
		if w%2 == 1 {
			p = c
		}
		wg.Add(1)
		go func(w int, p person) {
			defer wg.Done()
			for i := w; i < total; i += 8 {
				body := fmt.Sprintf(`{"client_id":"t-%d","kind":"text","text":"timing message %d with some words in it"}`, i, i)
				req, _ := http.NewRequest("POST", s.URL+"/api/v1/conversations/"+conv+"/messages", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+p.Token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 {
					errs <- fmt.Errorf("send %d: status %d", i, resp.StatusCode)
					return
				}
			}
		}(w, p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("sent %d messages in %s", total, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	_, x, dl := s.exportNow(t, a)
	if got := x.manifest.Counts["messages"]; got != total {
		t.Errorf("counts.messages = %d, want %d", got, total)
	}
	t.Logf("R-RGT-1 timing (%s): export of %d messages ready and downloaded in %s (%d bytes zipped)", b, total, time.Since(start).Round(time.Millisecond), len(dl.Body))
	for _, line := range strings.Split(s.Log.String(), "\n") {
		if strings.Contains(line, `"export ready"`) {
			t.Logf("server: %s", line)
		}
	}
}

// R-RGT-1: the export holds the person's Moments with their likes and
// comments, and the comments they wrote on friends' posts.
func TestExportIncludesMoments(t *testing.T) {
	s := startServer(t, "sqlite")
	p, f := s.register(t, "Poster"), s.register(t, "Friend")
	s.befriend(t, p, f)
	up := s.upload(t, p.Token, "", "p.jpg", photoWithGPS(t, 32, 32))
	mine := s.do(t, p.Token, "POST", "/api/v1/moments", map[string]any{"text": "my trip", "media_ids": []string{up.str(t, "id")}}).str(t, "id")
	want(t, s.do(t, f.Token, "POST", "/api/v1/moments/"+mine+"/likes", nil), 200, "")
	want(t, s.do(t, f.Token, "POST", "/api/v1/moments/"+mine+"/comments", map[string]any{"text": "lovely"}), 201, "")
	theirs := s.do(t, f.Token, "POST", "/api/v1/moments", map[string]any{"text": "their post"}).str(t, "id")
	want(t, s.do(t, p.Token, "POST", "/api/v1/moments/"+theirs+"/comments", map[string]any{"text": "my comment on theirs"}), 201, "")
	_, x, _ := s.exportNow(t, p)
	m := x.json(t, "moments.json")
	posts := m["moments"].([]any)
	if len(posts) != 1 || x.manifest.Counts["moments"] != 1 {
		t.Fatalf("moments.json holds %d posts (manifest %d), want 1", len(posts), x.manifest.Counts["moments"])
	}
	post := posts[0].(map[string]any)
	if post["text"] != "my trip" || len(post["likes"].([]any)) != 1 || post["comments"].([]any)[0].(map[string]any)["text"] != "lovely" {
		t.Errorf("exported post = %v", post)
	}
	if path := post["media"].([]any)[0].(map[string]any)["path"].(string); !x.has(path) {
		t.Errorf("the post's picture %q is not in the archive", path)
	}
	written := m["comments_written"].([]any)
	if len(written) != 1 || written[0].(map[string]any)["text"] != "my comment on theirs" {
		t.Errorf("comments written = %v", written)
	}
	// The timeline is the person's data as references only (issue 19): ids
	// and times of what they may see, newest first, no one else's text.
	tl := m["timeline"].([]any)
	if len(tl) != 2 || x.manifest.Counts["timeline_entries"] != 2 {
		t.Fatalf("timeline = %v (manifest %d), want 2 references", tl, x.manifest.Counts["timeline_entries"])
	}
	if e := tl[0].(map[string]any); e["moment_id"] != theirs || e["author_id"] != f.ID || e["text"] != nil {
		t.Errorf("newest timeline reference = %v, want %s by %s without text", e, theirs, f.ID)
	}
}

// R-RGT-1, R-OPS-1, R-SHR-2: support tickets and the sharing report are part of the export.
func TestExportIncludesTicketsAndSharing(t *testing.T) {
	s := startServer(t, "sqlite")
	p := s.register(t, "Asker")
	want(t, s.do(t, p.Token, "POST", "/api/v1/me/tickets", map[string]any{"kind": "question", "subject": "How do I export?", "body": "Where is the button?"}), 201, "")
	_, x, _ := s.exportNow(t, p)
	tickets := x.json(t, "tickets.json")
	if fmt.Sprint(tickets) == "map[]" || x.manifest.Counts["tickets"] != 1 {
		t.Errorf("tickets.json = %v, manifest count %d", tickets, x.manifest.Counts["tickets"])
	}
	if !x.has("sharing.json") {
		t.Error("the export has no sharing.json")
	}
}
