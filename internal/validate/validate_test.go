package validate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/tkesj/tkesj"
)

// Numbers known to be valid in the phonenumbers metadata, for other tests.
const (
	cnMobile     = "+8613800138000" // 138 0013 8000: CN mobile range 138
	cnMobileNat  = "13800138000"
	usNumber     = "+12025550143" // 555-01xx is reserved for fiction but passes IsValidNumber
	usNumberNat  = "(202) 555-0143"
	sensitiveMin = 6 // inputs this long must never appear in a message
)

// errProblem returns what is wrong with err as a validation failure with
// wantCode for input, or "" when it is right: a *tkesj.Error of kind
// EInvalid, the code wanted, a message a person can act on that does not
// repeat the input.
func errProblem(err error, wantCode string, inputs ...string) string {
	var e *tkesj.Error
	switch {
	case err == nil:
		return "no error"
	case !errors.As(err, &e):
		return fmt.Sprintf("error of type %T, not *tkesj.Error", err)
	case e.Kind != tkesj.EInvalid:
		return fmt.Sprintf("kind %q, not %q", e.Kind, tkesj.EInvalid)
	case wantCode != "" && e.Code != wantCode:
		return fmt.Sprintf("code %q", e.Code)
	case e.Code == "":
		return "empty code"
	case len(e.Message) < 20:
		return fmt.Sprintf("message %q is too short to help anyone", e.Message)
	}
	for _, in := range inputs {
		if echoes(e.Message, in) {
			return fmt.Sprintf("message %q repeats the input", e.Message)
		}
	}
	return ""
}

// echoes reports whether message repeats input, an input of 6 or more bytes.
// Messages are fixed English text, so an input such as "password" or
// " device" may occur in them by coincidence: text that the package also
// produces for unrelated inputs (the message catalogue) is not an echo.
func echoes(message, input string) bool {
	return len(input) >= sensitiveMin && strings.Contains(message, input) && !strings.Contains(messageCatalogue(), input)
}

// messageCatalogue holds every message the validators give for a fixed set
// of inputs that between them take every refusing branch.
var messageCatalogue = sync.OnceValue(func() string {
	var msgs []string
	add := func(_ string, err error) {
		if e, ok := err.(*tkesj.Error); ok {
			msgs = append(msgs, e.Message)
		}
	}
	addErr := func(err error) { add("", err) }
	for _, raw := range []string{"", "+", strings.Repeat("9", 41), "abc", "12345", "+999 1"} {
		add(Phone(raw, "CN"))
	}
	add(Phone("13800138000", ""))
	for _, raw := range []string{"", "1abc", "a-b", "abc", strings.Repeat("a", 33), "admin"} {
		add(Username(raw))
	}
	for _, pw := range []string{"", strings.Repeat("a", 129), "\xff", "password"} {
		addErr(Password(pw))
	}
	addErr(Password("Alice1!xyz", "alice"))
	samples := []string{"q", "Q", "7", "!"}
	for set := 1; set < 16; set++ {
		var base string
		for i, c := range samples {
			if set&(1<<i) != 0 {
				base += c
			}
		}
		for _, n := range []int{3, 8} {
			addErr(Password(strings.Repeat(base, n)[:n]))
		}
	}
	for _, raw := range []string{"\xff", "", strings.Repeat("a", 33), strings.Repeat("a", 2000), "\u202e", "a\nb", "\u200b"} {
		add(Nickname(raw))
	}
	add(Gender("x"))
	add(DeviceID(""))
	add(DeviceID("a b"))
	for _, field := range []string{"model", "os", "app_version", "network", "<bad>"} {
		for _, raw := range []string{"\xff", strings.Repeat("m", 65), "a\nb"} {
			add(DeviceField(field, raw))
		}
	}
	return strings.Join(msgs, "\n")
})

