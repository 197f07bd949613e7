package compliance

import (
	"context"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// registerPersonalData tells the kernel's registry what compliance stores
// about people and how it is erased and exported.
func (s *Service) registerPersonalData() {
	s.Personal.Register(
		kernel.PersonalData{
			Name: "data exports", Owner: "compliance", Tables: []string{"exports"},
			// The archives are blobs named by the rows: noted before the rows
			// go, deleted after.
			Erase:    kernel.Erasure{Cascade: true, Blobs: exportBlobKeys},
			NoExport: "the archives themselves; the person downloads them",
		},
		kernel.PersonalData{
			Name: "purge queue", Owner: "compliance", Tables: []string{"purges"},
			Erase:    kernel.Erasure{Other: "holds only the id of an account already destroyed; the purge removes the entry when it finishes"},
			NoExport: "exists only once the account is gone",
		},
		kernel.PersonalData{
			Name: "rights requests", Owner: "compliance", Tables: []string{"rights_requests"},
			Erase:    kernel.Erasure{Cascade: true},
			NoExport: "not in the archive yet: the person reads them at GET /api/v1/me/rights-requests (gap found by the registry test)",
		},
		kernel.PersonalData{
			Name: "support tickets and what was shared with whom", Owner: "compliance",
			Tables: []string{"tickets", "ticket_messages", "sharing_records"},
			Erase: kernel.Erasure{
				Cascade: true, // tickets and their messages
				// Recipients that got their data are told to delete it
				// (R-SHR-3, R-DEL-4): the notices go from the worker in
				// sharing.go, which then empties the records' user_id.
				Destroy: func(ctx context.Context, q *store.Queries, userID string) (func(context.Context), error) {
					return nil, s.noticeRecipients(ctx, q, userID)
				},
			},
			Export: s.exportTicketsAndSharing, ExportOrder: 70,
		},
		kernel.PersonalData{
			Name: "staff membership, notices, incidents, reports, restrictions and share links", Owner: "compliance",
			Tables:   []string{"staff", "notices", "incident_people", "reports", "restrictions", "share_links"},
			Erase:    kernel.Erasure{Cascade: true, Other: "reports filed by others keep the reported account's opaque id (target_user_id) as the moderation record; the reason is sealed with the reporter's key"},
			NoExport: "not in the archive yet: notices, reports and restrictions are shown in the app (gap found by the registry test)",
		},
	)
}
