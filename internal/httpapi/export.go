package httpapi

import (
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
)

// Personal-data exports (R-RGT-1): POST starts one, GET polls it, and the
// download streams the decrypted zip to its owner's session only.

func exportJSON(e service.Export) wire.Export {
	j := wire.Export{ID: e.ID, Status: e.Status, CreatedAt: e.CreatedAt.Format(time.RFC3339)}
	if !e.FinishedAt.IsZero() {
		j.FinishedAt = e.FinishedAt.Format(time.RFC3339)
	}
	switch e.Status {
	case "ready":
		j.DownloadURL = "/api/v1/me/exports/" + e.ID + "/download"
		j.ExpiresAt = e.ExpiresAt.Format(time.RFC3339)
		j.Size = &e.Size
		j.Expired = e.Expired
	case "failed":
		j.ErrorCode = &e.ErrorCode
	}
	return j
}

func (s *server) handleStartExport() http.Handler {
	return s.handle(http.StatusAccepted, func(w http.ResponseWriter, r *http.Request) (any, error) {
		e, err := s.svc.StartExport(r.Context(), authOf(r))
		if err != nil {
			return nil, err
		}
		w.Header().Set("Location", "/api/v1/me/exports/"+e.ID)
		return exportJSON(e), nil
	})
}

func (s *server) handleExport() http.Handler {
	return s.handle(http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		e, err := s.svc.Export(r.Context(), authOf(r), r.PathValue("id"))
		return exportJSON(e), err
	})
}

func (s *server) handleExports() http.Handler {
	return s.handle(http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		es, err := s.svc.Exports(r.Context(), authOf(r))
		out := make([]wire.Export, 0, len(es))
		for _, e := range es {
			out = append(out, exportJSON(e))
		}
		return wire.ExportList{Exports: out}, err
	})
}

// handleDownloadExport streams a ready export as an attachment, honouring a
// single byte range so a large archive can be resumed. Responses are never
// cached (the middleware's no-store stays).
func (s *server) handleDownloadExport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := s.svc.OpenExport(r.Context(), authOf(r), r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		h.Set("Accept-Ranges", "bytes")
		skip, limit, status := int64(0), int64(-1), http.StatusOK
		if rg := r.Header.Get("Range"); rg != "" {
			start, end, ok := parseRange(rg, f.Size)
			if !ok {
				h.Set("Content-Range", "bytes */"+strconv.FormatInt(f.Size, 10))
				writeError(w, r, s.log, errorf(tkesj.EUnsatisfiable, "range_not_satisfiable", "the range is outside the file"))
				return
			}
			skip, limit, status = start, end-start+1, http.StatusPartialContent
			h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(f.Size, 10))
			h.Set("Content-Length", strconv.FormatInt(limit, 10))
		} else {
			h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
		}
		w.WriteHeader(status)
		if r.Method == http.MethodHead {
			return
		}
		if err := f.Write(w, skip, limit); err != nil {
			// Headers are gone; the client sees a cut-off body. Log by id only.
			s.log.WarnContext(r.Context(), "export write", "export", f.ID, "err", err.Error())
		}
	})
}