// R-ACC-1: phone numbers are normalised to E.164.
func TestPhoneAcceptsAndNormalises(t *testing.T) {
	tests := []struct {
		name, raw, region, want string
	}{
		{"R-ACC-1 a CN mobile without a country code gets +86", cnMobileNat, "CN", cnMobile},
		{"R-ACC-1 a number already in E.164 is kept", cnMobile, "CN", cnMobile},
		{"R-ACC-1 a number starting with + ignores the default region", "+86 138 0013 8000", "US", cnMobile},
		{"R-ACC-1 spaces and dashes are dropped", "138-0013 8000", "CN", cnMobile},
		{"R-ACC-1 a bracketed country code is accepted", "(+86) 138 0013 8000", "CN", cnMobile},
		{"R-ACC-1 a leading 00 works in CN", "0086 138 0013 8000", "CN", cnMobile},
		{"R-ACC-1 a leading 00 works where the international prefix is 011", "0086 138 0013 8000", "US", cnMobile},
		{"R-ACC-1 a US number in national format", usNumberNat, "US", usNumber},
		{"R-ACC-1 a US number with dots", "202.555.0143", "US", usNumber},
		{"R-ACC-1 a US number with + from a CN phone", "+1 202-555-0143", "CN", usNumber},
		{"R-ACC-1 the region may be lower case", cnMobileNat, "cn", cnMobile},
		{"R-ACC-1 a CN landline is valid too", "010 6552 9988", "CN", "+861065529988"},
		{"R-ACC-1 full-width digits from a Chinese input method are accepted", "１３８００１３８０００", "CN", cnMobile},
		{"R-ACC-1 full-width brackets and dashes are accepted", "（010）6552－9988", "CN", "+861065529988"},
		{"R-ACC-1 no-break spaces copied from a web page are accepted", "+86\u00a0138\u00a00013\u00a08000", "CN", cnMobile},
		{"R-ACC-1 exactly 40 bytes are accepted", cnMobile + strings.Repeat(" ", 40-len(cnMobile)), "CN", cnMobile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Phone(tt.raw, tt.region)
			if err != nil || got != tt.want {
				t.Fatalf("Phone(%q, %q) = %q, %v; want %q, nil", tt.raw, tt.region, got, err, tt.want)
			}
			if again, err := Phone(got, tt.region); err != nil || again != got {
				t.Errorf("Phone(%q, %q) = %q, %v; want %q, nil (idempotent)", got, tt.region, again, err, got)
			}
		})
	}
}

// R-ACC-1: anything that is not clearly one valid phone number is refused.
func TestPhoneRefuses(t *testing.T) {
	tests := []struct {
		name, raw, region string
	}{
		{"R-ACC-1 an empty number is refused", "", "CN"},
		{"R-ACC-1 a number of only spaces is refused", "   ", "CN"},
		{"R-ACC-1 a plus sign alone is refused", "+", "CN"},
		{"R-ACC-1 00 alone is refused", "00", "CN"},
		{"R-ACC-1 41 bytes are refused before parsing, even around a valid number", cnMobile + strings.Repeat(" ", 41-len(cnMobile)), "CN"},
		{"R-ACC-1 a very long input is refused", strings.Repeat("1", 100000), "CN"},
		{"R-ACC-1 a full-width international number is over 40 bytes", "＋８６１３８００１３８０００", "CN"},
		{"R-ACC-1 a too short number is refused", "12345", "CN"},
		{"R-ACC-1 a CN number outside the allocated ranges is refused", "12345678901", "CN"},
		{"R-ACC-1 a possible but invalid US number is refused", "+1 123 456 7890", "US"},
		{"R-ACC-1 an unknown country code is refused", "+999 1234 5678", "CN"},
		{"R-ACC-1 a local number without a default region is refused", cnMobileNat, ""},
		{"R-ACC-1 a local number with an unknown default region is refused", cnMobileNat, "XX"},
		{"R-ACC-1 letters are refused, not turned into digits", "1-800-FLOWERS", "US"},
		{"R-ACC-1 an extension is refused, not silently dropped", "+1 202 555 0143 ext 12", "US"},
		{"R-ACC-1 a hash extension is refused", "+1 202 555 0143#12", "US"},
		{"R-ACC-1 a plus sign in the middle is refused", "86+13800138000", "CN"},
		{"R-ACC-1 two plus signs are refused", "++8613800138000", "CN"},
		{"R-ACC-1 a right-to-left override is refused", "\u202e13800138000", "CN"},
		{"R-ACC-1 a zero-width space is refused", "138\u200b0013\u200b8000", "CN"},
		{"R-ACC-1 Arabic-Indic digits are refused", "١٣٨٠٠١٣٨٠٠٠", "CN"},
		{"R-ACC-1 a newline is refused", cnMobileNat + "\n", "CN"},
		{"R-ACC-1 invalid UTF-8 is refused", "138\xff0013\xfe8000", "CN"},
		{"R-ACC-1 an RFC 3966 URI is refused", "tel:+86-138-0013-8000", "CN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Phone(tt.raw, tt.region)
			if p := errProblem(err, "invalid_phone", tt.raw, strings.TrimSpace(tt.raw)); p != "" || got != "" {
				t.Errorf("Phone(%q, %q) = %q, %v; want \"\" and an invalid_phone error (got %s)", tt.raw, tt.region, got, err, p)
			}
		})
	}
}

