// Package validate holds the pure input rules for accounts and devices: phone
// numbers, usernames, passwords, nicknames, gender and device fields.
//
// Anyone may import it. It does no I/O and keeps no state beyond read-only
// tables built at start-up; it depends only on the tkesj domain package, the
// standard library, golang.org/x/text and github.com/nyaruka/phonenumbers.
//
// Every function either returns the canonical form of its input (the form to
// store and to compare for uniqueness) or a *tkesj.Error of kind
// tkesj.EInvalid with a stable snake_case code. Error messages say what is
// wrong and what to do, and never repeat the input: it may be a phone number
// or a password.
package validate

import (
	_ "embed"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"

	"github.com/tkesj/tkesj"
)

// Error codes. They are stable: clients switch on them.
const (
	codeInvalidPhone     = "invalid_phone"
	codeInvalidUsername  = "invalid_username"
	codeUsernameReserved = "username_reserved"
	codePasswordTooLong  = "password_too_long"
	codeCommonPassword   = "common_password"
	codePasswordPersonal = "password_contains_personal_info"
	codeWeakPassword     = "weak_password"
	codeInvalidNickname  = "invalid_nickname"
	codeInvalidGender    = "invalid_gender"
	codeInvalidDevice    = "invalid_device"
)

// Limits. Messages spell the numbers out; keep them in step.
const (
	maxPhoneBytes       = 40
	minUsernameLen      = 4
	maxUsernameLen      = 32
	minPasswordRunes    = 8
	longPasswordRunes   = 16
	maxPasswordBytes    = 128 // argon2 cost grows with the input
	minPasswordClasses  = 3
	minRelatedRunes     = 4
	maxNicknameRunes    = 32
	maxNicknameRawBytes = 1024 // far above 32 code points plus surrounding space; bounds the work
	maxDeviceIDBytes    = 128
	maxDeviceFieldBytes = 64
)

// Password character classes, as PasswordStrength names them.
const (
	passwordClassLower  = "lower"
	passwordClassUpper  = "upper"
	passwordClassDigit  = "digit"
	passwordClassSymbol = "symbol"
)

const (
	defaultGender          = "unspecified"
	passwordAdviceLongForm = "or use 16 or more characters"
)

// UsernameRule describes the username rule in one sentence, for people and for
// the OpenAPI document.
const UsernameRule = "A username has 4 to 32 characters: an ASCII letter first, then ASCII letters, digits or underscores; " +
	"case is ignored, and a few names such as admin or support are reserved."

// PasswordRule describes the password rule in one sentence, for people and for
// the OpenAPI document.
const PasswordRule = "A password has at least 8 characters using at least 3 of lower-case letters, upper-case letters, digits and symbols, " +
	"or at least 16 characters of any kind; it may be at most 128 bytes long, must not be a commonly used password " +
	"and must not contain your username, phone number or nickname."

func invalid(code, message string) error {
	return &tkesj.Error{Kind: tkesj.EInvalid, Code: code, Message: message}
}

// ---------------------------------------------------------------------------
// Phone numbers (R-ACC-1)

const (
	msgPhoneEmpty    = "enter your phone number; start with + and the country code if it is not a local number"
	msgPhoneTooLong  = "the phone number is too long: enter only the number, with + and the country code"
	msgPhoneChars    = "a phone number may contain only the digits 0-9, spaces, dashes, dots, parentheses and a leading + or 00"
	msgPhoneNoRegion = "start the phone number with + and its country code"
	msgPhoneInvalid  = "this is not a valid phone number: check the digits and the country code"
)

