package e2e

import (
	"testing"
)

// R-ACC-6: a forgotten password is reset with a code to the phone; the reset
// signs out every device and closes their sockets (4001); wrong pairs, codes
// of another purpose and replayed codes are the same 401 whether or not the
// phone is registered, and change nothing.
func TestPasswordReset(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		p := s.register(t, "Forgetful")
		tablet := s.login(t, p, "tablet-1")
		sock := s.ws(t, tablet)
		sock.next("ready")
		unknown := newPhone()
		const next = "New-pa55word-9"

		// Asking for a code says nothing about the phone.
		want(t, s.do(t, "", "POST", "/api/v1/verification-codes", map[string]string{"phone": unknown, "purpose": "reset"}), 202, "")
		if s.SMS.Last(unknown, "reset") != "" {
			t.Fatal("a reset code went to a phone without an account")
		}
		code := s.code(t, p.Phone, "reset")

		t.Run("a wrong pair is the same 401 for known and unknown phones", func(t *testing.T) {
			wrong := "000000"
			if code == wrong {
				wrong = "000001"
			}
			known := s.do(t, "", "POST", "/api/v1/password-resets", map[string]any{"phone": p.Phone, "code": wrong, "new_password": next})
			want(t, known, 401, "invalid_credentials")
			other := s.do(t, "", "POST", "/api/v1/password-resets", map[string]any{"phone": unknown, "code": code, "new_password": next})
			want(t, other, 401, "invalid_credentials")
			if known.str(t, "detail") != other.str(t, "detail") {
				t.Errorf("details differ: %q vs %q", known.str(t, "detail"), other.str(t, "detail"))
			}
		})
		t.Run("a code for another purpose does not reset", func(t *testing.T) {
			login := s.code(t, p.Phone, "login")
			want(t, s.do(t, "", "POST", "/api/v1/password-resets", map[string]any{"phone": p.Phone, "code": login, "new_password": next}), 401, "invalid_credentials")
		})
		t.Run("a weak password is refused before the code is spent", func(t *testing.T) {
			want(t, s.do(t, "", "POST", "/api/v1/password-resets", map[string]any{"phone": p.Phone, "code": code, "new_password": "short"}), 422, "weak_password")
		})
		want(t, s.do(t, p.Token, "GET", "/api/v1/me", nil), 200, "")

		want(t, s.do(t, "", "POST", "/api/v1/password-resets", map[string]any{"phone": p.Phone, "code": code, "new_password": next}), 204, "")
		if c := sock.waitClosed(); c != 4001 {
			t.Errorf("socket closed with %d, want 4001", c)
		}
		for _, tok := range []string{p.Token, tablet} {
			want(t, s.do(t, tok, "GET", "/api/v1/me", nil), 401, "")
		}
		want(t, s.do(t, "", "POST", "/api/v1/sessions", map[string]any{"login": p.Username, "password": p.Password, "device": map[string]string{"id": p.Device}}), 401, "invalid_credentials")
		p.Password = next
		s.login(t, p, "phone-2")

		t.Run("a used code cannot be replayed", func(t *testing.T) {
			want(t, s.do(t, "", "POST", "/api/v1/password-resets", map[string]any{"phone": p.Phone, "code": code, "new_password": "Another-pa55-word"}), 401, "invalid_credentials")
			s.login(t, p, "phone-3")
		})
		t.Run("tries are counted per phone, registered or not", func(t *testing.T) {
			var last response
			for i := 0; i < 12; i++ {
				last = s.do(t, "", "POST", "/api/v1/password-resets", map[string]any{"phone": unknown, "code": "123456", "new_password": next})
				if last.Status == 429 {
					break
				}
				want(t, last, 401, "invalid_credentials")
			}
			want(t, last, 429, "rate_limited")
			if last.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	})
}

// R-ACC-6: a person moves their account to a new phone with a code sent to
// the new number and their password; a number another account holds is 409
// before any code; a code asked by one person is no good to another.
func TestChangePhone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		p := s.register(t, "Mover")
		q := s.register(t, "Other")
		fresh := newPhone()
		ask := func(token, phone string) response {
			return s.do(t, token, "POST", "/api/v1/verification-codes", map[string]string{"phone": phone, "purpose": "change_phone"})
		}

		want(t, ask("", fresh), 401, "")
		want(t, ask(p.Token, q.Phone), 409, "phone_taken")
		want(t, ask(p.Token, p.Phone), 422, "same_phone")
		if s.SMS.Last(q.Phone, "change_phone") != "" {
			t.Fatal("a change_phone code went to a number another account holds")
		}
		want(t, ask(p.Token, fresh), 202, "")
		code := s.SMS.Last(fresh, "change_phone")
		if code == "" {
			t.Fatal("no change_phone code reached the new number")
		}
		change := func(token, phone, code, password string) response {
			return s.do(t, token, "POST", "/api/v1/me/phone", map[string]string{"phone": phone, "code": code, "password": password})
		}
		t.Run("hostile changes change nothing", func(t *testing.T) {
			want(t, change(q.Token, fresh, code, q.Password), 422, "code_mismatch") // bound to p
			want(t, change(p.Token, fresh, code, "wrong-Pa55word"), 403, "reverification_failed")
			want(t, change(p.Token, q.Phone, code, p.Password), 409, "phone_taken")
			reset := s.code(t, p.Phone, "reset")
			want(t, change(p.Token, fresh, reset, p.Password), 422, "code_mismatch") // another purpose
			want(t, s.do(t, "", "POST", "/api/v1/password-resets", map[string]any{"phone": fresh, "code": code, "new_password": "New-pa55word-9"}), 401, "invalid_credentials")
			me := s.do(t, p.Token, "GET", "/api/v1/me", nil)
			if got := me.str(t, "phone"); got != p.Phone {
				t.Fatalf("phone = %s after refused changes, want the old one", got)
			}
		})
		r := change(p.Token, fresh, code, p.Password)
		want(t, r, 200, "")
		if got := r.str(t, "phone"); got != fresh {
			t.Errorf("phone = %s, want the new one", got)
		}
		want(t, change(p.Token, fresh, code, p.Password), 422, "same_phone")
		// The new number signs in; the old one is nobody's.
		want(t, s.do(t, "", "POST", "/api/v1/sessions", map[string]any{"login": fresh, "password": p.Password, "device": map[string]string{"id": "d-new"}}), 201, "")
		want(t, s.do(t, "", "POST", "/api/v1/sessions", map[string]any{"login": p.Phone, "password": p.Password, "device": map[string]string{"id": "d-old"}}), 401, "invalid_credentials")
		// Sessions stay.
		want(t, s.do(t, p.Token, "GET", "/api/v1/me", nil), 200, "")
	})
}
