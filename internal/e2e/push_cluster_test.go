package e2e

import (
	"testing"
	"time"
)

// Issue 17, R-NTF-1: a push goes only to people with no live socket on any
// node. A member whose socket is on node 1 gets none for a message sent
// through node 2, though her client never acknowledges it (node 2 learns
// she is online over the bus, and asks the database nothing about her); a
// member with no socket gets one; and once her socket closes, she is away
// for node 2 too and gets the next one.
func TestPushAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	hereBrowser, awayBrowser := newBrowser(t), newBrowser(t)
	allow := hereBrowser.srv.Listener.Addr().String() + "," + awayBrowser.srv.Listener.Addr().String()
	nodes := startNodes(t, 2, "--push-allow-hosts", allow)
	n1, n2 := nodes[0], nodes[1]

	writer := n2.register(t, "Writer Wu")
	here := n1.register(t, "Online On One")
	away := n2.register(t, "Away Everywhere")
	g := n2.group(t, writer, "Who gets a push", here, away)
	want(t, n1.do(t, here.Token, "PUT", "/api/v1/me/push-subscription", hereBrowser.subscription()), 204, "")
	want(t, n2.do(t, away.Token, "PUT", "/api/v1/me/push-subscription", awayBrowser.subscription()), 204, "")

	w := n1.ws(t, here.Token)
	w.next("ready")
	n2.send(t, writer, g, "one of you is here")
	w.next("message") // and no ack: the socket alone says she has it
	if m := awayBrowser.next(t); m["title"] != "Writer Wu" || m["conversation_id"] != g {
		t.Errorf("push to the member away = %v; want who wrote, for the group", m)
	}
	// Both pushes are decided together, 3 s after the send: the one away
	// has arrived, so the other would have by now.
	hereBrowser.none(t, time.Second)

	w.c.CloseNow()
	// Her going is published at once; give it a moment to cross the bus
	// before the next message (whose push is decided 3 s later anyway).
	time.Sleep(200 * time.Millisecond)
	n2.send(t, writer, g, "now both of you are away")
	if m := hereBrowser.next(t); m["title"] != "Writer Wu" {
		t.Errorf("push after her socket closed = %v; want who wrote", m)
	}
	awayBrowser.next(t)
}
