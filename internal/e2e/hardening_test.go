package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// Issue 14 item 11, R-SEC-5: a request body that stops arriving is cut off
// with a problem document once it has waited the body timeout, instead of
// holding the connection (and whatever the handler took) for ever.
func TestSlowBodyIsCutOff(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) { c.BodyIdleTimeout = 300 * time.Millisecond })
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second)) // bounds the test; the server must answer far sooner
	// 1 KB announced, 10 bytes sent, then nothing.
	c.Write([]byte("POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"login\":\""))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("stalled body answered %d %s, want 400 problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// Issue 14 item 11: under TLS every answer carries HSTS.
func TestHSTSUnderTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	s := startServer(t, "sqlite", func(c *app.Config) { c.TLSCert, c.TLSKey = cert, key })
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, path := range []string{"/healthz", "/api/v1/policy", "/api/v1/me"} {
		resp, err := client.Get(strings.Replace(s.URL, "http://", "https://", 1) + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=") {
			t.Errorf("GET %s over TLS: Strict-Transport-Security = %q, want a max-age", path, h)
		}
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// Issue 14 item 11: media may be cached by the browser, but every use is
// revalidated (access is checked again), so a copy never outlives revoked
// access; an unchanged picture costs a 304, not its bytes.
func TestMediaCacheDoesNotOutliveAccess(t *testing.T) {
	s := startServer(t, "sqlite")
	a := s.register(t, "Cacher")
	up := s.upload(t, a.Token, "", "p.jpg", photoWithGPS(t, 40, 30))
	want(t, up, 201, "")
	id := up.str(t, "id")
	r := s.get(t, a.Token, "/api/v1/media/"+id)
	cc := r.Header.Get("Cache-Control")
	if strings.Contains(cc, "immutable") || !strings.Contains(cc, "no-cache") {
		t.Errorf("media Cache-Control = %q, want no-cache (revalidate every use), never immutable", cc)
	}
	if et := r.Header.Get("ETag"); et == "" {
		t.Errorf("media has no ETag to revalidate with")
	} else if r := s.get(t, a.Token, "/api/v1/media/"+id, "If-None-Match", et); r.Status != 304 {
		t.Errorf("revalidating unchanged media = %d, want 304", r.Status)
	}
}

// Issue 14 item 11: NUL and other control characters are refused in
// messages; line breaks stay.
func TestMessageTextRefusesNUL(t *testing.T) {
	s := startServer(t, "sqlite")
	a, b := s.register(t, "Nul A"), s.register(t, "Nul B")
	s.befriend(t, a, b)
	conv := s.direct(t, a, b)
	for _, text := range []string{"hello\x00world", "\x00", "bell\x07"} {
		want(t, s.do(t, a.Token, "POST", "/api/v1/conversations/"+conv+"/messages",
			map[string]any{"client_id": newUsername("c"), "kind": "text", "text": text}), 422, "invalid_text")
	}
	want(t, s.do(t, a.Token, "POST", "/api/v1/conversations/"+conv+"/messages",
		map[string]any{"client_id": newUsername("c"), "kind": "text", "text": "two\nlines"}), 201, "")
}

// Issue 14 item 11: /readyz writes, as a message or an upload would, so a
// node whose disk is full (here: its media store can't be written, then its
// database refuses writes) says it is not ready instead of ok.
func TestReadyzReflectsFailingWrites(t *testing.T) {
	s := startServer(t, "sqlite")
	want(t, s.do(t, "", "GET", "/readyz", nil), 200, "")

	media := filepath.Join(s.Data, "media")
	if err := os.Rename(media, media+".away"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(media, []byte("not a directory"), 0o600) // every blob write now fails
	want(t, s.do(t, "", "GET", "/readyz", nil), 503, "not_ready")
	os.Remove(media)
	os.Rename(media+".away", media)
	want(t, s.do(t, "", "GET", "/readyz", nil), 200, "")

	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.Data, "tkesj.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, op := range []string{"INSERT", "UPDATE"} {
		if _, err := db.Exec(`CREATE TRIGGER full_` + op + ` BEFORE ` + op + ` ON throttles BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
			t.Fatal(err)
		}
	}
	want(t, s.do(t, "", "GET", "/readyz", nil), 503, "not_ready")
	if !strings.Contains(s.Log.String(), "store write") {
		t.Errorf("the log does not say that store writes fail")
	}
}

// Issue 14 item 9: a missing master.key is not quietly replaced. With keys
// sealed under the old one still in the key store, the server refuses to
// start and says what to restore; no new master.key is written.
func TestMissingMasterKeyIsNotRegenerated(t *testing.T) {
	s := startServer(t, "sqlite")
	s.register(t, "Keyed Ke")
	s.stop()
	path := filepath.Join(s.cfg.KeysDir(), "master.key")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := app.Serve(ctx, s.cfg, app.NewLogger(io.Discard, "error"), func(string) { t.Error("the server started without its master key") })
	if err == nil || !strings.Contains(err.Error(), "master.key is missing") {
		t.Errorf("Serve without master.key = %v, want a refusal naming master.key", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a new master.key was written (%v): the old keys' loss would be hidden", err)
	}
}

// Issue 14 item 4, R-SEC-5: uploads that stall after 5 KB hold nothing that
// others need: while three of them hang, a picture upload and an avatar
// change go through at once.
func TestStalledUploadsBlockNobody(t *testing.T) {
	s := startServer(t, "sqlite")
	a, b := s.register(t, "Staller St"), s.register(t, "Uploader Up")
	pic := photoWithGPS(t, 1600, 1200)
	for range 3 {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		head := "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
		fmt.Fprintf(c, "POST /api/v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: %d\r\n\r\n%s",
			a.Token, len(head)+len(pic)+8, head)
		c.Write(pic[:5<<10]) // and then nothing
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		want(t, s.upload(t, b.Token, "", "q.jpg", pic), 201, "")
		req, _ := http.NewRequest("PUT", s.URL+"/api/v1/me/avatar", bytes.NewReader(pic))
		req.Header.Set("Authorization", "Bearer "+b.Token)
		req.Header.Set("Content-Type", "image/jpeg")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("avatar change beside stalled uploads = %d, want 200", resp.StatusCode)
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("an upload and an avatar change beside three stalled uploads did not finish within 20 s")
	}
}
