package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// Issue 14 item 11: a request whose client went away is not our error. It
// is logged at info as abandoned and counted 499, never an ERROR and a 500.
func TestWriteErrorForAnAbandonedRequest(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("POST", "/api/v1/media", nil).WithContext(ctx)
	cancel() // the client hung up while the handler waited
	w := httptest.NewRecorder()
	writeError(w, r, log, ctx.Err())
	if w.Code != statusClientClosed {
		t.Errorf("status = %d, want %d", w.Code, statusClientClosed)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "abandoned") {
		t.Errorf("log = %s, want an info line saying abandoned and no ERROR", logs.String())
	}
}
