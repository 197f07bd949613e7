package messaging

import (
	"reflect"
	"testing"
)

// TestPendingPushHoldsNoText: a push waiting for its delay holds ids and its
// due time only; the text is read when the push is sent, if a preview needs
// it, so no plaintext sits in memory for the delay (STYLE: privacy). The
// recipients and the people it mentions are ids too, held so that the push
// reads nothing at all for people online (issue 17).
func TestPendingPushHoldsNoText(t *testing.T) {
	allowed := map[string]bool{"convID": true, "seq": true, "senderID": true, "due": true, "recipients": true, "mentioned": true}
	ty := reflect.TypeFor[pendingPush]()
	for i := range ty.NumField() {
		if f := ty.Field(i); !allowed[f.Name] {
			t.Errorf("pendingPush has field %s (%s); it may hold only ids and a time", f.Name, f.Type)
		}
	}
}
