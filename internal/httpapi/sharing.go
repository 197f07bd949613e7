package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
)

// Sharing with recipients, its transparency report and consents
// (R-SHR-1..3, R-XBT-1), and public links to one post (R-SHR-4).

// recipientJSON is a recipient as staff see it, with its URLs.
func recipientJSON(r service.Recipient) wire.Recipient {
	return wire.Recipient{ID: r.ID, Kind: r.Kind, Name: r.Name, Purpose: r.Purpose, Categories: r.Categories,
		Region: r.Region, DeletionURL: &r.DeletionURL, DeliveryURL: &r.DeliveryURL, CreatedAt: rfc3339(r.CreatedAt)}
}

func sharingRecordJSON(r service.SharingRecord) wire.SharingRecord {
	j := wire.SharingRecord{ID: r.ID, RecipientID: r.RecipientID, RecipientName: r.RecipientName, Purpose: r.Purpose,
		Categories: r.Categories, Basis: r.Basis, Status: r.Status, At: rfc3339(r.At), Reference: r.Reference, Refusal: r.Refusal, UserID: r.UserID}
	if !r.DeletionAt.IsZero() {
		j.Deletion = &wire.SharingDeletion{Reason: r.DeletionReason, RequestedAt: rfc3339(r.DeletionAt), NotifiedAt: rfc3339(r.NotifiedAt),
			AckedAt: rfc3339(r.AckedAt), Attempts: r.Attempts}
	}
	return j
}

func (s *server) handleSharingReport() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		rep, err := s.svc.SharingReport(r.Context(), authOf(r))
		rs := make([]wire.Recipient, 0, len(rep.Recipients))
		for _, rc := range rep.Recipients {
			j := recipientJSON(rc.Recipient)
			j.DeletionURL, j.DeliveryURL = nil, nil
			j.CrossBorder = &rc.CrossBorder
			j.Consent = &wire.SharingConsent{Granted: rc.Granted, At: rfc3339(rc.GrantedAt)}
			if rc.CrossBorder {
				j.CrossBorderConsent = &wire.SharingConsent{Granted: rc.CrossBorderGranted, At: rfc3339(rc.CrossBorderAt)}
			}
			rs = append(rs, j)
		}
		recs := make([]wire.SharingRecord, 0, len(rep.Records))
		for _, x := range rep.Records {
			recs = append(recs, sharingRecordJSON(x))
		}
		return wire.SharingReport{Region: rep.Region, Recipients: rs, Records: recs}, err
	})
}

func (s *server) handleSetSharingConsent(crossBorder bool) http.Handler {
	type request struct {
		Granted *bool `json:"granted"`
	}
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		if req.Granted == nil {
			return nil, errorf(tkesj.EInvalid, "granted_required", `send {"granted": true} or {"granted": false}`)
		}
		c, err := s.svc.SetSharingConsent(r.Context(), authOf(r), r.PathValue("recipient"), crossBorder, *req.Granted)
		return wire.ConsentChange{Kind: c.Kind, Subject: c.Subject, Granted: c.Granted, Purpose: c.Purpose,
			PolicyVersion: c.PolicyVersion, Method: c.Method, At: rfc3339(c.At)}, err
	})
}

func (s *server) handleDeleteSharedData() http.Handler {
	return s.handle(202, func(w http.ResponseWriter, r *http.Request) (any, error) {
		n, err := s.svc.DeleteSharedData(r.Context(), authOf(r), r.PathValue("recipient"))
		return wire.Transfers{Transfers: n}, err
	})
}

func (s *server) handleRecipients() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		rs, err := s.svc.StaffRecipients(r.Context(), authOf(r))
		out := make([]wire.Recipient, 0, len(rs))
		for _, x := range rs {
			out = append(out, recipientJSON(x))
		}
		return wire.RecipientList{Recipients: out}, err
	})
}