// R-ACC-1: usernames are canonical in lower case, ASCII only.
func TestUsernameAccepts(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"R-ACC-1 a plain name is kept", "alice", "alice"},
		{"R-ACC-1 upper case is folded to lower case", "Alice_01", "alice_01"},
		{"R-ACC-1 surrounding white space is removed", "  bob1\t", "bob1"},
		{"R-ACC-1 four characters are enough", "abcd", "abcd"},
		{"R-ACC-1 underscores may follow the first letter", "a___", "a___"},
		{"R-ACC-1 thirty-two characters are allowed", "A" + strings.Repeat("b", 31), "a" + strings.Repeat("b", 31)},
		{"R-ACC-1 a reserved name with a suffix is allowed", "admin1", "admin1"},
		{"R-ACC-1 a name that merely starts like a reserved one is allowed", "roots", "roots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Username(tt.raw)
			if err != nil || got != tt.want {
				t.Fatalf("Username(%q) = %q, %v; want %q, nil", tt.raw, got, err, tt.want)
			}
			if again, err := Username(got); err != nil || again != got {
				t.Errorf("Username(%q) = %q, %v; want %q, nil (idempotent)", got, again, err, got)
			}
		})
	}
}

func TestUsernameRefuses(t *testing.T) {
	tests := []struct {
		name, raw, code string
	}{
		{"R-ACC-1 an empty name is refused", "", "invalid_username"},
		{"R-ACC-1 three characters are too few", "abc", "invalid_username"},
		{"R-ACC-1 thirty-three characters are too many", "a" + strings.Repeat("b", 32), "invalid_username"},
		{"R-ACC-1 a very long name is refused", strings.Repeat("a", 100000), "invalid_username"},
		{"R-ACC-1 a digit first is refused", "1alice", "invalid_username"},
		{"R-ACC-1 an underscore first is refused", "_alice", "invalid_username"},
		{"R-ACC-1 an inner space is refused", "al ice", "invalid_username"},
		{"R-ACC-1 a dash is refused", "al-ice", "invalid_username"},
		{"R-ACC-1 a dot is refused", "al.ice", "invalid_username"},
		{"R-ACC-1 a Cyrillic a that looks Latin is refused", "\u0430lice", "invalid_username"},
		{"R-ACC-1 a Cyrillic homoglyph inside a name is refused", "p\u0430yp\u0430l", "invalid_username"},
		{"R-ACC-1 a Cyrillic look-alike of admin is refused", "\u0430dmin", "invalid_username"},
		{"R-ACC-1 full-width letters are refused", "ａｌｉｃｅ", "invalid_username"},
		{"R-ACC-1 the Kelvin sign that lower-cases to k is refused", "\u212Aelvin", "invalid_username"},
		{"R-ACC-1 a dotless i is refused", "\u0131nfo", "invalid_username"},
		{"R-ACC-1 a zero-width joiner is refused", "ali\u200dce", "invalid_username"},
		{"R-ACC-1 a right-to-left override is refused", "\u202ealice", "invalid_username"},
		{"R-ACC-1 invalid UTF-8 is refused", "ali\xffce", "invalid_username"},
		{"R-ACC-1 a NUL byte is refused", "alice\x00", "invalid_username"},
		{"R-ACC-1 admin is reserved", "admin", "username_reserved"},
		{"R-ACC-1 Admin is reserved whatever its case", "Admin", "username_reserved"},
		{"R-ACC-1 ROOT is reserved", "ROOT", "username_reserved"},
		{"R-ACC-1 the product name is reserved", "TkEsJ", "username_reserved"},
		{"R-ACC-1 a reserved name with spaces around is still reserved", "  support ", "username_reserved"},
	}
	for _, name := range []string{"administrator", "system", "staff", "moderator", "security", "privacy", "official", "null", "undefined"} {
		tests = append(tests, struct{ name, raw, code string }{"R-ACC-1 " + name + " is reserved", strings.ToUpper(name), "username_reserved"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Username(tt.raw)
			if p := errProblem(err, tt.code, tt.raw); p != "" || got != "" {
				t.Errorf("Username(%q) = %q, %v; want \"\" and a %s error (got %s)", tt.raw, got, err, tt.code, p)
			}
		})
	}
}

