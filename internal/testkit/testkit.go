// Package testkit is what the suites that run a whole tkesj (internal/e2e,
// internal/attack) share: the SMS gateway's webhook they stand in for, a log
// sink they can read while the server writes, and cheap password hashing.
// Only tests import it.
package testkit

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/tkesj/tkesj/internal/passhash"
)

// CheapHash makes password hashing fast enough for suites that register
// hundreds of people; production parameters are set by the operator.
var CheapHash = passhash.Params{MemoryKiB: 64, Time: 1, Threads: 1}

// SMSInbox is the SMS gateway as the server's webhook adapter sees it: it
// keeps every code the server sends, for tests to read like a phone would.
type SMSInbox struct {
	mu    sync.Mutex
	codes []map[string]string
}

// ServeHTTP receives one webhook call.
func (in *SMSInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]string
	json.NewDecoder(r.Body).Decode(&m)
	in.mu.Lock()
	in.codes = append(in.codes, m)
	in.mu.Unlock()
}

// Last returns the newest code sent to phone for purpose, or "".
func (in *SMSInbox) Last(phone, purpose string) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := len(in.codes) - 1; i >= 0; i-- {
		if c := in.codes[i]; c["phone"] == phone && c["purpose"] == purpose {
			return c["code"]
		}
	}
	return ""
}

// Count is how many messages the gateway was asked to send.
func (in *SMSInbox) Count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.codes)
}

// LogBuffer is a log sink tests can read while the server writes to it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
