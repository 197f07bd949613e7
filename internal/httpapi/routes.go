package httpapi

import "net/http"

// route is one entry of the API. The OpenAPI document is checked against this
// table by a test: every route is documented and every documented path routes.
type route struct {
	method, path string
	auth         bool
	handler      http.Handler
}

// routes lists every route the server has.
func (s *server) routes() []route {
	return []route{
		{"GET", "/healthz", false, s.handleHealthz()},
		{"GET", "/api/v1/openapi.json", false, handleOpenAPI()},
		{"GET", "/api/v1/policy", false, s.handlePolicy()},

		{"POST", "/api/v1/verification-codes", false, s.handleRequestCode()},
		{"POST", "/api/v1/accounts", false, s.handleRegister()},
		{"POST", "/api/v1/sessions", false, s.handleLogin()},
		{"DELETE", "/api/v1/sessions/current", true, s.handleLogout()},

		{"GET", "/api/v1/me", true, s.handleMe()},
		{"PATCH", "/api/v1/me", true, s.handleUpdateMe()},
		{"DELETE", "/api/v1/me", true, s.handleDestroyAccount()},
		{"GET", "/api/v1/me/devices", true, s.handleDevices()},
		{"DELETE", "/api/v1/me/devices/{id}", true, s.handleSignOutDevice()},
		{"GET", "/api/v1/me/permissions", true, s.handlePermissions()},
		{"PUT", "/api/v1/me/permissions/{name}", true, s.handleSetPermission()},
		{"GET", "/api/v1/me/consents", true, s.handleConsents()},
		{"POST", "/api/v1/policy/accept", true, s.handleAcceptPolicy()},
		{"POST", "/api/v1/me/guardian", true, s.handleGuardianCode()},
		{"POST", "/api/v1/me/guardian/confirm", true, s.handleGuardianConfirm()},
		{"POST", "/api/v1/me/rights-requests", true, s.handleCreateRightsRequest()},
		{"GET", "/api/v1/me/rights-requests", true, s.handleRightsRequests()},
		{"POST", "/api/v1/me/rights-requests/{id}/verify", true, s.handleVerifyRightsRequest()},
		{"GET", "/api/v1/me/settings", true, s.handleSettings()},
		{"PATCH", "/api/v1/me/settings", true, s.handleUpdateSettings()},

		{"GET", "/api/v1/users", true, s.handleSearchUsers()},
		{"POST", "/api/v1/friend-requests", true, s.handleSendFriendRequest()},
		{"GET", "/api/v1/friend-requests", true, s.handleFriendRequests()},
		{"POST", "/api/v1/friend-requests/{id}/accept", true, s.handleAnswerFriendRequest(true)},
		{"POST", "/api/v1/friend-requests/{id}/decline", true, s.handleAnswerFriendRequest(false)},
		{"GET", "/api/v1/contacts", true, s.handleContacts()},
		{"PATCH", "/api/v1/contacts/{id}", true, s.handleUpdateContact()},
		{"DELETE", "/api/v1/contacts/{id}", true, s.handleRemoveContact()},
		{"GET", "/api/v1/blocks", true, s.handleBlocked()},
		{"PUT", "/api/v1/blocks/{id}", true, s.handleBlock(true)},
		{"DELETE", "/api/v1/blocks/{id}", true, s.handleBlock(false)},

		{"POST", "/api/v1/conversations", true, s.handleCreateConversation()},
		{"GET", "/api/v1/conversations", true, s.handleConversations()},
		{"GET", "/api/v1/conversations/{id}", true, s.handleConversation()},
		{"PATCH", "/api/v1/conversations/{id}", true, s.handleUpdateConversation()},
		{"POST", "/api/v1/conversations/{id}/members", true, s.handleAddMembers()},
		{"DELETE", "/api/v1/conversations/{id}/members/{user}", true, s.handleRemoveMember()},
		{"PATCH", "/api/v1/conversations/{id}/members/{user}", true, s.handleSetRole()},
		{"PUT", "/api/v1/conversations/{id}/mute", true, s.handleMute()},
		{"POST", "/api/v1/conversations/{id}/read", true, s.handleRead()},
		{"POST", "/api/v1/conversations/{id}/messages", true, s.handleSendMessage()},
		{"GET", "/api/v1/conversations/{id}/messages", true, s.handleMessages()},
		{"POST", "/api/v1/conversations/{id}/messages/{seq}/recall", true, s.handleRecall()},
		{"DELETE", "/api/v1/conversations/{id}/messages/{seq}", true, s.handleDeleteForMe()},
		{"GET", "/api/v1/search", true, s.handleSearch()},
		{"GET", "/api/v1/push/vapid-key", false, s.handleVAPIDKey()},
		{"PUT", "/api/v1/me/push-subscription", true, s.handleSetPushSubscription()},
		{"DELETE", "/api/v1/me/push-subscription", true, s.handleDeletePushSubscription()},
		{"POST", "/api/v1/media", true, s.handleUpload()},
		{"GET", "/api/v1/media/{id}", true, s.handleMedia()},
		{"DELETE", "/api/v1/media/{id}", true, s.handleDeleteMedia()},
		{"PUT", "/api/v1/me/avatar", true, s.handleSetAvatar()},
		{"GET", "/api/v1/users/{id}/avatar", true, s.handleAvatar()},
		{"POST", "/api/v1/me/exports", true, s.handleStartExport()},
		{"GET", "/api/v1/me/exports", true, s.handleExports()},
		{"GET", "/api/v1/me/exports/{id}", true, s.handleExport()},
		{"GET", "/api/v1/me/exports/{id}/download", true, s.handleDownloadExport()},
		{"GET", "/api/v1/ws", true, s.handleWS()},
	}
}
