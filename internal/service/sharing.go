package service

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Sharing with recipients (policy §2; R-SHR-1..3, R-XBT-1, R-DEL-4).
//
// Every transfer of a person's data to another party goes through Share. It
// refuses unless the person consented to that recipient for its registered
// purpose (a "sharing" ledger entry whose subject is the recipient id), or
// staff recorded a legal ground (ShareUnderLegalBasis); a recipient in another
// region than the deployment's also needs the person's separate cross-border
// consent ("cross_border" entry, subject the recipient id). Transfers and
// refusals are both written as sharing records, which the person reads in
// their transparency report. When the person destroys the account or asks
// for shared data to be deleted, each recipient that got some is sent a
// signed deletion notice, retried until it answers 2xx.

// Recipient kinds (policy §2 (I) 3–5).
const (
	RecipientAffiliate = "affiliate"
	RecipientPartner   = "partner"
	RecipientSDK       = "sdk"
)

// Recipient is a registered recipient as staff and people see it; the
// signing secret is shown once, when it is created.
type Recipient struct {
	ID, Kind, Name, Purpose string
	Categories              []string
	Region                  string
	DeletionURL             string
	DeliveryURL             string
	CreatedAt               time.Time
}

// RecipientInput registers a recipient. Secret signs the webhooks sent to
// it; empty generates one. DeliveryURL, when set, receives the shared data;
// DeletionURL receives deletion notices and is required.
type RecipientInput struct {
	Kind, Name, Purpose string
	Categories          []string
	Region              string
	DeletionURL         string
	DeliveryURL         string
	Secret              string
}

func recipientOf(r store.RecipientRecord) Recipient {
	return Recipient{ID: r.ID, Kind: r.Kind, Name: r.Name, Purpose: r.Purpose, Categories: splitCategories(r.Categories),
		Region: r.Region, DeletionURL: r.DeletionURL, DeliveryURL: r.DeliveryURL, CreatedAt: r.CreatedAt}
}

func splitCategories(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func cleanCategories(cs []string) ([]string, error) {
	out := []string{}
	for _, c := range cs {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" || len(c) > 64 || strings.ContainsAny(c, ", \t\n") {
			return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_categories", "data categories are short names such as nickname or device_model, without commas or spaces")
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 || len(out) > 50 {
		return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_categories", "name between 1 and 50 data categories")
	}
	slices.Sort(out)
	return out, nil
}

func checkWebhookURL(field, v string, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" && !required {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(v) > 2000 {
		return "", tkesj.Errorf(tkesj.EInvalid, "invalid_"+field, "%s must be an absolute http(s) URL", field)
	}
	return v, nil
}

func normRegion(r string) string { return strings.ToUpper(strings.TrimSpace(r)) }

// Region is the region the deployment declares its data lives in (R-XBT-1).
func (s *Service) Region() string { return normRegion(s.cfg.Region) }

// AddRecipient registers a recipient (staff with "sharing"). It returns the
// recipient and its signing secret, shown this once.
func (s *Service) AddRecipient(ctx context.Context, a Auth, in RecipientInput) (Recipient, string, error) {
	st, err := s.staff(ctx, a, PermSharing)
	if err != nil {
		return Recipient{}, "", err
	}
	return s.addRecipient(ctx, st, in)
}

// AddRecipientAsOperator is `tkesj admin recipients add`.
func (s *Service) AddRecipientAsOperator(ctx context.Context, in RecipientInput) (Recipient, string, error) {
	return s.addRecipient(ctx, operator, in)
}

func (s *Service) addRecipient(ctx context.Context, st Staff, in RecipientInput) (Recipient, string, error) {
	if !slices.Contains([]string{RecipientAffiliate, RecipientPartner, RecipientSDK}, in.Kind) {
		return Recipient{}, "", tkesj.Errorf(tkesj.EInvalid, "invalid_kind", "kind must be affiliate, partner or sdk")
	}
	name, purpose := strings.TrimSpace(in.Name), strings.TrimSpace(in.Purpose)
	if n := len([]rune(name)); n < 2 || n > 100 {
		return Recipient{}, "", tkesj.Errorf(tkesj.EInvalid, "invalid_name", "name the recipient in 2 to 100 characters")
	}
	if n := len([]rune(purpose)); n < 10 || n > 500 {
		return Recipient{}, "", tkesj.Errorf(tkesj.EInvalid, "invalid_purpose", "say what the recipient uses the data for, 10 to 500 characters; people read it before they consent")
	}
	cats, err := cleanCategories(in.Categories)
	if err != nil {
		return Recipient{}, "", err
	}
	region := normRegion(in.Region)
	if len(region) < 2 || len(region) > 16 {
		return Recipient{}, "", tkesj.Errorf(tkesj.EInvalid, "invalid_region", "region is a short code such as CN, EU or US")
	}
	del, err := checkWebhookURL("deletion_url", in.DeletionURL, true)
	if err != nil {
		return Recipient{}, "", err
	}
	deliver, err := checkWebhookURL("delivery_url", in.DeliveryURL, false)
	if err != nil {
		return Recipient{}, "", err
	}
	secret := in.Secret
	if secret == "" {
		b := make([]byte, 32)
		rand.Read(b)
		secret = hex.EncodeToString(b)
	} else if len(secret) < 16 || len(secret) > 200 {
		return Recipient{}, "", tkesj.Errorf(tkesj.EInvalid, "invalid_secret", "a signing secret has 16 to 200 characters")
	}
	rec := store.RecipientRecord{ID: newID("r"), Kind: in.Kind, Name: name, Purpose: purpose, Categories: strings.Join(cats, ","), Region: region,
		DeletionURL: del, DeliveryURL: deliver, Secret: secret, CreatedAt: s.now()}
	err = s.db.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateRecipient(ctx, rec); err != nil {
			return err
		}
		return s.audit(ctx, q, st, auditEntry{Action: "sharing:add_recipient", Target: "recipient " + rec.ID, Note: rec.Kind + " in " + rec.Region})
	})
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.EConflict {
			return Recipient{}, "", err
		}
		return Recipient{}, "", s.internal(ctx, "add recipient", err)
	}
	return recipientOf(rec), secret, nil
}