// Phone parses a phone number typed by a person and returns it in E.164 form,
// such as "+8613800138000".
//
// defaultRegion is the ISO 3166-1 region (for example "CN") used for numbers
// written without a country code; it is ignored for numbers that start with
// "+" or "00". Spaces, dashes, dots and parentheses are accepted and dropped,
// as are their full-width forms and full-width digits, which Chinese input
// methods produce. Letters ("1-800-FLOWERS"), extensions and digits of other
// scripts are refused rather than silently converted or dropped. The number
// must be valid, not merely possible, for its country.
func Phone(raw, defaultRegion string) (string, error) {
	if len(raw) > maxPhoneBytes {
		return "", invalid(codeInvalidPhone, msgPhoneTooLong)
	}
	digits, plus, ok := phoneDigits(raw)
	if !ok {
		return "", invalid(codeInvalidPhone, msgPhoneChars)
	}
	if !plus && strings.HasPrefix(digits, "00") {
		// "00" is the international prefix in most of the world; libphonenumber
		// honours it only when it is the prefix of defaultRegion.
		plus, digits = true, digits[2:]
	}
	if digits == "" {
		if plus {
			return "", invalid(codeInvalidPhone, msgPhoneInvalid)
		}
		return "", invalid(codeInvalidPhone, msgPhoneEmpty)
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if plus {
		digits = "+" + digits
	} else if phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return "", invalid(codeInvalidPhone, msgPhoneNoRegion)
	}
	num, err := phonenumbers.Parse(digits, region)
	if err != nil {
		if errors.Is(err, phonenumbers.ErrInvalidCountryCode) && !plus {
			return "", invalid(codeInvalidPhone, msgPhoneNoRegion)
		}
		return "", invalid(codeInvalidPhone, msgPhoneInvalid)
	}
	if num.GetExtension() != "" || !phonenumbers.IsValidNumber(num) {
		return "", invalid(codeInvalidPhone, msgPhoneInvalid)
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if !isE164(e164) {
		return "", invalid(codeInvalidPhone, msgPhoneInvalid)
	}
	return e164, nil
}

// phoneDigits keeps the digits of raw, mapped to ASCII, and reports whether it
// started with a plus sign. ok is false when raw holds anything but digits,
// formatting characters and one leading plus.
func phoneDigits(raw string) (digits string, plus, ok bool) {
	var b strings.Builder
	b.Grow(len(raw))
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９': // full-width digits
			b.WriteRune('0' + (r - '０'))
		case r == '+' || r == '＋':
			if plus || b.Len() > 0 {
				return "", false, false
			}
			plus = true
		case isPhoneSeparator(r):
		default: // letters, extensions, other scripts, invalid UTF-8, controls
			return "", false, false
		}
	}
	return b.String(), plus, true
}

func isPhoneSeparator(r rune) bool {
	switch r {
	case ' ', '\u00A0', '\u3000', // space, no-break space, ideographic space
		'-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '－', // dashes and minus
		'(', ')', '（', '）',
		'.', '．':
		return true
	}
	return false
}