func TestRulesAreOneSentence(t *testing.T) {
	for name, rule := range map[string]string{"UsernameRule": UsernameRule, "PasswordRule": PasswordRule} {
		t.Run(name+" is one sentence", func(t *testing.T) {
			if !strings.HasSuffix(rule, ".") || strings.Count(rule, ". ") != 0 || strings.Contains(rule, "\n") {
				t.Errorf("%s = %q; want one sentence ending in a full stop", name, rule)
			}
		})
	}
}

// R-ACC-3: password complexity, and explaining what is missing.
func TestPasswordAccepts(t *testing.T) {
	tests := []struct {
		name, pw string
		related  []string
	}{
		{"R-ACC-3 eight characters with three classes are enough", "aB3$efgh", nil},
		{"R-ACC-3 lower, upper and digit are three classes", "Tr0ubadour", nil},
		{"R-ACC-3 sixteen lower-case letters need no other class", "zebrakettlemango", nil},
		{"R-ACC-3 a passphrase with spaces is accepted", "correct horse battery", nil},
		{"R-ACC-3 128 bytes are allowed", strings.Repeat("Ab1!", 32), nil},
		{"R-ACC-3 Cyrillic letters have case", "ПарольПароль1", nil},
		{"R-ACC-3 full-width letters and digits count in their classes", "Ａｂｃｄｅｆ１２", nil},
		{"R-ACC-3 related values shorter than four characters are ignored", "Bob!2024xy", []string{"bob", "", "   "}},
		{"R-ACC-3 a related value not in the password is fine", "Tr0ubadour", []string{"alice", "+8613800138000", "Alice Wong"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Password(tt.pw, tt.related...); err != nil {
				t.Errorf("Password(%q, %q) = %v; want nil", tt.pw, tt.related, err)
			}
		})
	}
}

