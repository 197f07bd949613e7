package compliance

import (
	"context"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// LegalGround is one of the policy's grounds for processing personal data
// without consent (policy §1 (III), §2 (IV), §4 (V); R-LEG-1).
type LegalGround struct {
	Code, Wording string
}

// LegalGrounds is the policy's list, in its order and its words: the one
// place the list is written. README.md "Legal grounds" repeats it, and a test
// checks that the two agree.
var LegalGrounds = []LegalGround{
	{"national_security", "Related to national security and national defense security"},
	{"public_safety", "Related to public security, public health, and major public interests"},
	{"criminal_investigation", "Related to criminal investigation, prosecution, trial, and execution of judgments"},
	{"vital_interests", "For the purpose of safeguarding the major legitimate rights and interests of the subject of personal information or other individuals, such as life and property, but it is difficult to obtain consent"},
	{"self_disclosed", "The personal information is disclosed to the public by the person on their own"},
	{"lawful_public_source", "The personal information is collected from legally disclosed information, such as legal news reports, government information disclosure and other channels"},
	{"contract", "Necessary for signing a contract according to the person's requirements"},
	{"service_security", "Necessary for maintaining the safe and stable operation of the products or services provided, such as discovering and handling product or service failures"},
	{"news_reporting", "Necessary for legal news reports"},
	{"statistical_research", "Necessary for academic research institutions to conduct statistical or academic research based on public interests, with the personal information in published results de-identified"},
	{"other_law", "Other circumstances stipulated by laws and regulations"},
}

func legalGround(code string) (LegalGround, error) {
	for _, g := range LegalGrounds {
		if g.Code == code {
			return g, nil
		}
	}
	codes := make([]string, 0, len(LegalGrounds))
	for _, g := range LegalGrounds {
		codes = append(codes, g.Code)
	}
	return LegalGround{}, tkesj.Errorf(tkesj.EInvalid, "invalid_ground", "ground must be one of the policy's: %s", strings.Join(codes, ", "))
}

func checkReference(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if n := len([]rune(ref)); n < 3 || n > 200 {
		return "", tkesj.Errorf(tkesj.EInvalid, "reference_required", "give the reference of the legal basis (case or order number), 3 to 200 characters")
	}
	return ref, nil
}

// LegalProcessingInput records processing of a person's data without their
// consent. DeferredUntil, when set, is the date until which the law defers
// telling them ("notification deferred by law").
type LegalProcessingInput struct {
	UserID, Ground, Reference, Description string
	DeferredUntil                          time.Time
}

// LegalProcessingEntry is a recorded processing as staff see it.
type LegalProcessingEntry struct {
	ID, UserID, Ground, Reference, Description string
	DeferredUntil, At                          time.Time
}

// RecordLegalProcessing writes a processing without consent to the audit
// log (privacy officer, admin). The person sees it in their access log, with
// its ground and reference, at once or when the deferral ends.
func (s *Service) RecordLegalProcessing(ctx context.Context, a kernel.Auth, in LegalProcessingInput) (LegalProcessingEntry, error) {
	st, err := s.staff(ctx, a, PermLegalProcessing)
	if err != nil {
		return LegalProcessingEntry{}, err
	}
	g, err := legalGround(in.Ground)
	if err != nil {
		return LegalProcessingEntry{}, err
	}
	ref, err := checkReference(in.Reference)
	if err != nil {
		return LegalProcessingEntry{}, err
	}
	desc := strings.TrimSpace(in.Description)
	if n := len([]rune(desc)); n < 10 || n > 2000 {
		return LegalProcessingEntry{}, tkesj.Errorf(tkesj.EInvalid, "description_required", "describe what is processed and how, 10 to 2000 characters; the person will read it")
	}
	now := s.Now()
	if !in.DeferredUntil.IsZero() && !in.DeferredUntil.After(now) {
		return LegalProcessingEntry{}, tkesj.Errorf(tkesj.EInvalid, "invalid_deferral", "notification_deferred_until must be in the future")
	}
	if _, err := s.DB.Read().FindUserByID(ctx, in.UserID); err != nil {
		return LegalProcessingEntry{}, tkesj.ErrNotFound("user")
	}
	if err := s.auditNow(ctx, st, auditEntry{Action: "legal_processing", Subject: in.UserID, Target: "processing without consent",
		Note: "ground " + g.Code, Details: auditDetails{Reference: ref, Description: desc}, Visible: true, DeferredUntil: in.DeferredUntil}); err != nil {
		return LegalProcessingEntry{}, err
	}
	return LegalProcessingEntry{UserID: in.UserID, Ground: g.Code, Reference: ref, Description: desc, DeferredUntil: in.DeferredUntil, At: now}, nil
}

// Hold is a legal hold as staff see it (R-LEG-1).
type Hold = store.HoldRecord

// HoldInput asks for a legal hold on a person ("user") or a conversation.
type HoldInput struct {
	SubjectKind, SubjectID, Ground, Reference string
}

// CreateHold asks for a legal hold (privacy officer, admin). It starts
// pending: a different privacy officer or admin must approve it before it
// pauses any purge. Logged in the audit log.
func (s *Service) CreateHold(ctx context.Context, a kernel.Auth, in HoldInput) (Hold, error) {
	st, err := s.staff(ctx, a, PermHolds)
	if err != nil {
		return Hold{}, err
	}
	g, err := legalGround(in.Ground)
	if err != nil {
		return Hold{}, err
	}
	ref, err := checkReference(in.Reference)
	if err != nil {
		return Hold{}, err
	}
	q := s.DB.Read()
	switch in.SubjectKind {
	case "user":
		// A destroyed person whose leftovers still await the purge can be held too.
		if _, err := q.FindUserByID(ctx, in.SubjectID); err != nil {
			if queued, qerr := q.PurgeQueued(ctx, in.SubjectID); qerr != nil || !queued {
				return Hold{}, tkesj.ErrNotFound("user")
			}
		}
	case "conversation":
		if _, err := q.FindConversation(ctx, in.SubjectID); err != nil {
			return Hold{}, tkesj.ErrNotFound("conversation")
		}
	default:
		return Hold{}, tkesj.Errorf(tkesj.EInvalid, "invalid_subject_kind", "subject_kind must be user or conversation")
	}
	h := Hold{ID: kernel.NewID("h"), SubjectKind: in.SubjectKind, SubjectID: in.SubjectID, Ground: g.Code, Reference: ref, Status: "pending",
		RequestedBy: st.UserID, RequestedAt: s.Now()}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateHold(ctx, h); err != nil {
			return err
		}
		return s.audit(ctx, q, st, auditEntry{Action: "hold:create", Target: "hold " + h.ID + " on " + h.SubjectKind + " " + h.SubjectID,
			Note: "ground " + g.Code + "; reference " + ref})
	})
	if err != nil {
		return Hold{}, s.Internal(ctx, "create hold", err)
	}
	return h, nil
}

