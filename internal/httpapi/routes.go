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
	}
}
