package httpapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// The server hands out the build's precompressed assets by Accept-Encoding,
// with Vary, the right Content-Type, a year's immutable caching for hashed
// assets and revalidation for everything else; a missing asset is a 404 and
// any other path is the client's index page.
func TestWebAssets(t *testing.T) {
	js := []byte(strings.Repeat("console.log('tkesj');\n", 50))
	index := []byte("<html>" + strings.Repeat("app ", 100) + "</html>")
	fakeBr := []byte("BROTLI") // the server never decodes it: it passes the build's bytes on
	dist := fstest.MapFS{
		"index.html":                {Data: index},
		"index.html.gz":             {Data: gz(t, index)},
		"sw.js":                     {Data: js},
		"sw.js.br":                  {Data: fakeBr},
		"assets/app-Bx3_k9Qa.js":    {Data: js},
		"assets/app-Bx3_k9Qa.js.br": {Data: fakeBr},
		"assets/app-Bx3_k9Qa.js.gz": {Data: gz(t, js)},
		"assets/logo.svg":           {Data: []byte("<svg/>")},
		"manifest.webmanifest":      {Data: []byte(`{"name":"tkesj"}`)},
	}
	h := (&server{log: slog.New(slog.DiscardHandler)}).handleWeb(dist)
	get := func(path, accept, inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			r.Header.Set("Accept-Encoding", accept)
		}
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	const year = "public, max-age=31536000, immutable"
	for _, c := range []struct {
		name, path, accept string
		enc, ctype, cache  string
		body               []byte
	}{
		{"brotli when the browser takes it", "/assets/app-Bx3_k9Qa.js", "gzip, deflate, br, zstd", "br", "text/javascript; charset=utf-8", year, fakeBr},
		{"gzip when brotli is not accepted", "/assets/app-Bx3_k9Qa.js", "gzip", "gzip", "text/javascript; charset=utf-8", year, gz(t, js)},
		{"gzip when brotli is refused with q=0", "/assets/app-Bx3_k9Qa.js", "br;q=0, gzip;q=0.5", "gzip", "text/javascript; charset=utf-8", year, gz(t, js)},
		{"identity without Accept-Encoding", "/assets/app-Bx3_k9Qa.js", "", "", "text/javascript; charset=utf-8", year, js},
		{"identity when every encoding is refused", "/assets/app-Bx3_k9Qa.js", "*;q=0", "", "text/javascript; charset=utf-8", year, js},
		{"an unhashed asset is revalidated", "/assets/logo.svg", "br", "", "image/svg+xml", "no-cache", []byte("<svg/>")},
		{"the service worker is revalidated", "/sw.js", "br", "br", "text/javascript; charset=utf-8", "no-cache", fakeBr},
		{"the manifest has its type", "/manifest.webmanifest", "", "", "application/manifest+json", "no-cache", []byte(`{"name":"tkesj"}`)},
		{"index.html is revalidated", "/", "gzip", "gzip", "text/html; charset=utf-8", "no-cache", gz(t, index)},
		{"a client route is the index page", "/chats/c1", "br", "", "text/html; charset=utf-8", "no-cache", index},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := get(c.path, c.accept, "")
			hd := w.Header()
			if w.Code != 200 || hd.Get("Content-Encoding") != c.enc || hd.Get("Content-Type") != c.ctype || hd.Get("Cache-Control") != c.cache {
				t.Fatalf("GET %s (Accept-Encoding %q) = %d encoding %q type %q cache %q; want 200 %q %q %q",
					c.path, c.accept, w.Code, hd.Get("Content-Encoding"), hd.Get("Content-Type"), hd.Get("Cache-Control"), c.enc, c.ctype, c.cache)
			}
			if hd.Get("Vary") != "Accept-Encoding" || hd.Get("Content-Security-Policy") == "" {
				t.Errorf("Vary %q, CSP %q", hd.Get("Vary"), hd.Get("Content-Security-Policy"))
			}
			if !bytes.Equal(w.Body.Bytes(), c.body) {
				t.Errorf("body = %q, want %q", w.Body.Bytes(), c.body)
			}
			if again := get(c.path, c.accept, hd.Get("ETag")); again.Code != 304 {
				t.Errorf("revalidation with ETag %s = %d, want 304", hd.Get("ETag"), again.Code)
			}
		})
	}
	t.Run("each encoding has its own ETag", func(t *testing.T) {
		br, plain := get("/assets/app-Bx3_k9Qa.js", "br", ""), get("/assets/app-Bx3_k9Qa.js", "", "")
		if br.Header().Get("ETag") == plain.Header().Get("ETag") {
			t.Errorf("br and identity share ETag %s", br.Header().Get("ETag"))
		}
		if got := get("/assets/app-Bx3_k9Qa.js", "", br.Header().Get("ETag")); got.Code != 200 {
			t.Errorf("identity request with the br ETag = %d, want 200", got.Code)
		}
	})
	t.Run("the gzip form decodes to the file", func(t *testing.T) {
		r, err := gzip.NewReader(get("/assets/app-Bx3_k9Qa.js", "gzip", "").Body)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(r); !bytes.Equal(b, js) {
			t.Error("gzip body does not decode to the asset")
		}
	})
	if missing := get("/assets/gone-AAAAAAAA.js", "br", ""); missing.Code != 404 {
		t.Errorf("missing asset = %d, want 404", missing.Code)
	}
}
