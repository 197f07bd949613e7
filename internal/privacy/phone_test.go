package privacy

import "testing"

func TestPhoneMasks(t *testing.T) {
	for _, c := range []struct{ phone, masked, staff string }{
		{"+8613900008000", "+*********8000", "+86139****8000"},
		{"+1234567", "+***4567", "****4567"},
		{"+12345678", "+****5678", "+****5678"},
		{"1234", "****", "****"},
		{"", "****", "****"},
	} {
		if got := MaskPhone(c.phone); got != c.masked {
			t.Errorf("MaskPhone(%q) = %q, want %q", c.phone, got, c.masked)
		}
		if got := PhoneForStaff(c.phone); got != c.staff {
			t.Errorf("PhoneForStaff(%q) = %q, want %q", c.phone, got, c.staff)
		}
	}
}
