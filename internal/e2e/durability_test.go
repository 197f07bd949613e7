package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// R-MSG-4, R-MSG-3: nothing acknowledged is lost and nothing is duplicated.
// Many clients send; the server is killed with SIGKILL part-way; after a
// restart every message that got a 201 is there exactly once, seqs have no
// gaps, and retrying the unanswered sends with their client ids never makes
// a second copy.
func TestKillDuringSendsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		p := startProc(t, nil, t.TempDir(), backendFlags(t, b)...)
		const pairs, perSender = 6, 400
		type pair struct {
			a, c person
			conv string
		}
		var ps []pair
		for i := 0; i < pairs; i++ {
			a, c := p.register(t, fmt.Sprint("A", i)), p.register(t, fmt.Sprint("C", i))
			p.befriend(t, a, c)
			ps = append(ps, pair{a, c, p.direct(t, a, c)})
		}
		type sent struct {
			conv, clientID, token string
		}
		var mu sync.Mutex
		acked := map[string]bool{}
		var unanswered []sent
		var ackCount atomic.Int64
		client := &http.Client{Timeout: 5 * time.Second}
		var wg sync.WaitGroup
		for i, pr := range ps {
			for side, who := range []person{pr.a, pr.c} {
				wg.Add(1)
				go func(i, side int, who person, conv string) {
					defer wg.Done()
					for n := 0; n < perSender; n++ {
						s := sent{conv, fmt.Sprintf("k-%d-%d-%d", i, side, n), who.Token}
						body, _ := json.Marshal(map[string]any{"client_id": s.clientID, "kind": "text", "text": "durable " + s.clientID})
						req, _ := http.NewRequest("POST", p.URL+"/api/v1/conversations/"+conv+"/messages", bytes.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+who.Token)
						resp, err := client.Do(req)
						if err != nil {
							mu.Lock()
							unanswered = append(unanswered, s)
							mu.Unlock()
							return // the server is gone
						}
						resp.Body.Close()
						if resp.StatusCode == 201 || resp.StatusCode == 200 {
							mu.Lock()
							acked[s.clientID] = true
							mu.Unlock()
							ackCount.Add(1)
						} else {
							mu.Lock()
							unanswered = append(unanswered, s)
							mu.Unlock()
						}
					}
				}(i, side, who, pr.conv)
			}
		}
		// Kill part-way, while sends are in flight.
		deadline := time.Now().Add(60 * time.Second)
		for ackCount.Load() < int64(pairs*perSender/2) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		p.kill(t)
		wg.Wait()
		if len(acked) < pairs*perSender/2 {
			t.Fatalf("only %d sends were acknowledged before the kill; the test needs more", len(acked))
		}
		p.start(t)

		seen := map[string]int{}
		for _, pr := range ps {
			msgs := []map[string]any{}
			after := 0
			for {
				page := p.messages(t, pr.a, pr.conv, after)
				if len(page) == 0 {
					break
				}
				msgs = append(msgs, page...)
				after = int(page[len(page)-1]["seq"].(float64))
			}
			for i, m := range msgs {
				if m["seq"] != float64(i+1) {
					t.Fatalf("conversation %s: message %d has seq %v; seqs must have no gaps", pr.conv, i, m["seq"])
				}
				seen[m["client_id"].(string)]++
			}
		}
		lost, dup := 0, 0
		for id := range acked {
			if seen[id] == 0 {
				lost++
			}
		}
		for _, n := range seen {
			if n > 1 {
				dup++
			}
		}
		if lost > 0 || dup > 0 {
			t.Fatalf("after SIGKILL and restart: %d acknowledged messages lost, %d duplicated (of %d acknowledged)", lost, dup, len(acked))
		}
		// Retrying what got no answer never duplicates.
		for _, s := range unanswered {
			body := map[string]any{"client_id": s.clientID, "kind": "text", "text": "durable " + s.clientID}
			r := p.do(t, s.token, "POST", "/api/v1/conversations/"+s.conv+"/messages", body)
			if r.Status != 200 && r.Status != 201 {
				t.Fatalf("retry of %s = %d %s", s.clientID, r.Status, r.Body)
			}
			if r.Status == 200 && seen[s.clientID] != 1 {
				t.Errorf("retry of %s answered 200 but it was not stored before", s.clientID)
			}
			if r.Status == 201 && seen[s.clientID] != 0 {
				t.Errorf("retry of %s stored a second copy", s.clientID)
			}
		}
		t.Logf("%d acknowledged before SIGKILL, all present once after restart; %d unanswered retried", len(acked), len(unanswered))
	})
}