func isE164(s string) bool {
	if len(s) < 2 || len(s) > 16 || s[0] != '+' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Usernames (R-ACC-1)

var reservedUsernames = map[string]bool{
	"admin": true, "administrator": true, "root": true, "system": true,
	"support": true, "tkesj": true, "staff": true, "moderator": true,
	"security": true, "privacy": true, "official": true, "null": true,
	"undefined": true,
}

// Username checks a username against UsernameRule and returns its canonical
// form: surrounding white space removed and letters in lower case. Uniqueness
// is checked against the canonical form.
//
// Only ASCII is accepted, so look-alike letters from other scripts (Cyrillic
// "а", full-width "ａ", the Kelvin sign) are refused, never folded.
func Username(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", invalid(codeInvalidUsername, "choose a username: "+lowerFirst(UsernameRule))
	}
	for i := 0; i < len(s); i++ {
		if !isUsernameByte(s[i]) {
			return "", invalid(codeInvalidUsername, "a username may contain only the letters a-z, the digits 0-9 and underscores")
		}
	}
	if !isASCIILetter(s[0]) {
		return "", invalid(codeInvalidUsername, "start the username with a letter a-z")
	}
	if len(s) < minUsernameLen {
		return "", invalid(codeInvalidUsername, "the username is too short: use at least 4 characters")
	}
	if len(s) > maxUsernameLen {
		return "", invalid(codeInvalidUsername, "the username is too long: use at most 32 characters")
	}
	canonical := strings.ToLower(s) // ASCII only at this point
	if reservedUsernames[canonical] {
		return "", invalid(codeUsernameReserved, "this username is reserved: choose another one")
	}
	return canonical, nil
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isUsernameByte(c byte) bool { return isASCIILetter(c) || c >= '0' && c <= '9' || c == '_' }

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// ---------------------------------------------------------------------------
// Passwords (R-ACC-3)

// commonPasswordsText is a list, one per line, of passwords that appear at the
// top of public leak statistics (RockYou, the yearly "worst passwords" lists,
// the 2011 Chinese forum leaks). It was written by hand for this project.
//
//go:embed common_passwords.txt
var commonPasswordsText string

var commonPasswords = func() map[string]bool {
	m := make(map[string]bool, 512)
	for line := range strings.Lines(commonPasswordsText) {
		if p := strings.TrimSpace(line); p != "" {
			m[strings.ToLower(p)] = true
		}
	}
	return m
}()

func isCommonPassword(pw string) bool { return commonPasswords[strings.ToLower(pw)] }

// Password checks a new password against PasswordRule. related holds values
// the password must not contain, ignoring case: the username, the phone
// number, the nickname. Values shorter than 4 characters are ignored; for a
// phone number in E.164 form the digits without "+" and the national number
// are checked too.
//
// Password checks only new passwords; never use it to refuse a login.
func Password(pw string, related ...string) error {
	if len(pw) > maxPasswordBytes {
		return invalid(codePasswordTooLong, "the password is too long: use at most 128 bytes (128 letters, digits or symbols from a-z, A-Z, 0-9)")
	}
	if pw == "" {
		return invalid(codeWeakPassword, "enter a password: "+lowerFirst(PasswordRule))
	}
	if !utf8.ValidString(pw) {
		return invalid(codeWeakPassword, "the password holds bytes that are not text: type it again using letters, digits and symbols")
	}
	if isCommonPassword(pw) {
		return invalid(codeCommonPassword, "this password is one of the most commonly used and is easy to guess: choose another one")
	}
	if containsRelated(pw, related) {
		return invalid(codePasswordPersonal, "the password contains your username, phone number or nickname: choose one that does not")
	}
	n := utf8.RuneCountInString(pw)
	if n >= longPasswordRunes {
		return nil
	}
	have, missing := passwordClasses(pw)
	if n >= minPasswordRunes && have >= minPasswordClasses {
		return nil
	}
	if have >= minPasswordClasses {
		return invalid(codeWeakPassword, "use a longer password: at least 8 characters, "+passwordAdviceLongForm)
	}
	msg := "use a complex password: "
	if n < minPasswordRunes {
		msg += "make it at least 8 characters long and "
	}
	return invalid(codeWeakPassword, msg+addClassesAdvice(have, missing)+", "+passwordAdviceLongForm)
}

// PasswordStrength rates pw for live feedback in clients, without the personal
// information check that Password also does.
//
// score is 0 for an empty, commonly used, over-long or non-text password, 1
// when it is shorter than 8 characters, 2 when it uses fewer than 3 character
// classes, 3 when it meets the rule with 3 classes and 4 when it uses all 4
// classes or has 16 or more characters. Password accepts pw (given no related
// values) exactly when score is 3 or more.
//
// missing names the character classes pw does not use yet, in this order:
// "lower" (lower-case letter), "upper" (upper-case letter), "digit" and
// "symbol" (anything else, including letters without case such as Chinese
// characters). It is empty for passwords of 16 or more characters, which need
// no particular class.
func PasswordStrength(pw string) (score int, missing []string) {
	n := utf8.RuneCountInString(pw)
	have, missing := passwordClasses(pw)
	if n >= longPasswordRunes {
		missing = nil
	}
	switch {
	case pw == "" || len(pw) > maxPasswordBytes || !utf8.ValidString(pw) || isCommonPassword(pw):
		return 0, missing
	case n < minPasswordRunes:
		return 1, missing
	case n >= longPasswordRunes || have == 4:
		return 4, missing
	case have >= minPasswordClasses:
		return 3, missing
	default:
		return 2, missing
	}
}

// passwordClasses counts the character classes used by pw and lists the
// missing ones in a fixed order.
func passwordClasses(pw string) (have int, missing []string) {
	var lower, upper, digit, symbol bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			symbol = true
		}
	}
	for _, c := range []struct {
		ok   bool
		name string
	}{{lower, passwordClassLower}, {upper, passwordClassUpper}, {digit, passwordClassDigit}, {symbol, passwordClassSymbol}} {
		if c.ok {
			have++
		} else {
			missing = append(missing, c.name)
		}
	}
	return have, missing
}

