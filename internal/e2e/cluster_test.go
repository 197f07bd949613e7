package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"
)

// natsURL returns the NATS server for tests; like PostgreSQL, it must be
// there in CI.
func natsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TKESJ_TEST_NATS_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TKESJ_TEST_NATS_URL must be set in CI")
		}
		t.Skip("TKESJ_TEST_NATS_URL not set")
	}
	return u
}

// startNodes runs n tkesj processes as one cluster: fresh schemas on the
// test PostgreSQL, the test NATS, one master key and one SMS inbox; extra
// flags go to every node.
func startNodes(t *testing.T, n int, extra ...string) []*proc {
	t.Helper()
	nats := natsURL(t)
	dbURL, keySchema := postgresSchemas(t)
	env := []string{"TKESJ_MASTER_KEY=" + newMasterKey()}
	args := append([]string{"--db", dbURL, "--key-schema", keySchema, "--nats", nats}, extra...)
	inbox := &smsInbox{}
	nodes := make([]*proc, n)
	for i := range nodes {
		nodes[i] = startProcEnv(t, inbox, t.TempDir(), env, args...)
	}
	return nodes
}

// newMasterKey is a fresh TKESJ_MASTER_KEY value, for nodes that must
// share one.
func newMasterKey() string {
	master := make([]byte, 32)
	rand.Read(master)
	return base64.StdEncoding.EncodeToString(master)
}

// R-MSG-4 across nodes: two tkesj processes share PostgreSQL and carry events
// over NATS JetStream; a person connected to node 1 gets what is sent through
// node 2 at once, on every device, and sign-outs on one node close sockets on
// the other.
func TestTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes := startNodes(t, 2)
	n1, n2 := nodes[0], nodes[1]

	a := n1.register(t, "On Node One")
	c := n2.register(t, "On Node Two")
	n2.befriend(t, c, a)
	conv := n1.direct(t, a, c)
	aWS := n1.ws(t, a.Token)
	aOther := n2.ws(t, n2.login(t, a, "second-device"))
	aWS.next("ready")
	aOther.next("ready")

	var lat []time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		sent := n2.send(t, c, conv, fmt.Sprint("across nodes ", i))
		f := aWS.next("message")
		lat = append(lat, time.Since(start))
		if f["message"].(map[string]any)["id"] != sent["id"] {
			t.Fatalf("node 1 got %v, want %v", f, sent["id"])
		}
		if g := aOther.next("message"); g["message"].(map[string]any)["id"] != sent["id"] {
			t.Fatalf("A's device on node 2 got %v", g)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("send via node 2 -> delivered on node 1: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
	// What node 1 stored, node 2 serves, in order.
	if got := n2.messages(t, a, conv, 0); len(got) != 20 || got[19]["seq"] != float64(20) {
		t.Errorf("node 2 lists %d messages", len(got))
	}
	// Signing out the device on node 2 through node 1 closes its socket there.
	want(t, n1.do(t, a.Token, "DELETE", "/api/v1/me/devices/second-device", nil), 204, "")
	if code := aOther.waitClosed(); code != 4001 {
		t.Errorf("socket on node 2 closed with %d, want 4001", code)
	}
}
