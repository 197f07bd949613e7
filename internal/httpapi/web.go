package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/tkesj/tkesj"
)

// webCSP is the web client's Content-Security-Policy: nothing inline, nothing
// from elsewhere.
const webCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// hashedAsset matches the names Vite gives bundled files: name-HASH.ext,
// the hash changing whenever the content does. Only these may be cached
// for a year without asking again.
var hashedAsset = regexp.MustCompile(`^assets/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$`)

// webFile is one file of the client with its precompressed forms (made at
// build time: file.br, file.gz), each with its own ETag.
type webFile struct {
	ctype, cache string
	enc          map[string][]byte // "" (identity), "br", "gzip"
	etag         map[string]string
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// loadWeb reads the client once: the embedded files are in memory anyway.
func loadWeb(dist fs.FS) map[string]*webFile {
	files := map[string]*webFile{}
	fs.WalkDir(dist, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".br") || strings.HasSuffix(p, ".gz") {
			return nil
		}
		b, err := fs.ReadFile(dist, p)
		if err != nil {
			return nil
		}
		f := &webFile{enc: map[string][]byte{"": b}, etag: map[string]string{"": etagOf(b)}}
		for suffix, enc := range map[string]string{".br": "br", ".gz": "gzip"} {
			if c, err := fs.ReadFile(dist, p+suffix); err == nil && len(c) < len(b) {
				f.enc[enc] = c
				f.etag[enc] = `"` + strings.Trim(f.etag[""], `"`) + "-" + enc + `"`
			}
		}
		f.ctype = mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".webmanifest":
			f.ctype = "application/manifest+json"
		case ".js", ".mjs":
			f.ctype = "text/javascript; charset=utf-8"
		case ".html":
			f.ctype = "text/html; charset=utf-8"
		}
		if f.ctype == "" {
			f.ctype = "application/octet-stream"
		}
		f.cache = "no-cache"
		if hashedAsset.MatchString(p) {
			f.cache = "public, max-age=31536000, immutable"
		}
		files[p] = f
		return nil
	})
	return files
}

// acceptsEncoding reports whether an Accept-Encoding header allows enc
// (listed, or "*", with a q above zero).
func acceptsEncoding(header, enc string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		switch name {
		case enc:
			return q > 0
		case "*":
			star = q > 0
		}
	}
	return star
}

// handleWeb serves the web client: files as they are, and index.html for any
// other path so the client's own routes work on reload; a missing asset is a
// 404, not the index page. Each file goes out brotli- or gzip-compressed when
// the build made that form and the browser accepts it (Vary: Accept-Encoding).
// Hashed assets are cached for a year (immutable); everything else, index.html
// and the service worker first of all, is revalidated by ETag on every use.
func (s *server) handleWeb(dist fs.FS) http.Handler {
	files := loadWeb(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, r, s.log, errorf(tkesj.EMethodNotAllowed, "method_not_allowed", "only GET and HEAD are allowed here"))
			return
		}
		w.Header().Set("Content-Security-Policy", webCSP)
		p := strings.TrimPrefix(r.URL.Path, "/")
		f, ok := files[p]
		if !ok || p == "" {
			if strings.HasPrefix(p, "assets/") {
				http.NotFound(w, r)
				return
			}
			if f, ok = files["index.html"]; !ok {
				http.NotFound(w, r)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Type", f.ctype)
		h.Set("Cache-Control", f.cache)
		h.Set("Vary", "Accept-Encoding")
		enc := ""
		for _, e := range []string{"br", "gzip"} {
			if _, ok := f.enc[e]; ok && acceptsEncoding(r.Header.Get("Accept-Encoding"), e) {
				enc = e
				break
			}
		}
		if enc != "" {
			h.Set("Content-Encoding", enc)
		}
		h.Set("ETag", f.etag[enc])
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, f.etag[enc]) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := f.enc[enc]
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