func TestPasswordRefuses(t *testing.T) {
	tests := []struct {
		name, pw string
		related  []string
		code     string
		message  string // checked exactly when not empty
	}{
		{"R-ACC-3 129 bytes are too long", strings.Repeat("Ab1!", 32) + "x", nil, "password_too_long", ""},
		{"R-ACC-3 a very long password is too long", strings.Repeat("Ab1!", 100000), nil, "password_too_long", ""},
		{"R-ACC-3 an empty password is refused", "", nil, "weak_password", ""},
		{"R-ACC-3 invalid UTF-8 is refused", "Abc123!\xff", nil, "weak_password", ""},
		{"R-ACC-3 password is common", "password", nil, "common_password", ""},
		{"R-ACC-3 common passwords are matched ignoring case", "PassWord", nil, "common_password", ""},
		{"R-ACC-3 a complex but common password is refused", "P@ssw0rd", nil, "common_password", ""},
		{"R-ACC-3 Qwerty123! is common", "Qwerty123!", nil, "common_password", ""},
		{"R-ACC-3 a long but famous passphrase is common", "CorrectHorseBatteryStaple", nil, "common_password", ""},
		{"R-ACC-3 a Chinese favourite is common", "woaini1314", nil, "common_password", ""},
		{"R-ACC-3 the username inside the password is refused", "Alice2024!x", []string{"alice"}, "password_contains_personal_info", ""},
		{"R-ACC-3 the username is matched ignoring case", "xxALICExx1!", []string{"Alice"}, "password_contains_personal_info", ""},
		{"R-ACC-3 the nickname is matched ignoring case", "my-WongFei-9", []string{"", "wongfei"}, "password_contains_personal_info", ""},
		{"R-ACC-3 the phone number as typed nationally is refused", "Xx!13800138000", []string{cnMobile}, "password_contains_personal_info", ""},
		{"R-ACC-3 the phone number without plus is refused", "Xx!8613800138000", []string{cnMobile}, "password_contains_personal_info", ""},
		{"R-ACC-3 plain phone digits given as related are refused", "Xx!13800138000", []string{cnMobileNat}, "password_contains_personal_info", ""},
		{"R-ACC-3 a long password still may not contain the username", "a very long passphrase by alice", []string{"alice"}, "password_contains_personal_info", ""},
		{"R-ACC-3 one class of eight says which two classes to add", "zebrakit", nil, "weak_password",
			"use a complex password: add any two of an upper-case letter, a digit or a symbol, or use 16 or more characters"},
		{"R-ACC-3 two classes say which one to add", "zebraKIT", nil, "weak_password",
			"use a complex password: add a digit or a symbol, or use 16 or more characters"},
		{"R-ACC-3 digits only say which letters or symbols to add", "31415926535", nil, "weak_password",
			"use a complex password: add any two of a lower-case letter, an upper-case letter or a symbol, or use 16 or more characters"},
		{"R-ACC-3 three classes but short asks for length only", "Ab1!", nil, "weak_password",
			"use a longer password: at least 8 characters, or use 16 or more characters"},
		{"R-ACC-3 short and simple asks for both", "zeb", nil, "weak_password",
			"use a complex password: make it at least 8 characters long and add any two of an upper-case letter, a digit or a symbol, or use 16 or more characters"},
		{"R-ACC-3 fifteen lower-case letters are one short of the long form", "zebrakettlemang", nil, "weak_password", ""},
		{"R-ACC-3 Chinese characters count as symbols", "我的密码我的密码1", nil, "weak_password",
			"use a complex password: add a lower-case letter or an upper-case letter, or use 16 or more characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Password(tt.pw, tt.related...)
			if p := errProblem(err, tt.code, append([]string{tt.pw}, tt.related...)...); p != "" {
				t.Fatalf("Password(%q, %q) = %v; want a %s error (got %s)", tt.pw, tt.related, err, tt.code, p)
			}
			if got := err.(*tkesj.Error).Message; tt.message != "" && got != tt.message {
				t.Errorf("Password(%q) message = %q; want %q", tt.pw, got, tt.message)
			}
		})
	}
}

func TestPasswordStrength(t *testing.T) {
	all := []string{"lower", "upper", "digit", "symbol"}
	tests := []struct {
		name, pw   string
		score      int
		missing    []string
		acceptable bool
	}{
		{"R-ACC-3 an empty password scores 0 and misses everything", "", 0, all, false},
		{"R-ACC-3 a common password scores 0", "password", 0, []string{"upper", "digit", "symbol"}, false},
		{"R-ACC-3 an over-long password scores 0", strings.Repeat("Ab1!", 33), 0, nil, false},
		{"R-ACC-3 a short password scores 1", "Ab1!", 1, nil, false},
		{"R-ACC-3 one class scores 2", "zebrakit", 2, []string{"upper", "digit", "symbol"}, false},
		{"R-ACC-3 two classes score 2", "zebra-kit", 2, []string{"upper", "digit"}, false},
		{"R-ACC-3 three classes score 3", "zebraKit1", 3, []string{"symbol"}, true},
		{"R-ACC-3 four classes score 4", "zebraKit1!", 4, nil, true},
		{"R-ACC-3 sixteen characters score 4 and miss nothing", "zebrakettlemango", 4, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			score, missing := PasswordStrength(tt.pw)
			if score != tt.score || !slices.Equal(missing, tt.missing) {
				t.Errorf("PasswordStrength(%q) = %d, %q; want %d, %q", tt.pw, score, missing, tt.score, tt.missing)
			}
			if err := Password(tt.pw); (err == nil) != tt.acceptable {
				t.Errorf("Password(%q) = %v; want acceptable=%v to agree with score %d", tt.pw, err, tt.acceptable, score)
			}
		})
	}
}

