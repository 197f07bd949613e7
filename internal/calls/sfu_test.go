package calls

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// R-CAL-2: the SFU drops a participant only on a view of the call at least
// as new as the one that admitted them. Views are read by concurrent
// goroutines and may come late: one read before a person joined must not
// close the connection they opened after joining (the group call's late
// joiner that some peers never heard).
func TestSFUKeepIgnoresOlderViews(t *testing.T) {
	offers := make(chan string, 8)
	sfu, err := NewSFU(SFUConfig{Loopback: true}, func(callID, userID string, device []byte, signal json.RawMessage) {
		var s sfuSignal
		if json.Unmarshal(signal, &s) == nil && s.Type == "offer" {
			offers <- userID
		}
	}, func(string, string, []byte) {}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sfu.Close()
	ivy := Participant{UserID: "ivy", Device: []byte{1}}
	sfu.Signal("call", MediaAudio, ivy.UserID, ivy.Device, 6, json.RawMessage(`{"type":"hello"}`))
	select {
	case who := <-offers:
		if who != "ivy" {
			t.Fatalf("offer went to %s", who)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no offer after hello")
	}
	in := func() bool {
		// Keep runs on the room's goroutine; a no-op signal after it
		// waits for it to finish.
		done := make(chan struct{})
		r := sfu.room("call", MediaAudio)
		r.enqueue(func() { close(done) })
		<-done
		r.mu.Lock()
		defer r.mu.Unlock()
		_, ok := r.peers["ivy"]
		return ok
	}
	sfu.Keep("call", 5, []Participant{{UserID: "gia", Device: []byte{2}}})
	if !in() {
		t.Fatal("a view of the call older than Ivy's join (version 5 < 6) dropped her")
	}
	sfu.Keep("call", 7, []Participant{{UserID: "gia", Device: []byte{2}}, ivy})
	if !in() {
		t.Fatal("a newer view with Ivy in it dropped her")
	}
	sfu.Keep("call", 8, []Participant{{UserID: "gia", Device: []byte{2}}})
	if in() {
		t.Fatal("a newer view without Ivy (she left) kept her connection")
	}
}

// A hello while an offer is out (the client restarting ICE, perhaps on a new
// socket that never saw the offer) sends that offer again under its number;
// an answer naming another offer is ignored, not applied.
func TestSFUOffersAgainAndIgnoresAnswersToOtherOffers(t *testing.T) {
	type offer struct {
		n   int
		sdp string
	}
	got := make(chan offer, 8)
	sfu, err := NewSFU(SFUConfig{Loopback: true}, func(callID, userID string, device []byte, signal json.RawMessage) {
		var s sfuSignal
		if json.Unmarshal(signal, &s) == nil && s.Type == "offer" {
			got <- offer{s.N, s.SDP}
		}
	}, func(string, string, []byte) {}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sfu.Close()
	next := func() offer {
		select {
		case o := <-got:
			return o
		case <-time.After(30 * time.Second):
			t.Fatal("no offer")
		}
		return offer{}
	}
	sfu.Signal("call", MediaAudio, "ivy", []byte{1}, 1, json.RawMessage(`{"type":"hello"}`))
	first := next()
	sfu.Signal("call", MediaAudio, "ivy", []byte{1}, 1, json.RawMessage(`{"type":"hello","restart":true}`))
	again := next()
	// The same offer, not a new one: its ICE credentials, fingerprint and
	// media sections match. The copy sent again may carry the candidates
	// gathered since (pion writes them into the pending description), which
	// a client that lost its old socket also lost.
	if first.n != 1 || again.n != 1 || sameOffer(again.sdp) != sameOffer(first.sdp) || !strings.Contains(first.sdp, "m=audio") {
		t.Errorf("offer %d, then on a second hello offer %d (same offer: %v); want offer 1 twice",
			first.n, again.n, sameOffer(again.sdp) == sameOffer(first.sdp))
	}
	// An answer naming offer 7 (garbage SDP: it would fail if applied) is
	// dropped; the peer still waits for the answer to offer 1.
	sfu.Signal("call", MediaAudio, "ivy", []byte{1}, 1, json.RawMessage(`{"type":"answer","sdp":"v=0 stale","n":7}`))
	done := make(chan struct{})
	r := sfu.room("call", MediaAudio)
	r.enqueue(func() { close(done) })
	<-done
	r.mu.Lock()
	p := r.peers["ivy"]
	r.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.negotiating || p.offers != 1 || !p.pendingRestart {
		t.Errorf("after an answer to another offer: negotiating %v, offers %d, restart pending %v; want waiting for the answer to offer 1, then a restart",
			p.negotiating, p.offers, p.pendingRestart)
	}
}

// sameOffer keeps the lines of an SDP that identify one offer (its media
// sections, ICE credentials and certificate fingerprint), dropping the
// candidates that pion adds to a description as they are gathered.
func sameOffer(sdp string) string {
	var keep []string
	for _, l := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(l, "m=") || strings.HasPrefix(l, "a=ice-ufrag:") ||
			strings.HasPrefix(l, "a=ice-pwd:") || strings.HasPrefix(l, "a=fingerprint:") || strings.HasPrefix(l, "a=mid:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
