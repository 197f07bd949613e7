package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// Every endpoint answers hostile input with a 4xx problem document that has a
// stable code: never a 5xx, never a crash, never an effect on anyone else.
func TestHostileInput(t *testing.T) {
	s := startServer(t, "sqlite")
	p := s.register(t, "Target")
	dev := map[string]string{"id": "d"}
	validReg := func() map[string]any {
		phone := newPhone()
		return map[string]any{"phone": phone, "code": "000000", "username": newUsername("bad"), "password": goodPassword,
			"nickname": "N", "policy_version": "1", "device": dev}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	without := func(m map[string]any, k string) map[string]any { delete(m, k); return m }
	cases := []struct {
		name         string
		token        bool
		method, path string
		body         any
		status       int
		code         string
	}{
		{"malformed JSON to codes", false, "POST", "/api/v1/verification-codes", `{"phone":`, 400, "malformed_json"},
		{"an empty body to codes", false, "POST", "/api/v1/verification-codes", ``, 400, "malformed_json"},
		{"a JSON array to codes", false, "POST", "/api/v1/verification-codes", `[1,2]`, 400, "malformed_json"},
		{"two objects to codes", false, "POST", "/api/v1/verification-codes", `{"phone":"13800138000","purpose":"login"}{}`, 400, "malformed_json"},
		{"a number for the phone", false, "POST", "/api/v1/verification-codes", `{"phone":13800138000,"purpose":"login"}`, 422, "invalid_field"},
		{"an unknown field", false, "POST", "/api/v1/verification-codes", `{"phone":"13800138000","purpose":"login","admin":true}`, 422, "unknown_field"},
		{"an unknown purpose", false, "POST", "/api/v1/verification-codes", map[string]string{"phone": "13800138000", "purpose": "pwn"}, 422, "invalid_purpose"},
		{"letters for a phone", false, "POST", "/api/v1/verification-codes", map[string]string{"phone": "call-me-maybe", "purpose": "login"}, 422, "invalid_phone"},
		{"a too-short phone", false, "POST", "/api/v1/verification-codes", map[string]string{"phone": "+86123", "purpose": "login"}, 422, "invalid_phone"},
		{"a phone with an RTL override", false, "POST", "/api/v1/verification-codes", map[string]string{"phone": "\u202e13800138000", "purpose": "login"}, 422, "invalid_phone"},
		{"a huge phone", false, "POST", "/api/v1/verification-codes", map[string]string{"phone": strings.Repeat("9", 5000), "purpose": "login"}, 422, "invalid_phone"},
		{"registration with a wrong code", false, "POST", "/api/v1/accounts", validReg(), 422, "code_mismatch"},
		{"registration without a device", false, "POST", "/api/v1/accounts", without(validReg(), "device"), 422, "invalid_device"},
		{"registration with a device id holding spaces", false, "POST", "/api/v1/accounts", with(validReg(), "device", map[string]string{"id": "a b"}), 422, "invalid_device"},
		{"registration with a device that is a string", false, "POST", "/api/v1/accounts", with(validReg(), "device", "phone"), 422, "invalid_field"},
		{"registration with a Cyrillic look-alike username", false, "POST", "/api/v1/accounts", with(validReg(), "username", "аdmin_x"), 422, "invalid_username"},
		{"registration as a reserved name", false, "POST", "/api/v1/accounts", with(validReg(), "username", "Admin"), 422, "username_reserved"},
		{"registration with a zero-width nickname", false, "POST", "/api/v1/accounts", with(validReg(), "nickname", "\u200b\u200b"), 422, "invalid_nickname"},
		{"registration with a future birth date", false, "POST", "/api/v1/accounts", with(validReg(), "birth_date", "2999-01-01"), 422, "invalid_birth_date"},
		{"registration with a non-date birth date", false, "POST", "/api/v1/accounts", with(validReg(), "birth_date", "yesterday"), 422, "invalid_birth_date"},
		{"registration with a number for the password", false, "POST", "/api/v1/accounts", with(validReg(), "password", 12345678), 422, "invalid_field"},
		{"registration with a too-long password", false, "POST", "/api/v1/accounts", with(validReg(), "password", strings.Repeat("Aa1!", 40)), 422, "password_too_long"},
		{"login with nothing", false, "POST", "/api/v1/sessions", map[string]any{"device": dev}, 422, "missing_credentials"},
		{"login with a huge password", false, "POST", "/api/v1/sessions", map[string]any{"login": p.Username, "password": strings.Repeat("x", 10000), "device": dev}, 401, "invalid_credentials"},
		{"login with a null device", false, "POST", "/api/v1/sessions", `{"login":"x","password":"y","device":null}`, 422, "invalid_device"},
		{"me without a token", false, "GET", "/api/v1/me", nil, 401, "unauthenticated"},
		{"logout without a token", false, "DELETE", "/api/v1/sessions/current", nil, 401, "unauthenticated"},
		{"patch me with a number nickname", true, "PATCH", "/api/v1/me", `{"nickname":5}`, 422, "invalid_field"},
		{"patch me with my phone", true, "PATCH", "/api/v1/me", `{"phone":"+8613800000000"}`, 422, "unknown_field"},
		{"a path-traversal device id", true, "DELETE", "/api/v1/me/devices/..%2F..%2Fetc", nil, 404, "not_found"},
		{"a permission name with a slash", true, "PUT", "/api/v1/me/permissions/location%2Fx", map[string]bool{"granted": true}, 404, "unknown_permission"},
		{"an unknown API path", true, "GET", "/api/v1/nothing-here", nil, 404, "not_found"},
		{"a wrong method on a known path", true, "PUT", "/api/v1/me/consents", nil, 405, "method_not_allowed"},
		{"destroy with malformed JSON", true, "DELETE", "/api/v1/me", `{"password"`, 400, "malformed_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := ""
			if tc.token {
				tok = p.Token
			}
			want(t, s.do(t, tok, tc.method, tc.path, tc.body), tc.status, tc.code)
		})
	}
	// None of it touched the person it was aimed near.
	want(t, s.do(t, p.Token, "GET", "/api/v1/me", nil), 200, "")
	for _, header := range []string{"Bearer", "Bearer ", "Bearer tk_", "Bearer tk_" + strings.Repeat("A", 500), "Basic abc", p.Token, "Bearer " + p.Token + "x"} {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("Authorization %.20q... = %d, want 401", header, resp.StatusCode)
		}
	}
	if strings.Contains(s.Log.String(), `"status":500`) {
		t.Error("some hostile input caused a 500")
	}
}