func TestCommonPasswordList(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
	t.Run("R-ACC-3 the list holds at least 300 passwords", func(t *testing.T) {
		if len(lines) < 300 || len(commonPasswords) != len(lines) {
			t.Errorf("common_passwords.txt has %d lines, %d distinct; want 300 or more, all distinct", len(lines), len(commonPasswords))
		}
	})
	t.Run("R-ACC-3 every entry is lower case without white space", func(t *testing.T) {
		for i, p := range lines {
			if p == "" || p != strings.ToLower(p) || strings.ContainsAny(p, " \t\r") || !utf8.ValidString(p) {
				t.Errorf("common_passwords.txt line %d = %q; want a non-empty lower-case password", i+1, p)
			}
		}
	})
	t.Run("R-ACC-3 every entry is refused as common in any case", func(t *testing.T) {
		for _, p := range lines {
			for _, v := range []string{p, strings.ToUpper(p)} {
				if err := Password(v); tkesj.ErrorCode(err) != "common_password" {
					t.Errorf("Password(%q) = %v; want a common_password error", v, err)
				}
			}
		}
	})
}

// R-ACC-5: nickname edits.
func TestNicknameAccepts(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"R-ACC-5 a plain name is kept", "Alice", "Alice"},
		{"R-ACC-5 surrounding spaces are removed", "  Alice Wong  ", "Alice Wong"},
		{"R-ACC-5 ideographic spaces around a Chinese name are removed", "\u3000张三\u3000", "张三"},
		{"R-ACC-5 a decomposed accent is composed (NFC)", "Jose\u0301", "Jos\u00e9"},
		{"R-ACC-5 NFC happens before counting", strings.Repeat("e\u0301", 32), strings.Repeat("\u00e9", 32)},
		{"R-ACC-5 thirty-two runes are allowed", strings.Repeat("一", 32), strings.Repeat("一", 32)},
		{"R-ACC-5 zero-width joiners inside an emoji family are allowed", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F468\u200d\U0001F469\u200d\U0001F467"},
		{"R-ACC-5 a right-to-left script is allowed", "محمد", "محمد"},
		{"R-ACC-5 a single character is enough", "A", "A"},
		{"R-ACC-5 an inner no-break space is kept", "Dr.\u00a0Who", "Dr.\u00a0Who"},
		{"R-ACC-5 a soft hyphen beside letters is allowed", "Anna\u00adMaria", "Anna\u00adMaria"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Nickname(tt.raw)
			if err != nil || got != tt.want {
				t.Fatalf("Nickname(%q) = %q, %v; want %q, nil", tt.raw, got, err, tt.want)
			}
			if again, err := Nickname(got); err != nil || again != got || !norm.NFC.IsNormalString(got) {
				t.Errorf("Nickname(%q) = %q, %v; want %q, nil (idempotent, NFC)", got, again, err, got)
			}
		})
	}
}

func TestNicknameRefuses(t *testing.T) {
	tests := []struct {
		name, raw string
	}{
		{"R-ACC-5 an empty nickname is refused", ""},
		{"R-ACC-5 only white space is refused", " \t\u3000 "},
		{"R-ACC-5 thirty-three runes are too many", strings.Repeat("一", 33)},
		{"R-ACC-5 a very long nickname is refused", strings.Repeat("a", 100000)},
		{"R-ACC-5 a lone zero-width space is refused", "\u200b"},
		{"R-ACC-5 only zero-width joiners are refused", "\u200b\u200c\u200d"},
		{"R-ACC-5 word joiner and byte order mark alone are refused", "\u2060\ufeff"},
		{"R-ACC-5 invisible characters between spaces are refused", " \u200b \u200b "},
		{"R-ACC-5 a Hangul filler posing as a blank name is refused", "\u3164"},
		{"R-ACC-5 a braille blank posing as a name is refused", "\u2800\u2800"},
		{"R-ACC-5 a right-to-left override is refused", "\u202egnp.exe"},
		{"R-ACC-5 a left-to-right embedding is refused", "\u202aAlice"},
		{"R-ACC-5 an isolate pair is refused", "abc\u2066def\u2069"},
		{"R-ACC-5 a right-to-left mark is refused", "\u200fAlice"},
		{"R-ACC-5 an inner line break is refused", "line\nbreak"},
		{"R-ACC-5 an inner tab is refused", "tab\there"},
		{"R-ACC-5 a NUL is refused", "nul\x00byte"},
		{"R-ACC-5 a terminal escape is refused", "\x1b[31mred"},
		{"R-ACC-5 a line separator is refused", "one\u2028two"},
		{"R-ACC-5 invalid UTF-8 is refused", "bad\xffname"},
		{"R-ACC-5 a lone surrogate encoding is refused", "a\xed\xa0\x80b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Nickname(tt.raw)
			if p := errProblem(err, "invalid_nickname", tt.raw); p != "" || got != "" {
				t.Errorf("Nickname(%q) = %q, %v; want \"\" and an invalid_nickname error (got %s)", tt.raw, got, err, p)
			}
		})
	}
}