// Recipients lists the registry. Anyone signed in may read it: it is what
// people consent to.
func (s *Service) Recipients(ctx context.Context) ([]Recipient, error) {
	recs, err := s.db.Read().Recipients(ctx)
	if err != nil {
		return nil, s.internal(ctx, "recipients", err)
	}
	out := make([]Recipient, 0, len(recs))
	for _, r := range recs {
		out = append(out, recipientOf(r))
	}
	return out, nil
}

// StaffRecipients lists the registry with its webhook URLs (staff with "sharing").
func (s *Service) StaffRecipients(ctx context.Context, a Auth) ([]Recipient, error) {
	if _, err := s.staff(ctx, a, PermSharing); err != nil {
		return nil, err
	}
	return s.Recipients(ctx)
}

// SharingRecord is one transfer (or refused transfer) as people and staff see it.
type SharingRecord struct {
	ID, RecipientID, RecipientName, Purpose string
	Categories                              []string
	Basis, Reference, Status, Refusal       string
	At                                      time.Time
	// The deletion notice (R-SHR-3): zero times when not asked for or not yet.
	DeletionReason                  string
	DeletionAt, NotifiedAt, AckedAt time.Time
	Attempts                        int
	UserID                          string // staff views only
}

func (s *Service) sharingView(r store.SharingRecord, names map[string]string) SharingRecord {
	return SharingRecord{ID: r.ID, RecipientID: r.RecipientID, RecipientName: names[r.RecipientID], Purpose: r.Purpose,
		Categories: splitCategories(r.Categories), Basis: r.Basis, Reference: r.Reference, Status: r.Status, Refusal: r.Refusal, At: r.CreatedAt,
		DeletionReason: r.DeletionReason, DeletionAt: r.DeletionAt, NotifiedAt: r.NotifiedAt, AckedAt: r.AckedAt, Attempts: r.Attempts}
}

