package attack

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// Enumeration (issue 14 items 2 and 3): every unauthenticated endpoint that
// takes a phone number or a login answers a registered and an unregistered
// one alike: the same statuses, the same problem bodies, and times in the
// same class. Each probe runs as a sequence (the second code request meets
// the cooldown; the sixth wrong password meets the throttle), on a fresh
// registered person and a fresh unregistered phone, several times.
// Registration itself is left out: API.md has it answer 409 phone_taken.
func TestEnumeration(t *testing.T) {
	defer budget(t, time.Now(), 3*time.Minute)
	s := start(t)
	type target struct{ phone, login string }
	// Each target asks from a network of its own, so that the per-network
	// counters (which every probe feeds) compare like with like.
	var from string
	do := func(t testing.TB, _, method, path string, body any) response {
		return s.doFrom(t, from, method, path, body)
	}
	probes := []struct {
		name  string
		steps int
		call  func(tg target, step int) response
	}{
		{"a login code, asked for twice", 2, func(tg target, _ int) response {
			return do(t, "", "POST", "/api/v1/verification-codes", map[string]string{"phone": tg.phone, "purpose": "login"})
		}},
		{"a step_up code, asked for twice", 2, func(tg target, _ int) response {
			return do(t, "", "POST", "/api/v1/verification-codes", map[string]string{"phone": tg.phone, "purpose": "step_up"})
		}},
		{"a reset code, asked for twice", 2, func(tg target, _ int) response {
			return do(t, "", "POST", "/api/v1/verification-codes", map[string]string{"phone": tg.phone, "purpose": "reset"})
		}},
		{"seven wrong passwords by username", 7, func(tg target, _ int) response {
			return do(t, "", "POST", "/api/v1/sessions", map[string]any{"login": tg.login, "password": "Wrong-pass-1", "device": map[string]string{"id": "probe"}})
		}},
		{"seven wrong passwords by phone", 7, func(tg target, _ int) response {
			return do(t, "", "POST", "/api/v1/sessions", map[string]any{"login": tg.phone, "password": "Wrong-pass-1", "device": map[string]string{"id": "probe"}})
		}},
		{"seven wrong login codes", 7, func(tg target, _ int) response {
			return do(t, "", "POST", "/api/v1/sessions", map[string]any{"phone": tg.phone, "code": "000000", "device": map[string]string{"id": "probe"}})
		}},
		{"a freeze with a wrong code", 1, func(tg target, _ int) response {
			return do(t, "", "POST", "/api/v1/account-freezes", map[string]any{"phone": tg.phone, "code": "000000"})
		}},
		{"an unfreeze with a wrong code", 1, func(tg target, _ int) response {
			return do(t, "", "POST", "/api/v1/account-unfreezes", map[string]any{"phone": tg.phone, "code": "000000", "new_password": "Brand-new-Pass-7"})
		}},
	}
	const rounds = 4
	requests := 0
	for pi, pr := range probes {
		var known, unknown []time.Duration
		var kAns, uAns []string
		for round := range rounds {
			p := s.register(t, "Probed Pr")
			for i, tg := range []target{{p.Phone, p.Username}, {newPhone(), fmt.Sprintf("nobody_%d_%d", round, seq.Add(1))}} {
				var seqAns []string
				from = fmt.Sprintf("127.%d.%d.1", 20+pi, 2*round+i)
				for step := range pr.steps {
					r := pr.call(tg, step)
					requests++
					seqAns = append(seqAns, fmt.Sprintf("%d %s", r.Status, r.Body))
					if i == 0 {
						known = append(known, r.Took)
					} else {
						unknown = append(unknown, r.Took)
					}
				}
				if i == 0 {
					kAns = append(kAns, fmt.Sprint(seqAns))
				} else {
					uAns = append(uAns, fmt.Sprint(seqAns))
				}
			}
		}
		for i := range kAns {
			if kAns[i] != uAns[i] {
				t.Errorf("%s: a registered person gets %s, an unregistered one %s", pr.name, kAns[i], uAns[i])
				break
			}
		}
		mk, mu := median(known), median(unknown)
		if !sameTimingClass(mk, mu) {
			t.Errorf("%s: median %v for registered, %v for unregistered: different timing classes", pr.name, mk, mu)
		}
		t.Logf("%s: answers alike; median %v registered, %v unregistered", pr.name, mk.Round(time.Microsecond*100), mu.Round(time.Microsecond*100))
	}
	t.Logf("enumeration: %d requests over %d probes of the unauthenticated endpoints", requests, len(probes))
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// sameTimingClass: within 25 ms of each other, or within a factor of three.
// (A webhook call or a password hash would each be far outside.)
func sameTimingClass(a, b time.Duration) bool {
	if a > b {
		a, b = b, a
	}
	return b-a < 25*time.Millisecond || b < 3*a
}