var passwordClassPhrase = map[string]string{
	passwordClassLower:  "a lower-case letter",
	passwordClassUpper:  "an upper-case letter",
	passwordClassDigit:  "a digit",
	passwordClassSymbol: "a symbol",
}

// addClassesAdvice says which classes to add to reach three: with one class
// it is "add any two of A, B or C", with two "add A or B", with none (an
// empty password, handled earlier) "add three of ...".
func addClassesAdvice(have int, missing []string) string {
	phrases := make([]string, len(missing))
	for i, m := range missing {
		phrases[i] = passwordClassPhrase[m]
	}
	list := joinOr(phrases)
	switch minPasswordClasses - have {
	case 1:
		return "add " + list
	case 2:
		return "add any two of " + list
	default:
		return "add any three of " + list
	}
}

func joinOr(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// containsRelated reports whether pw contains, ignoring case, one of the
// related values of 4 or more characters.
func containsRelated(pw string, related []string) bool {
	lpw := strings.ToLower(pw)
	for _, r := range related {
		for _, v := range relatedForms(strings.TrimSpace(r)) {
			if utf8.RuneCountInString(v) >= minRelatedRunes && strings.Contains(lpw, strings.ToLower(v)) {
				return true
			}
		}
	}
	return false
}

// relatedForms returns v and, when v is an E.164 phone number, the digits
// people actually type: without "+" and without the country code.
func relatedForms(v string) []string {
	forms := []string{v}
	if !isE164(v) {
		return forms
	}
	forms = append(forms, v[1:])
	if num, err := phonenumbers.Parse(v, ""); err == nil {
		forms = append(forms, phonenumbers.GetNationalSignificantNumber(num))
	}
	return forms
}

// ---------------------------------------------------------------------------
// Nicknames and gender (R-ACC-5)

const (
	msgNicknameUTF8      = "the nickname is not valid UTF-8 text: send it as UTF-8"
	msgNicknameEmpty     = "enter a nickname of 1 to 32 characters"
	msgNicknameTooLong   = "the nickname is too long: use at most 32 characters"
	msgNicknameControl   = "remove line breaks, tabs and other control characters from the nickname"
	msgNicknameBidi      = "remove the text-direction control characters from the nickname"
	msgNicknameInvisible = "the nickname must contain at least one visible character"
)

// Nickname cleans a display name: it is put in Unicode normal form C and
// surrounding white space is removed. The result must have 1 to 32 code
// points. Control characters, line and paragraph separators and bidirectional
// controls (which can make a name display as something else) are refused, as
// is a name made only of invisible characters. Zero-width joiners inside a
// name stay allowed: emoji sequences and several scripts need them.
func Nickname(raw string) (string, error) {
	if !utf8.ValidString(raw) {
		return "", invalid(codeInvalidNickname, msgNicknameUTF8)
	}
	if len(raw) > maxNicknameRawBytes {
		return "", invalid(codeInvalidNickname, msgNicknameTooLong)
	}
	s := strings.TrimSpace(norm.NFC.String(raw))
	if s == "" {
		return "", invalid(codeInvalidNickname, msgNicknameEmpty)
	}
	if utf8.RuneCountInString(s) > maxNicknameRunes {
		return "", invalid(codeInvalidNickname, msgNicknameTooLong)
	}
	visible := false
	for _, r := range s {
		switch {
		case isBidiControl(r):
			return "", invalid(codeInvalidNickname, msgNicknameBidi)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return "", invalid(codeInvalidNickname, msgNicknameControl)
		case !isInvisible(r):
			visible = true
		}
	}
	if !visible {
		return "", invalid(codeInvalidNickname, msgNicknameInvisible)
	}
	return s, nil
}

// isBidiControl reports the explicit directional formatting characters:
// embeddings and overrides, isolates, and the implicit marks.
func isBidiControl(r rune) bool {
	return r >= '\u202A' && r <= '\u202E' || // LRE, RLE, PDF, LRO, RLO
		r >= '\u2066' && r <= '\u2069' || // LRI, RLI, FSI, PDI
		r == '\u200E' || r == '\u200F' || r == '\u061C' // LRM, RLM, ALM
}

// isInvisible reports characters that draw nothing: white space, format
// characters (zero-width space and joiners, word joiner, byte order mark, soft
// hyphen, tags...), variation selectors and the fillers that are commonly
// abused to make blank names.
func isInvisible(r rune) bool {
	switch r {
	case '\u034F', // combining grapheme joiner
		'\u115F', '\u1160', '\u3164', '\uFFA0', // Hangul fillers
		'\u17B4', '\u17B5', // Khmer inherent vowels
		'\u2800': // braille pattern blank
		return true
	}
	return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r)
}