func (s *Service) recipientNames(ctx context.Context) (map[string]string, error) {
	recs, err := s.db.Read().Recipients(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, r := range recs {
		names[r.ID] = r.Name
	}
	return names, nil
}

// SharingRecords lists the records of one recipient, or all (staff with
// "sharing"), newest first, with the person's opaque id.
func (s *Service) SharingRecords(ctx context.Context, a Auth, recipientID string) ([]SharingRecord, error) {
	if _, err := s.staff(ctx, a, PermSharing); err != nil {
		return nil, err
	}
	recs, err := s.db.Read().SharingRecordsByRecipient(ctx, recipientID, 1000)
	if err != nil {
		return nil, s.internal(ctx, "sharing records", err)
	}
	names, err := s.recipientNames(ctx)
	if err != nil {
		return nil, s.internal(ctx, "sharing records", err)
	}
	out := make([]SharingRecord, 0, len(recs))
	for _, r := range recs {
		v := s.sharingView(r, names)
		v.UserID = r.UserID
		out = append(out, v)
	}
	return out, nil
}

// RecipientConsent is a recipient with the person's word on it.
type RecipientConsent struct {
	Recipient
	CrossBorder        bool // the recipient is outside the deployment's region
	Granted            bool
	GrantedAt          time.Time
	CrossBorderGranted bool
	CrossBorderAt      time.Time
}

// SharingReport is the transparency report (R-SHR-2): every recipient with
// the person's consent state, and every transfer of their data (and every
// refused one), newest first.
type SharingReport struct {
	Region     string
	Recipients []RecipientConsent
	Records    []SharingRecord
}

// SharingReport returns the caller's transparency report.
func (s *Service) SharingReport(ctx context.Context, a Auth) (SharingReport, error) {
	rep := SharingReport{Region: s.Region(), Recipients: []RecipientConsent{}, Records: []SharingRecord{}}
	recs, err := s.db.Read().Recipients(ctx)
	if err != nil {
		return rep, s.internal(ctx, "sharing report", err)
	}
	cs, err := s.db.Read().Consents(ctx, a.UserID)
	if err != nil {
		return rep, s.internal(ctx, "sharing report", err)
	}
	names := map[string]string{}
	for _, r := range recs {
		names[r.ID] = r.Name
		rc := RecipientConsent{Recipient: recipientOf(r), CrossBorder: normRegion(r.Region) != s.Region()}
		for _, c := range cs {
			switch {
			case c.Kind == tkesj.ConsentSharing && c.Subject == r.ID:
				rc.Granted, rc.GrantedAt = c.Granted && c.Purpose == r.Purpose, c.At
			case c.Kind == tkesj.ConsentCrossBorder && c.Subject == r.ID:
				rc.CrossBorderGranted, rc.CrossBorderAt = c.Granted, c.At
			}
		}
		rep.Recipients = append(rep.Recipients, rc)
	}
	srs, err := s.db.Read().SharingRecords(ctx, a.UserID, 1000)
	if err != nil {
		return rep, s.internal(ctx, "sharing report", err)
	}
	for _, r := range srs {
		rep.Records = append(rep.Records, s.sharingView(r, names))
	}
	return rep, nil
}

// SetSharingConsent records the caller's grant or withdrawal of sharing with
// one recipient for its registered purpose: a ledger entry (R-CON-1).
// crossBorder records the separate consent to the transfer abroad instead.
// Withdrawal stops future transfers; asking the recipient to delete what it
// got is DeleteSharedData.
func (s *Service) SetSharingConsent(ctx context.Context, a Auth, recipientID string, crossBorder, granted bool) (tkesj.Consent, error) {
	r, err := s.db.Read().FindRecipient(ctx, recipientID)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return tkesj.Consent{}, err
		}
		return tkesj.Consent{}, s.internal(ctx, "sharing consent", err)
	}
	pol, err := s.Policy(ctx)
	if err != nil {
		return tkesj.Consent{}, err
	}
	c := tkesj.Consent{Kind: tkesj.ConsentSharing, Subject: r.ID, Granted: granted, Purpose: r.Purpose, PolicyVersion: pol.Version, Method: "api", At: s.now()}
	if crossBorder {
		if normRegion(r.Region) == s.Region() {
			return tkesj.Consent{}, tkesj.Errorf(tkesj.EInvalid, "not_cross_border", "this recipient keeps data in %s, where tkesj does; no cross-border consent is needed", r.Region)
		}
		c.Kind, c.Purpose = tkesj.ConsentCrossBorder, fmt.Sprintf("transfer from %s to %s, to %s for: %s", s.Region(), r.Region, r.Name, r.Purpose)
	}
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.AppendConsent(ctx, a.UserID, c) }); err != nil {
		return tkesj.Consent{}, s.internal(ctx, "sharing consent", err)
	}
	return c, nil
}