// R-ACC-5: gender edits.
func TestGender(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"R-ACC-5 male is kept", "male", "male"},
		{"R-ACC-5 female is kept", "female", "female"},
		{"R-ACC-5 other is kept", "other", "other"},
		{"R-ACC-5 unspecified is kept", "unspecified", "unspecified"},
		{"R-ACC-5 empty means unspecified", "", "unspecified"},
		{"R-ACC-5 case and spaces are ignored", "  Female ", "female"},
		{"R-ACC-5 an abbreviation is refused", "m", ""},
		{"R-ACC-5 an unknown value is refused", "unknown", ""},
		{"R-ACC-5 a near miss is refused", "males", ""},
		{"R-ACC-5 a Cyrillic look-alike is refused", "m\u0430le", ""},
		{"R-ACC-5 a zero-width space is refused", "male\u200b", ""},
		{"R-ACC-5 a very long value is refused", strings.Repeat("male", 10000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Gender(tt.raw)
			if tt.want == "" {
				if p := errProblem(err, "invalid_gender", tt.raw); p != "" || got != "" {
					t.Errorf("Gender(%q) = %q, %v; want \"\" and an invalid_gender error (got %s)", tt.raw, got, err, p)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Gender(%q) = %q, %v; want %q, nil", tt.raw, got, err, tt.want)
			}
		})
	}
}

// R-DEV-1: device identifiers and descriptive fields.
func TestDeviceID(t *testing.T) {
	tests := []struct {
		name, raw string
		ok        bool
	}{
		{"R-DEV-1 a UUID is accepted", "3f2c9a4e-8b1d-4c6e-9f00-1a2b3c4d5e6f", true},
		{"R-DEV-1 one character is enough", "x", true},
		{"R-DEV-1 128 printable characters are allowed", strings.Repeat("!~", 64), true},
		{"R-DEV-1 an empty id is refused", "", false},
		{"R-DEV-1 129 characters are too many", strings.Repeat("a", 129), false},
		{"R-DEV-1 a space is refused", "device one", false},
		{"R-DEV-1 a surrounding space is refused, not trimmed", " device", false},
		{"R-DEV-1 a tab is refused", "device\t1", false},
		{"R-DEV-1 DEL is refused", "device\x7f", false},
		{"R-DEV-1 non-ASCII is refused", "appareil-é", false},
		{"R-DEV-1 invalid UTF-8 is refused", "dev\xffice", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DeviceID(tt.raw)
			if tt.ok {
				if err != nil || got != tt.raw {
					t.Errorf("DeviceID(%q) = %q, %v; want %q, nil", tt.raw, got, err, tt.raw)
				}
				return
			}
			if p := errProblem(err, "invalid_device", tt.raw); p != "" || got != "" {
				t.Errorf("DeviceID(%q) = %q, %v; want \"\" and an invalid_device error (got %s)", tt.raw, got, err, p)
			}
		})
	}
}

