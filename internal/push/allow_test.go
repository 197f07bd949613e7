package push

import "testing"

// A test's own push service is accepted only when the operator lists its
// host (--push-allow-hosts); the list never lets other hosts, user info or
// other schemes through.
func TestValidateAllowing(t *testing.T) {
	allow := []string{"10.0.0.7:9000", "push.test"}
	for _, c := range []struct {
		name, endpoint string
		valid          bool
	}{
		{"a listed host:port over plain http is accepted", "http://10.0.0.7:9000/p/1", true},
		{"a listed host name over plain http is accepted on any port", "http://push.test:81/p", true},
		{"the listed address on another port is refused", "http://10.0.0.7:9001/p", false},
		{"an unlisted private address is refused", "http://10.0.0.8:9000/p", false},
		{"a listed host with user info is refused", "http://u:p@push.test/p", false},
		{"a listed host over another scheme is refused", "ftp://push.test/p", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := validSubscription(t)
			s.Endpoint = c.endpoint
			if err := s.ValidateAllowing(allow); (err == nil) != c.valid {
				t.Errorf("ValidateAllowing(%q) = %v, want valid %v", c.endpoint, err, c.valid)
			}
			if err := s.Validate(); err == nil && c.endpoint != "" && c.valid && c.endpoint[:11] != "http://127." {
				t.Errorf("Validate(%q) without the list = nil, want refused", c.endpoint)
			}
		})
	}
}