// ShareBasis is why a transfer is allowed: "consent", or a legal ground code
// with its reference (R-LEG-1).
type ShareBasis struct {
	Ground, Reference string
}

// Share sends payload, data of the given categories about userID, to a
// recipient for purpose. It is the only way data leaves tkesj for a
// recipient. It refuses with 403 sharing_not_permitted unless the person
// consented to this recipient for this purpose and the categories are among
// the recipient's registered ones; with 403 cross_border_consent_required
// when the recipient is in another region and the person has not separately
// consented to that. Refusals are recorded and logged too. On success the
// record is written before the payload is delivered, so that a transfer
// that may have arrived is never missing from the report or the deletion
// notices.
func (s *Service) Share(ctx context.Context, userID, recipientID, purpose string, categories []string, payload any) (SharingRecord, error) {
	return s.share(ctx, userID, recipientID, purpose, categories, payload, ShareBasis{Ground: "consent"})
}

// ShareUnderLegalBasis shares without consent under a legal ground of the
// policy (staff with legal_processing). The ground and reference are
// recorded in the sharing record and, as processing without consent, in the
// person's access log (R-LEG-1). Cross-border consent is not asked for: the
// policy §6 lets the law itself authorise a transfer abroad.
func (s *Service) ShareUnderLegalBasis(ctx context.Context, a Auth, userID, recipientID string, categories []string, ground, reference string, payload any) (SharingRecord, error) {
	st, err := s.staff(ctx, a, PermLegalProcessing)
	if err != nil {
		return SharingRecord{}, err
	}
	g, err := legalGround(ground)
	if err != nil {
		return SharingRecord{}, err
	}
	ref, err := checkReference(reference)
	if err != nil {
		return SharingRecord{}, err
	}
	r, err := s.db.Read().FindRecipient(ctx, recipientID)
	if err != nil {
		return SharingRecord{}, tkesj.ErrNotFound("recipient")
	}
	if _, err := s.db.Read().FindUserByID(ctx, userID); err != nil {
		return SharingRecord{}, tkesj.ErrNotFound("user")
	}
	if err := s.auditNow(ctx, st, auditEntry{Action: "legal_processing", Subject: userID, Target: "disclosure to " + r.Name,
		Note: "ground " + g.Code, Details: auditDetails{Reference: ref, Description: "data shared with " + r.Name + " (" + strings.Join(categories, ", ") + ")"}, Visible: true}); err != nil {
		return SharingRecord{}, err
	}
	return s.share(ctx, userID, recipientID, r.Purpose, categories, payload, ShareBasis{Ground: g.Code, Reference: ref})
}

var errSharingNotPermitted = tkesj.Errorf(tkesj.EForbidden, "sharing_not_permitted",
	"this data may not go to this recipient: it needs the person's consent for that recipient and purpose, or a recorded legal basis")

