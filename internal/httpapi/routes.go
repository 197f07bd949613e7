package httpapi

import "net/http"

// route is one entry of the API, with every gate a request passes before its
// handler. The table is the one place that knows URLs: NewServer derives the
// mux, authentication, the policy and cessation gates and the metric label
// from it, and the OpenAPI document is checked against it by a test (every
// route is documented and every documented path routes).
type route struct {
	pattern string // "METHOD /path", a Go 1.22 ServeMux pattern
	auth    authGate
	policy  policyGate
	cease   ceaseGate
	// metric labels the route's series in tkesj_http_requests_total and
	// tkesj_http_request_duration_seconds. Route patterns are bounded and
	// dashboards key on them, so every route so far is counted under its own.
	metric  string
	handler http.Handler
}

// authGate says who may call a route. The zero value is no declaration:
// TestEveryRouteDeclaresItsGates fails on it.
type authGate uint8

const (
	_             authGate = iota
	public                 // anyone, signed in or not
	bearer                 // a valid session token in Authorization: Bearer
	bearerOrQuery          // the same, or ?token= (browsers cannot set headers on a WebSocket)
)

// policyGate says whether a route stays open while a major policy update waits
// for the person's acceptance (R-POL-1): reading and accepting the policy,
// seeing who they are, exporting their data, destroying the account, signing
// out, and the socket that tells them about it. Public routes have no person
// to ask, so they are exempt.
type policyGate uint8

const (
	_            policyGate = iota
	policyGated             // refused with 409 policy_acceptance_required
	policyExempt            // open while acceptance is pending
)

// ceaseGate says whether a route stays open while the service ceases (R-OPS-3).
// Reads and deletions stay open, and so do the writes that serve a person's
// rights (export, deletion, withdrawal, complaints, correction), signing in
// and out, and staff work; every other write would collect new personal data
// and is refused with 403 service_ceasing.
type ceaseGate uint8

const (
	_               ceaseGate = iota
	whileCeasing              // open during cessation
	notWhileCeasing           // refused during cessation
)

