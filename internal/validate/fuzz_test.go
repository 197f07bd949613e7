package validate

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/tkesj/tkesj"
)

// checkFuzzError holds the invariants shared by every fuzz target: an error
// is a *tkesj.Error of kind EInvalid with a code and a message that does not
// repeat the input.
func checkFuzzError(t *testing.T, call string, err error, inputs ...string) {
	t.Helper()
	var e *tkesj.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %v is %T; want *tkesj.Error", call, err, err)
	}
	if e.Kind != tkesj.EInvalid || e.Code == "" || e.Message == "" {
		t.Fatalf("%s: error kind %q, code %q, message %q; want kind %q with a code and a message", call, e.Kind, e.Code, e.Message, tkesj.EInvalid)
	}
	for _, in := range inputs {
		if echoes(e.Message, in) {
			t.Fatalf("%s: message %q repeats the input", call, e.Message)
		}
	}
}

var fuzzRegions = []string{"CN", "US", "GB", "DE", "IN", "HK", "", "ZZ", "cn"}

// R-ACC-1
func FuzzPhone(f *testing.F) {
	for _, s := range []string{
		cnMobileNat, cnMobile, "0086 138 0013 8000", "(+86) 138-0013-8000", usNumberNat, usNumber,
		"１３８００１３８０００", "1-800-FLOWERS", "+1 202 555 0143 ext 1", "\u202e13800138000", "00", "+", "",
		"+44 20 7946 0958", "+39 06 6982 0000", "+800 1234 5678", "138\xff00138000",
	} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, raw string, regionIndex uint8) {
		region := fuzzRegions[int(regionIndex)%len(fuzzRegions)]
		got, err := Phone(raw, region)
		if err != nil {
			if got != "" {
				t.Fatalf("Phone(%q, %q) = %q, %v; want \"\" with the error", raw, region, got, err)
			}
			checkFuzzError(t, "Phone", err, raw, strings.TrimSpace(raw))
			return
		}
		if !isE164(got) {
			t.Fatalf("Phone(%q, %q) = %q, nil; want E.164", raw, region, got)
		}
		for _, r := range fuzzRegions {
			if again, err := Phone(got, r); err != nil || again != got {
				t.Fatalf("Phone(%q, %q) = %q, %v; want %q, nil (idempotent whatever the region)", got, r, again, err, got)
			}
		}
	})
}

// R-ACC-1
func FuzzUsername(f *testing.F) {
	for _, s := range []string{"alice", "Alice_01", " bob1 ", "abc", "1abc", "admin", "ADMIN", "\u0430lice", "ａｌｉｃｅ", "\u212Aelvin", "ali\xffce", strings.Repeat("a", 33)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Username(raw)
		if err != nil {
			if got != "" {
				t.Fatalf("Username(%q) = %q, %v; want \"\" with the error", raw, got, err)
			}
			checkFuzzError(t, "Username", err, raw, strings.TrimSpace(raw))
			return
		}
		if len(got) < 4 || len(got) > 32 || !isASCIILetter(got[0]) || got != strings.ToLower(got) || reservedUsernames[got] {
			t.Fatalf("Username(%q) = %q, nil; want 4 to 32 lower-case characters starting with a letter, not reserved", raw, got)
		}
		for i := 0; i < len(got); i++ {
			if !isUsernameByte(got[i]) {
				t.Fatalf("Username(%q) = %q, nil; want only a-z, 0-9 and _", raw, got)
			}
		}
		if again, err := Username(got); err != nil || again != got {
			t.Fatalf("Username(%q) = %q, %v; want %q, nil (idempotent)", got, again, err, got)
		}
	})
}

// R-ACC-3
func FuzzPassword(f *testing.F) {
	for _, s := range [][2]string{
		{"Tr0ubadour", ""}, {"password", ""}, {"P@ssw0rd", ""}, {"Alice2024!x", "alice"}, {"Xx!13800138000", cnMobile},
		{"zebrakit", ""}, {"Ab1!", ""}, {"我的密码我的密码1", "张三"}, {"correct horse battery", "horse"}, {strings.Repeat("Ab1!", 33), ""},
		{"Abc123!\xff", ""}, {"ПарольПароль1", "пароль"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pw, related string) {
		err := Password(pw, related)
		score, missing := PasswordStrength(pw)
		if score < 0 || score > 4 || len(missing) > 4 {
			t.Fatalf("PasswordStrength(%q) = %d, %q; want a score in 0..4 and at most 4 classes", pw, score, missing)
		}
		errAlone := Password(pw)
		if (errAlone == nil) != (score >= 3) {
			t.Fatalf("Password(%q) = %v but PasswordStrength(%q) = %d; want acceptance exactly at score 3 or more", pw, errAlone, pw, score)
		}
		if r := strings.TrimSpace(related); utf8.RuneCountInString(r) >= 4 && strings.Contains(strings.ToLower(pw), strings.ToLower(r)) && err == nil {
			t.Fatalf("Password(%q, %q) = nil; want an error, the password contains the related value", pw, related)
		}
		if err != nil {
			checkFuzzError(t, "Password", err, pw, related)
			return
		}
		if errAlone != nil {
			t.Fatalf("Password(%q, %q) = nil but Password(%q) = %v; want related values only to add refusals", pw, related, pw, errAlone)
		}
		if again := Password(pw, related); again != nil {
			t.Fatalf("Password(%q, %q) = %v; want nil again", pw, related, again)
		}
	})
}

// R-ACC-5
func FuzzNickname(f *testing.F) {
	for _, s := range []string{
		"Alice", "  Alice Wong  ", "\u3000张三\u3000", "Jose\u0301", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "محمد",
		"\u200b\u200c\u200d", "\u3164", "\u202egnp.exe", "line\nbreak", "bad\xffname", strings.Repeat("一", 33), " \u0301a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Nickname(raw)
		if err != nil {
			if got != "" {
				t.Fatalf("Nickname(%q) = %q, %v; want \"\" with the error", raw, got, err)
			}
			checkFuzzError(t, "Nickname", err, raw, strings.TrimSpace(raw))
			return
		}
		if n := utf8.RuneCountInString(got); n < 1 || n > 32 || !utf8.ValidString(got) || !norm.NFC.IsNormalString(got) || got != strings.TrimSpace(got) {
			t.Fatalf("Nickname(%q) = %q, nil; want 1 to 32 runes of trimmed NFC text", raw, got)
		}
		for _, r := range got {
			if isBidiControl(r) {
				t.Fatalf("Nickname(%q) = %q, nil; want no bidi controls", raw, got)
			}
		}
		if again, err := Nickname(got); err != nil || again != got {
			t.Fatalf("Nickname(%q) = %q, %v; want %q, nil (idempotent)", got, again, err, got)
		}
	})
}