// Holds lists legal holds, newest first.
func (s *Service) Holds(ctx context.Context, a kernel.Auth) ([]Hold, error) {
	if _, err := s.staff(ctx, a, PermHolds); err != nil {
		return nil, err
	}
	hs, err := s.DB.Read().Holds(ctx, 500)
	if err != nil {
		return nil, s.Internal(ctx, "holds", err)
	}
	return hs, nil
}

// ApproveHold activates a pending hold. The approver must be another
// privacy officer or admin than the one who asked for it (403
// second_approver_required otherwise).
func (s *Service) ApproveHold(ctx context.Context, a kernel.Auth, id string) (Hold, error) {
	st, err := s.staff(ctx, a, PermHolds)
	if err != nil {
		return Hold{}, err
	}
	h, err := s.DB.Read().FindHold(ctx, id)
	if err != nil {
		return Hold{}, tkesj.ErrNotFound("hold")
	}
	if h.RequestedBy == st.UserID {
		return Hold{}, tkesj.Errorf(tkesj.EForbidden, "second_approver_required", "a hold needs the approval of a second staff member, not the one who asked for it")
	}
	if h.Status != "pending" {
		return Hold{}, tkesj.Errorf(tkesj.EConflict, "invalid_transition", "a %s hold cannot be approved", h.Status)
	}
	now := s.Now()
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		ok, err := q.ApproveHold(ctx, id, st.UserID, now)
		if err != nil {
			return err
		}
		if !ok {
			return tkesj.Errorf(tkesj.EConflict, "invalid_transition", "the hold is no longer pending")
		}
		return s.audit(ctx, q, st, auditEntry{Action: "hold:approve", Target: "hold " + id + " on " + h.SubjectKind + " " + h.SubjectID, Note: "ground " + h.Ground})
	})
	if err != nil {
		return Hold{}, s.Internal(ctx, "approve hold", err)
	}
	h.Status, h.ApprovedBy, h.ApprovedAt = "active", st.UserID, now
	return h, nil
}

// ReleaseHold ends a pending or active hold; purging that waited on it
// resumes at once.
func (s *Service) ReleaseHold(ctx context.Context, a kernel.Auth, id string) (Hold, error) {
	st, err := s.staff(ctx, a, PermHolds)
	if err != nil {
		return Hold{}, err
	}
	h, err := s.DB.Read().FindHold(ctx, id)
	if err != nil {
		return Hold{}, tkesj.ErrNotFound("hold")
	}
	now := s.Now()
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		ok, err := q.ReleaseHold(ctx, id, st.UserID, now)
		if err != nil {
			return err
		}
		if !ok {
			return tkesj.Errorf(tkesj.EConflict, "invalid_transition", "the hold is already released")
		}
		return s.audit(ctx, q, st, auditEntry{Action: "hold:release", Target: "hold " + id + " on " + h.SubjectKind + " " + h.SubjectID, Note: "ground " + h.Ground})
	})
	if err != nil {
		return Hold{}, s.Internal(ctx, "release hold", err)
	}
	select {
	case s.purgeNow <- struct{}{}:
	default:
	}
	h.Status, h.ReleasedBy, h.ReleasedAt = "released", st.UserID, now
	return h, nil
}

// heldFromPurge reports whether an active legal hold pauses the purge of a
// destroyed person's leftovers (called by Purge).
func (s *Service) heldFromPurge(ctx context.Context, userID string) (bool, error) {
	return s.DB.Read().Held(ctx, userID)
}