// routes lists every route the server has.
func (s *server) routes() []route {
	return []route{
		{"GET /healthz", public, policyExempt, whileCeasing, "GET /healthz", s.handleHealthz()},
		{"GET /api/v1/openapi.json", public, policyExempt, whileCeasing, "GET /api/v1/openapi.json", handleOpenAPI()},
		{"GET /api/v1/policy", public, policyExempt, whileCeasing, "GET /api/v1/policy", s.handlePolicy()},

		{"POST /api/v1/verification-codes", public, policyExempt, whileCeasing, "POST /api/v1/verification-codes", s.handleRequestCode()},
		{"POST /api/v1/accounts", public, policyExempt, notWhileCeasing, "POST /api/v1/accounts", s.handleRegister()},
		{"POST /api/v1/sessions", public, policyExempt, whileCeasing, "POST /api/v1/sessions", s.handleLogin()},
		{"DELETE /api/v1/sessions/current", bearer, policyExempt, whileCeasing, "DELETE /api/v1/sessions/current", s.handleLogout()},

		{"GET /api/v1/me", bearer, policyExempt, whileCeasing, "GET /api/v1/me", s.handleMe()},
		{"PATCH /api/v1/me", bearer, policyGated, whileCeasing, "PATCH /api/v1/me", s.handleUpdateMe()},
		{"DELETE /api/v1/me", bearer, policyExempt, whileCeasing, "DELETE /api/v1/me", s.handleDestroyAccount()},
		{"GET /api/v1/me/devices", bearer, policyGated, whileCeasing, "GET /api/v1/me/devices", s.handleDevices()},
		{"DELETE /api/v1/me/devices/{id}", bearer, policyGated, whileCeasing, "DELETE /api/v1/me/devices/{id}", s.handleSignOutDevice()},
		{"GET /api/v1/me/permissions", bearer, policyGated, whileCeasing, "GET /api/v1/me/permissions", s.handlePermissions()},
		{"PUT /api/v1/me/permissions/{name}", bearer, policyGated, whileCeasing, "PUT /api/v1/me/permissions/{name}", s.handleSetPermission()},
		{"GET /api/v1/me/consents", bearer, policyGated, whileCeasing, "GET /api/v1/me/consents", s.handleConsents()},
		{"POST /api/v1/policy/accept", bearer, policyExempt, whileCeasing, "POST /api/v1/policy/accept", s.handleAcceptPolicy()},
		{"POST /api/v1/me/guardian", bearer, policyGated, notWhileCeasing, "POST /api/v1/me/guardian", s.handleGuardianCode()},
		{"POST /api/v1/me/guardian/confirm", bearer, policyGated, notWhileCeasing, "POST /api/v1/me/guardian/confirm", s.handleGuardianConfirm()},
		{"POST /api/v1/me/rights-requests", bearer, policyGated, whileCeasing, "POST /api/v1/me/rights-requests", s.handleCreateRightsRequest()},
		{"GET /api/v1/me/rights-requests", bearer, policyGated, whileCeasing, "GET /api/v1/me/rights-requests", s.handleRightsRequests()},
		{"POST /api/v1/me/rights-requests/{id}/verify", bearer, policyGated, whileCeasing, "POST /api/v1/me/rights-requests/{id}/verify", s.handleVerifyRightsRequest()},
		{"GET /api/v1/me/decisions", bearer, policyGated, whileCeasing, "GET /api/v1/me/decisions", s.handleDecisions()},
		{"POST /api/v1/me/decisions/{id}/appeal", bearer, policyGated, whileCeasing, "POST /api/v1/me/decisions/{id}/appeal", s.handleAppeal()},
		{"POST /api/v1/me/freeze", bearer, policyGated, whileCeasing, "POST /api/v1/me/freeze", s.handleFreeze()},
		{"POST /api/v1/account-freezes", public, policyExempt, whileCeasing, "POST /api/v1/account-freezes", s.handleFreezeByCode()},
		{"POST /api/v1/account-unfreezes", public, policyExempt, whileCeasing, "POST /api/v1/account-unfreezes", s.handleUnfreeze()},
		{"POST /api/v1/password-resets", public, policyExempt, whileCeasing, "POST /api/v1/password-resets", s.handleResetPassword()},
		{"POST /api/v1/me/phone", bearer, policyGated, notWhileCeasing, "POST /api/v1/me/phone", s.handleChangePhone()},
		{"PUT /api/v1/me/password", bearer, policyGated, whileCeasing, "PUT /api/v1/me/password", s.handleChangePassword()},
		{"GET /api/v1/me/settings", bearer, policyGated, whileCeasing, "GET /api/v1/me/settings", s.handleSettings()},
		{"PATCH /api/v1/me/settings", bearer, policyGated, whileCeasing, "PATCH /api/v1/me/settings", s.handleUpdateSettings()},

		{"GET /api/v1/users", bearer, policyGated, whileCeasing, "GET /api/v1/users", s.handleSearchUsers()},
		{"POST /api/v1/friend-requests", bearer, policyGated, notWhileCeasing, "POST /api/v1/friend-requests", s.handleSendFriendRequest()},
		{"GET /api/v1/friend-requests", bearer, policyGated, whileCeasing, "GET /api/v1/friend-requests", s.handleFriendRequests()},
		{"POST /api/v1/friend-requests/{id}/accept", bearer, policyGated, notWhileCeasing, "POST /api/v1/friend-requests/{id}/accept", s.handleAnswerFriendRequest(true)},
		{"POST /api/v1/friend-requests/{id}/decline", bearer, policyGated, notWhileCeasing, "POST /api/v1/friend-requests/{id}/decline", s.handleAnswerFriendRequest(false)},
		{"GET /api/v1/contacts", bearer, policyGated, whileCeasing, "GET /api/v1/contacts", s.handleContacts()},
		{"PATCH /api/v1/contacts/{id}", bearer, policyGated, notWhileCeasing, "PATCH /api/v1/contacts/{id}", s.handleUpdateContact()},
		{"DELETE /api/v1/contacts/{id}", bearer, policyGated, whileCeasing, "DELETE /api/v1/contacts/{id}", s.handleRemoveContact()},
		{"GET /api/v1/blocks", bearer, policyGated, whileCeasing, "GET /api/v1/blocks", s.handleBlocked()},
		{"PUT /api/v1/blocks/{id}", bearer, policyGated, notWhileCeasing, "PUT /api/v1/blocks/{id}", s.handleBlock(true)},
		{"DELETE /api/v1/blocks/{id}", bearer, policyGated, whileCeasing, "DELETE /api/v1/blocks/{id}", s.handleBlock(false)},

		{"POST /api/v1/conversations", bearer, policyGated, notWhileCeasing, "POST /api/v1/conversations", s.handleCreateConversation()},
		{"GET /api/v1/conversations", bearer, policyGated, whileCeasing, "GET /api/v1/conversations", s.handleConversations()},
		{"GET /api/v1/conversations/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/conversations/{id}", s.handleConversation()},
		{"PATCH /api/v1/conversations/{id}", bearer, policyGated, notWhileCeasing, "PATCH /api/v1/conversations/{id}", s.handleUpdateConversation()},
		{"POST /api/v1/conversations/{id}/members", bearer, policyGated, notWhileCeasing, "POST /api/v1/conversations/{id}/members", s.handleAddMembers()},
		{"DELETE /api/v1/conversations/{id}/members/{user}", bearer, policyGated, whileCeasing, "DELETE /api/v1/conversations/{id}/members/{user}", s.handleRemoveMember()},
		{"PATCH /api/v1/conversations/{id}/members/{user}", bearer, policyGated, notWhileCeasing, "PATCH /api/v1/conversations/{id}/members/{user}", s.handleSetRole()},
		{"PUT /api/v1/conversations/{id}/mute", bearer, policyGated, whileCeasing, "PUT /api/v1/conversations/{id}/mute", s.handleMute()},
		{"POST /api/v1/forwards", bearer, policyGated, notWhileCeasing, "POST /api/v1/forwards", s.handleForward()},
		{"PUT /api/v1/conversations/{id}/pin", bearer, policyGated, whileCeasing, "PUT /api/v1/conversations/{id}/pin", s.handlePin()},
		{"POST /api/v1/me/favorites", bearer, policyGated, notWhileCeasing, "POST /api/v1/me/favorites", s.handleAddFavorite()},
		{"GET /api/v1/me/favorites", bearer, policyGated, whileCeasing, "GET /api/v1/me/favorites", s.handleFavorites()},
		{"DELETE /api/v1/me/favorites/{id}", bearer, policyGated, whileCeasing, "DELETE /api/v1/me/favorites/{id}", s.handleDeleteFavorite()},
		{"POST /api/v1/conversations/{id}/read", bearer, policyGated, whileCeasing, "POST /api/v1/conversations/{id}/read", s.handleRead()},
		{"POST /api/v1/conversations/{id}/messages", bearer, policyGated, notWhileCeasing, "POST /api/v1/conversations/{id}/messages", s.handleSendMessage()},
		{"GET /api/v1/conversations/{id}/messages", bearer, policyGated, whileCeasing, "GET /api/v1/conversations/{id}/messages", s.handleMessages()},
		{"POST /api/v1/conversations/{id}/messages/{seq}/recall", bearer, policyGated, notWhileCeasing, "POST /api/v1/conversations/{id}/messages/{seq}/recall", s.handleRecall()},
		{"DELETE /api/v1/conversations/{id}/messages/{seq}", bearer, policyGated, whileCeasing, "DELETE /api/v1/conversations/{id}/messages/{seq}", s.handleDeleteForMe()},
		{"POST /api/v1/moments", bearer, policyGated, notWhileCeasing, "POST /api/v1/moments", s.handleCreateMoment()},
		{"GET /api/v1/moments/timeline", bearer, policyGated, whileCeasing, "GET /api/v1/moments/timeline", s.handleTimeline()},
		{"GET /api/v1/moments/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/moments/{id}", s.handleMoment()},
		{"PATCH /api/v1/moments/{id}", bearer, policyGated, notWhileCeasing, "PATCH /api/v1/moments/{id}", s.handleEditMoment()},
		{"DELETE /api/v1/moments/{id}", bearer, policyGated, whileCeasing, "DELETE /api/v1/moments/{id}", s.handleDeleteMoment()},
		{"POST /api/v1/moments/{id}/likes", bearer, policyGated, notWhileCeasing, "POST /api/v1/moments/{id}/likes", s.handleLike(true)},
		{"DELETE /api/v1/moments/{id}/likes", bearer, policyGated, whileCeasing, "DELETE /api/v1/moments/{id}/likes", s.handleLike(false)},
		{"POST /api/v1/moments/{id}/comments", bearer, policyGated, notWhileCeasing, "POST /api/v1/moments/{id}/comments", s.handleComment()},
		{"DELETE /api/v1/moments/{id}/comments/{comment}", bearer, policyGated, whileCeasing, "DELETE /api/v1/moments/{id}/comments/{comment}", s.handleDeleteComment()},
		{"GET /api/v1/users/{id}/moments", bearer, policyGated, whileCeasing, "GET /api/v1/users/{id}/moments", s.handleUserMoments()},
		{"PUT /api/v1/me/moments-hidden-from/{id}", bearer, policyGated, notWhileCeasing, "PUT /api/v1/me/moments-hidden-from/{id}", s.handleMomentPref("hide", true)},
		{"DELETE /api/v1/me/moments-hidden-from/{id}", bearer, policyGated, whileCeasing, "DELETE /api/v1/me/moments-hidden-from/{id}", s.handleMomentPref("hide", false)},
		{"PUT /api/v1/me/moments-muted/{id}", bearer, policyGated, notWhileCeasing, "PUT /api/v1/me/moments-muted/{id}", s.handleMomentPref("mute", true)},
		{"DELETE /api/v1/me/moments-muted/{id}", bearer, policyGated, whileCeasing, "DELETE /api/v1/me/moments-muted/{id}", s.handleMomentPref("mute", false)},
		{"GET /api/v1/search", bearer, policyGated, whileCeasing, "GET /api/v1/search", s.handleSearch()},
		{"GET /api/v1/push/vapid-key", public, policyExempt, whileCeasing, "GET /api/v1/push/vapid-key", s.handleVAPIDKey()},
		{"PUT /api/v1/me/push-subscription", bearer, policyGated, notWhileCeasing, "PUT /api/v1/me/push-subscription", s.handleSetPushSubscription()},
		{"DELETE /api/v1/me/push-subscription", bearer, policyGated, whileCeasing, "DELETE /api/v1/me/push-subscription", s.handleDeletePushSubscription()},
		{"POST /api/v1/media", bearer, policyGated, notWhileCeasing, "POST /api/v1/media", s.handleUpload()},
		{"GET /api/v1/media/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/media/{id}", s.handleMedia()},
		{"DELETE /api/v1/media/{id}", bearer, policyGated, whileCeasing, "DELETE /api/v1/media/{id}", s.handleDeleteMedia()},
		{"PUT /api/v1/me/avatar", bearer, policyGated, notWhileCeasing, "PUT /api/v1/me/avatar", s.handleSetAvatar()},
		{"GET /api/v1/users/{id}/avatar", bearer, policyGated, whileCeasing, "GET /api/v1/users/{id}/avatar", s.handleAvatar()},
		{"POST /api/v1/me/exports", bearer, policyExempt, whileCeasing, "POST /api/v1/me/exports", s.handleStartExport()},
		{"GET /api/v1/me/exports", bearer, policyExempt, whileCeasing, "GET /api/v1/me/exports", s.handleExports()},
		{"GET /api/v1/me/exports/{id}", bearer, policyExempt, whileCeasing, "GET /api/v1/me/exports/{id}", s.handleExport()},
		{"GET /api/v1/me/exports/{id}/download", bearer, policyExempt, whileCeasing, "GET /api/v1/me/exports/{id}/download", s.handleDownloadExport()},
		{"GET /api/v1/me/qr", bearer, policyGated, whileCeasing, "GET /api/v1/me/qr", s.handleMyQR()},
		{"POST /api/v1/me/qr/reset", bearer, policyGated, notWhileCeasing, "POST /api/v1/me/qr/reset", s.handleResetMyQR()},
		{"POST /api/v1/qr/scan", bearer, policyGated, notWhileCeasing, "POST /api/v1/qr/scan", s.handleScanQR()},
		{"POST /api/v1/qr/join", bearer, policyGated, notWhileCeasing, "POST /api/v1/qr/join", s.handleJoinByQR()},
		{"POST /api/v1/conversations/{id}/qr", bearer, policyGated, notWhileCeasing, "POST /api/v1/conversations/{id}/qr", s.handleCreateGroupQR()},
		{"GET /api/v1/conversations/{id}/qr/{qrid}", bearer, policyGated, whileCeasing, "GET /api/v1/conversations/{id}/qr/{qrid}", s.handleGroupQR()},
		{"DELETE /api/v1/conversations/{id}/qr/{qrid}", bearer, policyGated, whileCeasing, "DELETE /api/v1/conversations/{id}/qr/{qrid}", s.handleRevokeGroupQR()},
		{"GET /api/v1/conversations/{id}/join-approval", bearer, policyGated, whileCeasing, "GET /api/v1/conversations/{id}/join-approval", s.handleJoinApproval()},
		{"PUT /api/v1/conversations/{id}/join-approval", bearer, policyGated, notWhileCeasing, "PUT /api/v1/conversations/{id}/join-approval", s.handleSetJoinApproval()},
		{"GET /api/v1/conversations/{id}/join-requests", bearer, policyGated, whileCeasing, "GET /api/v1/conversations/{id}/join-requests", s.handleJoinRequests()},
		{"POST /api/v1/conversations/{id}/join-requests/{rid}/approve", bearer, policyGated, notWhileCeasing, "POST /api/v1/conversations/{id}/join-requests/{rid}/approve", s.handleAnswerJoinRequest(true)},
		{"POST /api/v1/conversations/{id}/join-requests/{rid}/decline", bearer, policyGated, notWhileCeasing, "POST /api/v1/conversations/{id}/join-requests/{rid}/decline", s.handleAnswerJoinRequest(false)},
		{"POST /api/v1/login-qr", public, policyExempt, notWhileCeasing, "POST /api/v1/login-qr", s.handleCreateLoginQR()},
		{"POST /api/v1/login-qr/scan", bearer, policyGated, notWhileCeasing, "POST /api/v1/login-qr/scan", s.handleScanLoginQR()},
		{"GET /api/v1/login-qr/{id}", public, policyExempt, whileCeasing, "GET /api/v1/login-qr/{id}", s.handlePollLoginQR()},
		{"POST /api/v1/login-qr/{id}/confirm", bearer, policyGated, notWhileCeasing, "POST /api/v1/login-qr/{id}/confirm", s.handleAnswerLoginQR(true)},
		{"POST /api/v1/login-qr/{id}/deny", bearer, policyGated, notWhileCeasing, "POST /api/v1/login-qr/{id}/deny", s.handleAnswerLoginQR(false)},
		// Staff, audit, incidents, legal holds and moderation (R-SEC-1, R-SEC-4,
		// R-LEG-1; admin.go). Every /api/v1/admin route is walked with every
		// role by TestEveryAdminRouteByRole (e2e/admin_test.go).
		{"GET /api/v1/me/access-log", bearer, policyGated, whileCeasing, "GET /api/v1/me/access-log", s.handleAccessLog()},
		{"GET /api/v1/me/notices", bearer, policyGated, whileCeasing, "GET /api/v1/me/notices", s.handleNotices()},
		{"POST /api/v1/me/notices/{id}/read", bearer, policyGated, whileCeasing, "POST /api/v1/me/notices/{id}/read", s.handleReadNotice()},
		{"POST /api/v1/reports", bearer, policyGated, notWhileCeasing, "POST /api/v1/reports", s.handleCreateReport()},
		{"GET /api/v1/enforcement", public, policyExempt, whileCeasing, "GET /api/v1/enforcement", s.handleEnforcement()},
		{"GET /api/v1/legal-grounds", public, policyExempt, whileCeasing, "GET /api/v1/legal-grounds", s.handleLegalGrounds()},
		{"GET /api/v1/admin/me", bearer, policyGated, whileCeasing, "GET /api/v1/admin/me", s.handleStaffSelf()},
		{"GET /api/v1/admin/staff", bearer, policyGated, whileCeasing, "GET /api/v1/admin/staff", s.handleListStaff()},
		{"PUT /api/v1/admin/staff/{id}", bearer, policyGated, whileCeasing, "PUT /api/v1/admin/staff/{id}", s.handleSetStaffRole()},
		{"DELETE /api/v1/admin/staff/{id}", bearer, policyGated, whileCeasing, "DELETE /api/v1/admin/staff/{id}", s.handleRemoveStaff()},
		{"GET /api/v1/admin/audit", bearer, policyGated, whileCeasing, "GET /api/v1/admin/audit", s.handleAudit()},
		{"GET /api/v1/admin/users/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/admin/users/{id}", s.handleStaffReadUser()},
		{"GET /api/v1/admin/rights-requests", bearer, policyGated, whileCeasing, "GET /api/v1/admin/rights-requests", s.handleStaffRightsRequests()},
		{"GET /api/v1/admin/rights-requests/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/admin/rights-requests/{id}", s.handleStaffRightsRequest()},
		{"POST /api/v1/admin/rights-requests/{id}/advance", bearer, policyGated, whileCeasing, "POST /api/v1/admin/rights-requests/{id}/advance", s.handleStaffAdvanceRightsRequest()},
		{"POST /api/v1/admin/legal-processing", bearer, policyGated, whileCeasing, "POST /api/v1/admin/legal-processing", s.handleLegalProcessing()},
		{"GET /api/v1/admin/holds", bearer, policyGated, whileCeasing, "GET /api/v1/admin/holds", s.handleHolds()},
		{"POST /api/v1/admin/holds", bearer, policyGated, whileCeasing, "POST /api/v1/admin/holds", s.handleCreateHold()},
		{"POST /api/v1/admin/holds/{id}/approve", bearer, policyGated, whileCeasing, "POST /api/v1/admin/holds/{id}/approve", s.handleHoldStep(true)},
		{"POST /api/v1/admin/holds/{id}/release", bearer, policyGated, whileCeasing, "POST /api/v1/admin/holds/{id}/release", s.handleHoldStep(false)},
		{"GET /api/v1/admin/incidents", bearer, policyGated, whileCeasing, "GET /api/v1/admin/incidents", s.handleIncidents()},
		{"POST /api/v1/admin/incidents", bearer, policyGated, whileCeasing, "POST /api/v1/admin/incidents", s.handleRecordIncident()},
		{"GET /api/v1/admin/incidents/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/admin/incidents/{id}", s.handleIncident()},
		{"GET /api/v1/admin/reports", bearer, policyGated, whileCeasing, "GET /api/v1/admin/reports", s.handleReports()},
		{"GET /api/v1/admin/reports/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/admin/reports/{id}", s.handleReport()},
		{"POST /api/v1/admin/reports/{id}/dismiss", bearer, policyGated, whileCeasing, "POST /api/v1/admin/reports/{id}/dismiss", s.handleDismissReport()},
		{"POST /api/v1/admin/moderation-actions", bearer, policyGated, whileCeasing, "POST /api/v1/admin/moderation-actions", s.handleModerate()},
		// Sharing, transparency, share links, support, announcements,
		// statistics and readiness (R-SHR-1..5, R-XBT-1, R-OPS-1..2;
		// sharing.go, ops.go).
		{"GET /readyz", public, policyExempt, whileCeasing, "GET /readyz", s.handleReadyz()},
		{"GET /api/v1/me/sharing", bearer, policyGated, whileCeasing, "GET /api/v1/me/sharing", s.handleSharingReport()},
		{"PUT /api/v1/me/sharing/{recipient}", bearer, policyGated, whileCeasing, "PUT /api/v1/me/sharing/{recipient}", s.handleSetSharingConsent(false)},
		{"PUT /api/v1/me/sharing/{recipient}/cross-border", bearer, policyGated, whileCeasing, "PUT /api/v1/me/sharing/{recipient}/cross-border", s.handleSetSharingConsent(true)},
		{"DELETE /api/v1/me/sharing/{recipient}/data", bearer, policyGated, whileCeasing, "DELETE /api/v1/me/sharing/{recipient}/data", s.handleDeleteSharedData()},
		{"POST /api/v1/moments/{id}/share-link", bearer, policyGated, notWhileCeasing, "POST /api/v1/moments/{id}/share-link", s.handleCreateShareLink()},
		{"DELETE /api/v1/moments/{id}/share-link", bearer, policyGated, whileCeasing, "DELETE /api/v1/moments/{id}/share-link", s.handleRevokeShareLink()},
		{"GET /s/{token}", public, policyExempt, whileCeasing, "GET /s/{token}", s.handlePublicPost()},
		{"GET /s/{token}/media/{n}", public, policyExempt, whileCeasing, "GET /s/{token}/media/{n}", s.handlePublicPostMedia()},
		{"GET /api/v1/announcements", bearer, policyGated, whileCeasing, "GET /api/v1/announcements", s.handleAnnouncements()},
		{"POST /api/v1/me/tickets", bearer, policyGated, whileCeasing, "POST /api/v1/me/tickets", s.handleOpenTicket()},
		{"GET /api/v1/me/tickets", bearer, policyGated, whileCeasing, "GET /api/v1/me/tickets", s.handleTickets()},
		{"GET /api/v1/me/tickets/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/me/tickets/{id}", s.handleTicket()},
		{"POST /api/v1/me/tickets/{id}/messages", bearer, policyGated, whileCeasing, "POST /api/v1/me/tickets/{id}/messages", s.handleTicketMessage()},
		{"GET /api/v1/admin/recipients", bearer, policyGated, whileCeasing, "GET /api/v1/admin/recipients", s.handleRecipients()},
		{"POST /api/v1/admin/recipients", bearer, policyGated, whileCeasing, "POST /api/v1/admin/recipients", s.handleAddRecipient()},
		{"GET /api/v1/admin/sharing-records", bearer, policyGated, whileCeasing, "GET /api/v1/admin/sharing-records", s.handleSharingRecords()},
		{"POST /api/v1/admin/disclosures", bearer, policyGated, whileCeasing, "POST /api/v1/admin/disclosures", s.handleDisclosure()},
		{"GET /api/v1/admin/stats", bearer, policyGated, whileCeasing, "GET /api/v1/admin/stats", s.handleStats()},
		{"POST /api/v1/admin/announcements", bearer, policyGated, whileCeasing, "POST /api/v1/admin/announcements", s.handleAnnounce()},
		{"GET /api/v1/admin/tickets", bearer, policyGated, whileCeasing, "GET /api/v1/admin/tickets", s.handleStaffTickets()},
		{"GET /api/v1/admin/tickets/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/admin/tickets/{id}", s.handleStaffTicket()},
		{"POST /api/v1/admin/tickets/{id}/messages", bearer, policyGated, whileCeasing, "POST /api/v1/admin/tickets/{id}/messages", s.handleStaffAnswerTicket()},
		// Calls (R-CAL-1..3; calls.go); signalling rides the WebSocket.
		{"POST /api/v1/calls", bearer, policyGated, notWhileCeasing, "POST /api/v1/calls", s.handleStartCall()},
		{"GET /api/v1/calls/{id}", bearer, policyGated, whileCeasing, "GET /api/v1/calls/{id}", s.handleCall()},
		{"POST /api/v1/calls/{id}/join", bearer, policyGated, notWhileCeasing, "POST /api/v1/calls/{id}/join", s.handleCallStep("join")},
		{"POST /api/v1/calls/{id}/decline", bearer, policyGated, whileCeasing, "POST /api/v1/calls/{id}/decline", s.handleCallStep("decline")},
		{"POST /api/v1/calls/{id}/leave", bearer, policyGated, whileCeasing, "POST /api/v1/calls/{id}/leave", s.handleCallStep("leave")},
		{"PUT /api/v1/calls/{id}/media", bearer, policyGated, whileCeasing, "PUT /api/v1/calls/{id}/media", s.handleCallMedia()},
		{"GET /api/v1/ws", bearerOrQuery, policyExempt, whileCeasing, "GET /api/v1/ws", s.handleWS()},
		{"POST /api/v1/ws-tickets", bearer, policyExempt, whileCeasing, "POST /api/v1/ws-tickets", s.handleWSTicket()},
	}
}
