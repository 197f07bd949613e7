package e2e

import (
	"fmt"
	"testing"
	"time"
)

// Issue 17 (R-MSG-2, R-MSG-4): each node keeps a group's member list in
// memory for fan-out. Across two nodes, a member removed through node 1
// never gets a message sent through node 2 right after, though node 2 had
// them cached, and a member added through node 1 gets the very next one;
// round after round, with no pause for the bus's invalidation to arrive.
func TestTwoNodesMemberChangesReachFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes := startNodes(t, 2)
	n1, n2 := nodes[0], nodes[1]

	owner := n1.register(t, "Group Owner")
	stays := n2.register(t, "Stays In")
	moves := n2.register(t, "Comes And Goes")
	g := n1.group(t, owner, "comings and goings", stays, moves)
	staysWS := n1.ws(t, stays.Token)
	movesWS := n2.ws(t, moves.Token)
	movesOther := n1.ws(t, n1.login(t, moves, "second-device"))
	for _, w := range []*wsClient{staysWS, movesWS, movesOther} {
		w.next("ready")
	}
	got := func(w *wsClient, sent map[string]any, who string) {
		t.Helper()
		if f := w.next("message"); f["message"].(map[string]any)["id"] != sent["id"] {
			t.Fatalf("%s got %v, want message %v", who, f, sent["id"])
		}
	}

	// Node 2 caches the group's members with its first message.
	first := n2.send(t, owner, g, "everyone is here")
	got(staysWS, first, "a member")
	got(movesWS, first, "a member on node 2")
	got(movesOther, first, "a member on node 1")

	for round := range 5 {
		want(t, n1.do(t, owner.Token, "DELETE", "/api/v1/conversations/"+g+"/members/"+moves.ID, nil), 204, "")
		gone := n2.send(t, owner, g, fmt.Sprint("after the removal ", round))
		got(staysWS, gone, "the member who stayed")
		movesWS.none("message", 300*time.Millisecond)
		movesOther.none("message", 50*time.Millisecond)

		want(t, n1.do(t, owner.Token, "POST", "/api/v1/conversations/"+g+"/members", map[string]any{"members": []string{moves.ID}}), 200, "")
		back := n2.send(t, owner, g, fmt.Sprint("after the return ", round))
		got(staysWS, back, "the member who stayed")
		got(movesWS, back, "the member added back, on node 2")
		got(movesOther, back, "the member added back, on node 1")
	}
	// What the removed member missed stays missed: their history has a gap.
	if ms := n2.messages(t, moves, g, 0); len(ms) != 1 || ms[0]["text"] != "after the return 4" {
		t.Errorf("after the last return they see %d messages: %v", len(ms), ms)
	}
}

// Issue 17 (R-ACC-4: signing out, a device signed out): each node keeps sessions it read in memory.
// A session ended through node 1 (signing out, a device signed out from
// another device, a password change signing the others out) fails on node
// 2 as soon as the bus brings the close event there, though node 2 had it
// cached: within a second, where the cache alone would keep it a minute.
func TestTwoNodesRevokedSessionFailsEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes := startNodes(t, 2)
	n1, n2 := nodes[0], nodes[1]
	p := n1.register(t, "Signs Out")
	failsOnNode2 := func(what, token string) {
		t.Helper()
		start := time.Now()
		for {
			r := n2.do(t, token, "GET", "/api/v1/me", nil)
			if r.Status == 401 {
				t.Logf("%s: refused on node 2 after %v", what, time.Since(start))
				return
			}
			if time.Since(start) > time.Second {
				t.Fatalf("%s: node 2 still answers %d a second later", what, r.Status)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	warm := func(tokens ...string) {
		t.Helper()
		for _, tok := range tokens {
			for _, n := range nodes {
				want(t, n.do(t, tok, "GET", "/api/v1/me", nil), 200, "")
			}
		}
	}

	laptop := n1.login(t, p, "laptop-1")
	warm(p.Token, laptop)
	want(t, n1.do(t, laptop, "DELETE", "/api/v1/sessions/current", nil), 204, "")
	want(t, n1.do(t, laptop, "GET", "/api/v1/me", nil), 401, "unauthenticated")
	failsOnNode2("signing out on node 1", laptop)
	want(t, n2.do(t, p.Token, "GET", "/api/v1/me", nil), 200, "")

	tablet := n1.login(t, p, "tablet-1")
	warm(tablet)
	want(t, n1.do(t, p.Token, "DELETE", "/api/v1/me/devices/tablet-1", nil), 204, "")
	want(t, n1.do(t, tablet, "GET", "/api/v1/me", nil), 401, "unauthenticated")
	failsOnNode2("the device signed out from another on node 1", tablet)
	want(t, n2.do(t, p.Token, "GET", "/api/v1/me", nil), 200, "")
}