var genders = map[string]bool{"male": true, "female": true, "other": true, "unspecified": true}

// Gender returns one of "male", "female", "other" or "unspecified". Empty
// input means "unspecified"; case and surrounding white space are ignored.
func Gender(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return defaultGender, nil
	}
	if len(s) <= len(defaultGender) {
		if g := asciiLower(s); genders[g] {
			return g, nil
		}
	}
	return "", invalid(codeInvalidGender, "gender must be one of male, female, other or unspecified")
}

// asciiLower lower-cases ASCII letters only, so that look-alikes such as the
// Kelvin sign never fold into an accepted value.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Devices (R-DEV-1)

// DeviceID checks a client-generated device identifier: 1 to 128 printable
// ASCII characters without spaces. It is returned unchanged.
func DeviceID(raw string) (string, error) {
	if raw == "" || len(raw) > maxDeviceIDBytes {
		return "", invalid(codeInvalidDevice, "the device id must have 1 to 128 characters")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] > '~' {
			return "", invalid(codeInvalidDevice, "the device id may contain only printable ASCII characters without spaces")
		}
	}
	return raw, nil
}

// DeviceField checks an optional, free-text device field such as "model",
// "os", "app_version" or "network": valid UTF-8 without control or
// text-direction characters, at most 64 bytes once surrounding white space is
// removed. Empty is allowed. name is the field's name as the API spells it; it
// appears in the error message.
func DeviceField(name, raw string) (string, error) {
	field := "device field"
	if isFieldName(name) {
		field = "device " + name
	}
	if !utf8.ValidString(raw) {
		return "", invalid(codeInvalidDevice, "the "+field+" is not valid UTF-8 text: send it as UTF-8")
	}
	s := strings.TrimSpace(raw)
	if len(s) > maxDeviceFieldBytes {
		return "", invalid(codeInvalidDevice, "the "+field+" is too long: use at most 64 bytes")
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) || r == '\u2028' || r == '\u2029' {
			return "", invalid(codeInvalidDevice, "remove control characters from the "+field)
		}
	}
	return s, nil
}

// isFieldName keeps error messages free of anything but an API field name.
func isFieldName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Free text: messages, captions, posts and comments

// Text checks free text a person writes for others to read: valid UTF-8
// with no NUL and no C0 control character other than tab, line feed and
// carriage return (issue 14 item 11). A NUL truncates the text in C-based
// clients, databases and logs that others read it through, and the other
// controls only hide or garble what is shown. Length is the caller's rule.
// It returns a *tkesj.Error of kind EInvalid and code "invalid_text" whose
// message names what describes the text ("a message", "a caption").
func Text(raw, what string) error {
	if !utf8.ValidString(raw) {
		return invalid("invalid_text", what+" is not valid UTF-8 text: send it as UTF-8")
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return invalid("invalid_text", "remove the control characters (such as NUL) from "+what)
		}
	}
	return nil
}