func (s *Service) share(ctx context.Context, userID, recipientID, purpose string, categories []string, payload any, basis ShareBasis) (SharingRecord, error) {
	if s.Ceasing(ctx) {
		return SharingRecord{}, ErrCeasing
	}
	q := s.db.Read()
	r, err := q.FindRecipient(ctx, recipientID)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return SharingRecord{}, err
		}
		return SharingRecord{}, s.internal(ctx, "share", err)
	}
	if _, err := q.FindUserByID(ctx, userID); err != nil {
		return SharingRecord{}, tkesj.ErrNotFound("user")
	}
	cats, err := cleanCategories(categories)
	if err != nil {
		return SharingRecord{}, err
	}
	rec := store.SharingRecord{ID: newID("x"), UserID: userID, RecipientID: r.ID, Purpose: strings.TrimSpace(purpose), Categories: strings.Join(cats, ","),
		Basis: basis.Ground, Reference: basis.Reference, Status: "sent", CreatedAt: s.now()}
	refuse := func(e *tkesj.Error, why string) (SharingRecord, error) {
		rec.Status, rec.Refusal = "refused", e.Code
		s.log.WarnContext(ctx, "transfer refused", "record", rec.ID, "user", userID, "recipient", r.ID, "reason", why)
		if err := s.db.Update(ctx, func(q *store.Queries) error { return q.CreateSharingRecord(ctx, rec) }); err != nil {
			return SharingRecord{}, s.internal(ctx, "share", err)
		}
		return SharingRecord{}, e
	}
	registered := splitCategories(r.Categories)
	for _, c := range cats {
		if !slices.Contains(registered, c) {
			return refuse(errSharingNotPermitted, "category "+c+" not registered for the recipient")
		}
	}
	if rec.Purpose != r.Purpose {
		return refuse(errSharingNotPermitted, "purpose differs from the recipient's registered purpose")
	}
	if basis.Ground == "consent" {
		c, err := q.LatestConsent(ctx, userID, tkesj.ConsentSharing, r.ID)
		if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
			return SharingRecord{}, s.internal(ctx, "share", err)
		}
		if err != nil || !c.Granted || c.Purpose != r.Purpose {
			return refuse(errSharingNotPermitted, "no consent for this recipient and purpose")
		}
		if normRegion(r.Region) != s.Region() {
			c, err := q.LatestConsent(ctx, userID, tkesj.ConsentCrossBorder, r.ID)
			if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
				return SharingRecord{}, s.internal(ctx, "share", err)
			}
			if err != nil || !c.Granted {
				return refuse(tkesj.Errorf(tkesj.EForbidden, "cross_border_consent_required",
					"this recipient keeps data in %s, outside %s: the person must separately consent to the transfer abroad", r.Region, s.Region()), "no cross-border consent")
			}
		}
	}
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.CreateSharingRecord(ctx, rec) }); err != nil {
		return SharingRecord{}, s.internal(ctx, "share", err)
	}
	s.log.InfoContext(ctx, "shared", "record", rec.ID, "user", userID, "recipient", r.ID, "basis", basis.Ground)
	if r.DeliveryURL != "" {
		body, err := json.Marshal(wire.ShareDelivery{Type: "share", RecordID: rec.ID, Subject: s.subjectRef(r.ID, userID),
			Purpose: r.Purpose, Categories: cats, Data: payload, SentAt: rec.CreatedAt.Format(time.RFC3339)})
		if err != nil {
			return SharingRecord{}, s.internal(ctx, "share", err)
		}
		if err := s.postSigned(ctx, r.DeliveryURL, r.Secret, body); err != nil {
			s.log.WarnContext(ctx, "delivery to recipient failed", "record", rec.ID, "recipient", r.ID, "err", err.Error())
			return SharingRecord{}, tkesj.Errorf(tkesj.EUnavailable, "delivery_failed", "the recipient did not accept the data; the attempt is recorded")
		}
	}
	return s.sharingView(rec, map[string]string{r.ID: r.Name}), nil
}

// subjectRef is the stable pseudonym a recipient knows a person by: the
// same for one recipient, different between recipients, and never the
// person's id.
func (s *Service) subjectRef(recipientID, userID string) string {
	return hex.EncodeToString(s.keys.Index("recipient_subject", recipientID+"/"+userID)[:16])
}

// Sign returns the X-Tkesj-Signature value for body: "sha256=" and the hex
// HMAC-SHA256 of the body under the recipient's secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// postSigned POSTs body with its signature and wants a 2xx answer.
func (s *Service) postSigned(ctx context.Context, url, secret string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tkesj-Signature", Sign(secret, body))
	resp, err := s.ops.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	return nil
}

// DeleteSharedData asks one recipient (or every one, when recipientID is
// empty) to delete the data of the caller's it got (R-SHR-3). It returns how
// many transfers the notice covers.
func (s *Service) DeleteSharedData(ctx context.Context, a Auth, recipientID string) (int64, error) {
	if recipientID != "" {
		if _, err := s.db.Read().FindRecipient(ctx, recipientID); err != nil {
			return 0, tkesj.ErrNotFound("recipient")
		}
	}
	var n int64
	err := s.db.Update(ctx, func(q *store.Queries) (err error) {
		n, err = q.RequestDeletion(ctx, a.UserID, recipientID, "data_deleted", s.now())
		return err
	})
	if err != nil {
		return 0, s.internal(ctx, "delete shared data", err)
	}
	s.wakeNotices()
	return n, nil
}

// noticeRecipients asks every recipient that got a person's data to delete
// it, inside the transaction that destroys the account (R-SHR-3, R-DEL-4):
// the notices go out from the worker, retried until acknowledged.
func (s *Service) noticeRecipients(ctx context.Context, q *store.Queries, userID string) error {
	if _, err := q.RequestDeletion(ctx, userID, "", "account_destroyed", s.now()); err != nil {
		return err
	}
	if err := q.DeleteRefusedSharing(ctx, userID); err != nil {
		return err
	}
	// After the commit: the worker reads committed rows only.
	time.AfterFunc(50*time.Millisecond, s.wakeNotices)
	return nil
}