func (s *server) handleAddRecipient() http.Handler {
	type request struct {
		Kind        string   `json:"kind"`
		Name        string   `json:"name"`
		Purpose     string   `json:"purpose"`
		Categories  []string `json:"categories"`
		Region      string   `json:"region"`
		DeletionURL string   `json:"deletion_url"`
		DeliveryURL string   `json:"delivery_url"`
		Secret      string   `json:"secret"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		rc, secret, err := s.svc.AddRecipient(r.Context(), authOf(r), service.RecipientInput{Kind: req.Kind, Name: req.Name, Purpose: req.Purpose,
			Categories: req.Categories, Region: req.Region, DeletionURL: req.DeletionURL, DeliveryURL: req.DeliveryURL, Secret: req.Secret})
		j := recipientJSON(rc)
		j.Secret = secret
		return j, err
	})
}

func (s *server) handleSharingRecords() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		rs, err := s.svc.SharingRecords(r.Context(), authOf(r), r.URL.Query().Get("recipient"))
		out := make([]wire.SharingRecord, 0, len(rs))
		for _, x := range rs {
			out = append(out, sharingRecordJSON(x))
		}
		return wire.SharingRecordList{Records: out}, err
	})
}

func (s *server) handleDisclosure() http.Handler {
	type request struct {
		UserID      string   `json:"user_id"`
		RecipientID string   `json:"recipient_id"`
		Categories  []string `json:"categories"`
		Ground      string   `json:"ground"`
		Reference   string   `json:"reference"`
		Data        any      `json:"data"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		rec, err := s.svc.ShareUnderLegalBasis(r.Context(), authOf(r), req.UserID, req.RecipientID, req.Categories, req.Ground, req.Reference, req.Data)
		return sharingRecordJSON(rec), err
	})
}

func (s *server) handleCreateShareLink() http.Handler {
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		token, err := s.svc.CreateShareLink(r.Context(), authOf(r), r.PathValue("id"))
		return wire.ShareLink{URL: "/s/" + token,
			Notice: "anyone with this link can see this post's text and pictures, whoever you chose to show it to; revoke it to end that"}, err
	})
}

func (s *server) handleRevokeShareLink() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.RevokeShareLink(r.Context(), authOf(r), r.PathValue("id"))
	})
}

// publicStyle is the page's only style; the CSP allows it by its hash and
// allows no script at all.
const publicStyle = `body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#222}` +
	`p{white-space:pre-wrap;font-size:1.1rem}img,video{max-width:100%;display:block;margin:.5rem 0}footer{color:#777;font-size:.85rem}`

var publicPage = template.Must(template.New("post").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>A post shared from tkesj</title><style>{{.Style}}</style></head>
<body><main>{{if .Text}}<p>{{.Text}}</p>{{end}}{{range .Media}}{{if eq .Kind "video"}}<video controls preload="metadata" src="{{.URL}}"></video>{{else}}<img alt="" src="{{.URL}}">{{end}}{{end}}</main>
<footer>Shared from tkesj on {{.Date}} by its author, who can revoke this link.</footer></body></html>
`))

func (s *server) handlePublicPost() http.Handler {
	sum := sha256.Sum256([]byte(publicStyle))
	csp := "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	type media struct{ Kind, URL string }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		p, err := s.svc.PublicPost(r.Context(), token)
		if err != nil {
			w.Header().Set("Cache-Control", "no-store")
			writeError(w, r, s.log, err)
			return
		}
		data := struct {
			Style      template.CSS
			Text, Date string
			Media      []media
		}{Style: template.CSS(publicStyle), Text: p.Text, Date: p.CreatedAt.Format(time.DateOnly)}
		for i, m := range p.Media {
			data.Media = append(data.Media, media{Kind: m.Kind, URL: "/s/" + token + "/media/" + strconv.Itoa(i)})
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Robots-Tag", "noindex")
		publicPage.Execute(w, data)
	})
}

func (s *server) handlePublicPostMedia() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil {
			n = -1
		}
		f, err := s.svc.PublicPostMedia(r.Context(), r.PathValue("token"), n)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.serveMedia(w, r, f, false)
	})
}
