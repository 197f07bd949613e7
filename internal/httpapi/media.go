package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
)

// maxUploadBody caps a whole upload request (the largest per-kind cap plus
// room for the multipart framing); the service enforces each kind's own cap.
const maxUploadBody = 100<<20 + 1<<20

func mediaJSON(m service.Media) wire.Media {
	return wire.Media{ID: m.ID, Kind: m.Kind, Mime: m.Mime, Size: m.Size, URL: "/api/v1/media/" + m.ID, Meta: m.Meta}
}

// handleUpload streams a multipart upload: field "source" (album or camera,
// before the file), then field "file".
func (s *server) handleUpload() http.Handler {
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		r.Body = http.MaxBytesReader(w, r.Body, maxUploadBody)
		m, err := uploadForm(r, func(source string, body io.Reader) (service.Media, error) {
			return s.svc.Upload(r.Context(), authOf(r), service.MediaUpload{Source: source, Body: body})
		})
		if err != nil {
			return nil, err
		}
		return mediaJSON(m), nil
	})
}

// uploadForm walks a multipart upload: field "source" (before the file),
// then field "file", whose body it hands to upload. Every error is a
// *tkesj.Error a client can act on (FuzzUploadForm holds it to that).
func uploadForm(r *http.Request, upload func(source string, body io.Reader) (service.Media, error)) (service.Media, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return service.Media{}, errorf(tkesj.EMalformed, "malformed_upload", "send multipart/form-data with a field named file")
	}
	source := ""
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return service.Media{}, errorf(tkesj.EInvalid, "missing_file", "the form has no field named file")
		}
		if err != nil {
			return service.Media{}, uploadError(err)
		}
		switch part.FormName() {
		case "source":
			b, _ := io.ReadAll(io.LimitReader(part, 32))
			source = strings.TrimSpace(string(b))
		case "file":
			m, err := upload(source, part)
			if err != nil {
				return service.Media{}, uploadError(err)
			}
			return m, nil
		default:
			io.Copy(io.Discard, io.LimitReader(part, 1<<20))
		}
	}
}

func uploadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(tkesj.ETooLarge, "media_too_large", "the upload is larger than any file may be (100 MB)")
	}
	var te *tkesj.Error
	if errors.As(err, &te) {
		return err
	}
	return errorf(tkesj.EMalformed, "malformed_upload", "the upload could not be read as multipart/form-data")
}

// serveMedia writes a file, honouring a single byte range.
func (s *server) serveMedia(w http.ResponseWriter, r *http.Request, f service.MediaFile, immutable bool) {
	h := w.Header()
	h.Set("Content-Type", f.Mime)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if f.Kind == "file" {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.ID}))
	}
	if immutable {
		// A media id's bytes never change, but who may see them does: a
		// browser revalidates every use (a 304 once access is checked again),
		// so a cached copy does not outlive revoked access (issue 14 item 11).
		h.Set("Cache-Control", "private, no-cache")
		h.Set("ETag", `"`+f.ID+`"`)
		if r.Header.Get("If-None-Match") == `"`+f.ID+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else {
		h.Set("Cache-Control", "private, no-cache")
	}
	skip, limit, status := int64(0), int64(-1), http.StatusOK
	if f.Size >= 0 {
		h.Set("Accept-Ranges", "bytes")
		if rg := r.Header.Get("Range"); rg != "" {
			start, end, ok := parseRange(rg, f.Size)
			if !ok {
				h.Set("Content-Range", fmt.Sprintf("bytes */%d", f.Size))
				writeError(w, r, s.log, errorf(tkesj.EUnsatisfiable, "range_not_satisfiable", "the range is outside the file"))
				return
			}
			skip, limit, status = start, end-start+1, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, f.Size))
			h.Set("Content-Length", strconv.FormatInt(limit, 10))
		} else {
			h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
		}
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.WriteHeader(status)
	if err := f.Write(w, skip, limit); err != nil {
		// Headers are gone; the client sees a cut-off body. Log by id only.
		s.log.WarnContext(r.Context(), "media write", "media", f.ID, "err", err.Error())
	}
}

// parseRange reads one "bytes=a-b", "bytes=a-" or "bytes=-n" range.
func parseRange(h string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") || size == 0 {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, false
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(0, size-n), size - 1, true
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end := size - 1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return 0, 0, false
		}
		end = min(end, size-1)
	}
	return start, end, true
}

func (s *server) handleMedia() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := s.svc.OpenMedia(r.Context(), authOf(r), r.PathValue("id"), r.URL.Query().Get("thumb") == "1")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.serveMedia(w, r, f, true)
	})
}

func (s *server) handleDeleteMedia() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.DeleteMedia(r.Context(), authOf(r), r.PathValue("id"))
	})
}

// handleSetAvatar takes the picture as multipart field "file" or as the raw body.
func (s *server) handleSetAvatar() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		r.Body = http.MaxBytesReader(w, r.Body, 6<<20)
		var body io.Reader = r.Body
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			mr, err := r.MultipartReader()
			if err != nil {
				return nil, uploadError(err)
			}
			for {
				part, err := mr.NextPart()
				if err != nil {
					return nil, errorf(tkesj.EInvalid, "missing_file", "the form has no field named file")
				}
				if part.FormName() == "file" {
					body = part
					break
				}
			}
		}
		u, err := s.svc.SetAvatar(r.Context(), authOf(r), body)
		if err != nil {
			return nil, uploadError(err)
		}
		return selfJSON(u), nil
	})
}

func (s *server) handleAvatar() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := s.svc.Avatar(r.Context(), authOf(r), r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.serveMedia(w, r, f, true)
	})
}