func TestDeviceField(t *testing.T) {
	tests := []struct {
		name, field, raw, want string
		ok                     bool
	}{
		{"R-DEV-1 an empty field is allowed", "model", "", "", true},
		{"R-DEV-1 a model is trimmed", "model", "  iPhone 15 Pro  ", "iPhone 15 Pro", true},
		{"R-DEV-1 a Chinese model name is allowed", "model", "小米 14 Ultra", "小米 14 Ultra", true},
		{"R-DEV-1 an os with a version is allowed", "os", "Android 14", "Android 14", true},
		{"R-DEV-1 64 bytes are allowed", "app_version", strings.Repeat("9", 64), strings.Repeat("9", 64), true},
		{"R-DEV-1 64 bytes after trimming are allowed", "network", " " + strings.Repeat("w", 64) + " ", strings.Repeat("w", 64), true},
		{"R-DEV-1 65 bytes are too many", "model", strings.Repeat("m", 65), "", false},
		{"R-DEV-1 22 Chinese characters are 66 bytes, too many", "model", strings.Repeat("米", 22), "", false},
		{"R-DEV-1 an inner line break is refused", "os", "iOS\n17", "", false},
		{"R-DEV-1 an escape sequence is refused", "network", "\x1b[2Jwifi", "", false},
		{"R-DEV-1 a right-to-left override is refused", "model", "\u202eenohPi", "", false},
		{"R-DEV-1 invalid UTF-8 is refused", "app_version", "1.2\xff", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DeviceField(tt.field, tt.raw)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Errorf("DeviceField(%q, %q) = %q, %v; want %q, nil", tt.field, tt.raw, got, err, tt.want)
				}
				return
			}
			if p := errProblem(err, "invalid_device", tt.raw); p != "" || got != "" {
				t.Fatalf("DeviceField(%q, %q) = %q, %v; want \"\" and an invalid_device error (got %s)", tt.field, tt.raw, got, err, p)
			}
			if msg := err.(*tkesj.Error).Message; !strings.Contains(msg, "device "+tt.field) {
				t.Errorf("DeviceField(%q, %q) message = %q; want it to name the device %s", tt.field, tt.raw, msg, tt.field)
			}
		})
	}
	t.Run("R-DEV-1 a field name that is not an API name stays out of the message", func(t *testing.T) {
		_, err := DeviceField("<script>", "a\nb")
		if msg := tkesj.ErrorCode(err); msg != "invalid_device" || strings.Contains(err.Error(), "<script>") {
			t.Errorf("DeviceField(%q, %q) = %v; want an invalid_device error without the field name", "<script>", "a\nb", err)
		}
	})
}

// The validators are called from many request goroutines at once; under
// -race this checks that phonenumbers' lazily loaded metadata is safe.
func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				raw := fmt.Sprintf("+1 202 555 %04d", 100+i*20+j)
				if _, err := Phone(raw, "US"); tkesj.ErrorKindOf(err) != tkesj.EInvalid && err != nil {
					t.Errorf("Phone(%q, %q) = %v; want nil or an invalid error", raw, "US", err)
				}
				_ = Password("Zebra-Kit-9", "alice", cnMobile)
			}
		})
	}
	wg.Wait()
}

// Issue 14 item 11: NUL and other control characters are refused in text
// people send; tabs and line breaks, emoji and every script are kept.
func TestText(t *testing.T) {
	for _, ok := range []string{"hello", "two\nlines\r\n\tindented", "你好 👋🏽", "", "مرحبا"} {
		if err := Text(ok, "a message"); err != nil {
			t.Errorf("Text(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"a\x00b", "\x00", "bell\x07", "esc\x1b[31m", "del\x7f", "bad \xff utf8"} {
		if err := Text(bad, "a message"); tkesj.ErrorCode(err) != "invalid_text" || tkesj.ErrorKindOf(err) != tkesj.EInvalid {
			t.Errorf("Text(%q) = %v, want EInvalid invalid_text", bad, err)
		}
	}
}

func FuzzText(f *testing.F) {
	f.Add("hello\x00")
	f.Fuzz(func(t *testing.T, s string) {
		if err := Text(s, "a message"); err == nil && (strings.ContainsRune(s, 0) || !utf8.ValidString(s)) {
			t.Fatalf("Text(%q) = nil for text with NUL or invalid UTF-8", s)
		}
	})
}