func (s *Service) wakeNotices() {
	select {
	case s.ops.noticeNow <- struct{}{}:
	default:
	}
}

// SendDeletionNotices sends every due deletion notice once: one signed POST
// per recipient, person and reason, covering their records. An answer other
// than 2xx, or none, is retried with exponential back-off (from
// Config.NoticeRetryBase, at most an hour). It returns how many notices were
// acknowledged.
func (s *Service) SendDeletionNotices(ctx context.Context) (int, error) {
	now := s.now()
	due, err := s.db.Read().DueDeletionNotices(ctx, now, 500)
	if err != nil {
		return 0, s.internal(ctx, "deletion notices", err)
	}
	type group struct {
		recipient, user, reason string
		recs                    []store.SharingRecord
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, r := range due {
		k := r.RecipientID + "\x00" + r.UserID + "\x00" + r.DeletionReason
		g := byKey[k]
		if g == nil {
			g = &group{recipient: r.RecipientID, user: r.UserID, reason: r.DeletionReason}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.recs = append(g.recs, r)
	}
	acked := 0
	for _, g := range groups {
		ids := make([]string, 0, len(g.recs))
		attempts := 0
		for _, r := range g.recs {
			ids = append(ids, r.ID)
			attempts = max(attempts, r.Attempts)
		}
		// Taken for a minute: a node that dies mid-send leaves it to the next.
		err := s.db.Update(ctx, func(q *store.Queries) error { _, err := q.ClaimNotice(ctx, g.recs, now.Add(time.Minute)); return err })
		if store.IsClaimed(err) {
			continue
		} else if err != nil {
			return acked, s.internal(ctx, "deletion notices", err)
		}
		rcp, err := s.db.Read().FindRecipient(ctx, g.recipient)
		var sendErr error
		if err != nil {
			sendErr = fmt.Errorf("recipient: %w", err)
		} else {
			body, _ := json.Marshal(wire.DeletionNotice{Type: "deletion", Subject: s.subjectRef(g.recipient, g.user), Records: ids,
				Reason: g.reason, RequestedAt: g.recs[0].DeletionAt.Format(time.RFC3339)})
			sendErr = s.postSigned(ctx, rcp.DeletionURL, rcp.Secret, body)
		}
		at := s.now()
		var ackedAt, next time.Time
		lastErr := ""
		if sendErr == nil {
			ackedAt = at
			acked++
			s.ops.noticesAcked.Add(1)
		} else {
			backoff := s.cfg.NoticeRetryBase << min(attempts, 20)
			if backoff > time.Hour || backoff <= 0 {
				backoff = time.Hour
			}
			next, lastErr = at.Add(backoff), clip(sendErr.Error(), 200)
			s.log.WarnContext(ctx, "deletion notice not acknowledged", "recipient", g.recipient, "records", len(ids), "attempt", attempts+1, "err", lastErr)
		}
		if err := s.db.Update(ctx, func(q *store.Queries) error { return q.NoticeAttempted(ctx, ids, at, ackedAt, next, lastErr) }); err != nil {
			return acked, s.internal(ctx, "deletion notices", err)
		}
	}
	// Acknowledged records of accounts that are gone (destroyed, or erased
	// at the cessation, maybe after the acknowledgement) forget the person.
	if err := s.db.Update(ctx, func(q *store.Queries) error { _, err := q.ForgetAckedDestroyed(ctx); return err }); err != nil {
		return acked, s.internal(ctx, "deletion notices", err)
	}
	return acked, nil
}

// RunDeletionNotices sends deletion notices until ctx ends: at start, when
// one is asked for, and when a retry falls due.
func (s *Service) RunDeletionNotices(ctx context.Context) {
	for {
		if _, err := s.SendDeletionNotices(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "deletion notices", "err", err.Error())
		}
		wait := s.cfg.NoticePoll
		if next, err := s.db.Read().NextDeletionNotice(ctx); err == nil && !next.IsZero() {
			if d := next.Sub(s.now()); d < wait {
				wait = max(d, 5*time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.ops.noticeNow:
			t.Stop()
		}
	}
}
