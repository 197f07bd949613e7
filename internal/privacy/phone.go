package privacy

// Redaction of phone numbers. The rules live here, not in the packages that
// show or log a number (sms, accounts, compliance), so every mask is the same
// and table-tested in one place.

// MaskPhone keeps the leading plus and the last four digits:
// +8613900008000 -> +*********8000. Used where a number is recorded or
// logged but must not be recoverable (a guardian's consent, SMS logs).
func MaskPhone(phone string) string {
	if len(phone) <= 4 {
		return "****"
	}
	b := []byte(phone)
	for i := 1; i < len(b)-4; i++ {
		b[i] = '*'
	}
	return string(b)
}

// PhoneForStaff hides the four digits before the last four:
// +8613900008000 -> +86139****8000. Support sees enough to match a caller's
// number, not the whole of it.
func PhoneForStaff(phone string) string {
	if len(phone) < 8 {
		return "****"
	}
	return phone[:len(phone)-8] + "****" + phone[len(phone)-4:]
}
