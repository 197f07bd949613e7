package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// sendWith sends a message with any extra fields (reply_to, mentions, ...).
func (s *server) sendWith(t testing.TB, p person, conv string, fields map[string]any) response {
	t.Helper()
	body := map[string]any{"client_id": fmt.Sprintf("c-%d", clientSeq.Add(1)), "kind": "text", "text": "hello"}
	for k, v := range fields {
		body[k] = v
	}
	return s.do(t, p.Token, "POST", "/api/v1/conversations/"+conv+"/messages", body)
}

// group makes a group owned by owner with members, all befriended.
func (s *server) group(t testing.TB, owner person, name string, members ...person) string {
	t.Helper()
	ids := []string{}
	for _, m := range members {
		s.befriend(t, owner, m)
		ids = append(ids, m.ID)
	}
	r := s.do(t, owner.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "name": name, "members": ids})
	want(t, r, 201, "")
	return r.str(t, "id")
}

// conversationIn returns the caller's chat-list entry for conv.
func (s *server) conversationIn(t testing.TB, p person, conv string) map[string]any {
	t.Helper()
	r := s.do(t, p.Token, "GET", "/api/v1/conversations", nil)
	want(t, r, 200, "")
	for _, c := range r.JSON(t)["conversations"].([]any) {
		if c := c.(map[string]any); c["id"] == conv {
			return c
		}
	}
	t.Fatalf("conversation %s not in the list", conv)
	return nil
}

func seqOf(m map[string]any) int64 { return int64(m["seq"].(float64)) }

// R-MSG-7: a reply quotes sender, kind and preview; a recalled original
// reads unavailable; quoting what the sender cannot see is 404 and stores
// nothing.
func TestReplyTo(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c, outsider := s.register(t, "Ana"), s.register(t, "Chen"), s.register(t, "Out")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		s.befriend(t, a, outsider)
		other := s.direct(t, a, outsider)
		orig := s.send(t, c, conv, "shall we meet on Saturday at the old bridge by the river?")
		secret := s.send(t, a, other, "not for Chen")

		r := s.sendWith(t, a, conv, map[string]any{"text": "yes!", "reply_to": seqOf(orig)})
		want(t, r, 201, "")
		reply := r.JSON(t)["reply_to"].(map[string]any)
		if reply["sender_id"] != c.ID || reply["kind"] != "text" || reply["preview"] != "shall we meet on Saturday at the old bridge by the…" {
			t.Errorf("reply_to = %v", reply)
		}
		listed := s.messages(t, c, conv, 0)
		if got := listed[len(listed)-1]["reply_to"].(map[string]any); got["preview"] != reply["preview"] {
			t.Errorf("listed reply_to = %v", got)
		}
		last := seqOf(r.JSON(t))

		t.Run("hostile quotes are refused and change nothing", func(t *testing.T) {
			want(t, s.sendWith(t, c, conv, map[string]any{"reply_to": 99999}), 404, "not_found")
			want(t, s.sendWith(t, c, conv, map[string]any{"reply_to": -1}), 422, "invalid_reply_to")
			want(t, s.sendWith(t, c, conv, map[string]any{"reply_to": "1"}), 422, "invalid_field")
			want(t, s.sendWith(t, c, other, map[string]any{"reply_to": seqOf(secret)}), 404, "not_found") // not a member
			if ms := s.messages(t, a, conv, 0); seqOf(ms[len(ms)-1]) != last {
				t.Errorf("a refused reply was stored")
			}
		})
		t.Run("a recalled original reads unavailable", func(t *testing.T) {
			want(t, s.do(t, c.Token, "POST", fmt.Sprintf("/api/v1/conversations/%s/messages/%d/recall", conv, seqOf(orig)), nil), 204, "")
			ms := s.messages(t, a, conv, 0)
			got := ms[len(ms)-1]["reply_to"].(map[string]any)
			if got["unavailable"] != true || got["preview"] != nil || got["sender_id"] != nil {
				t.Errorf("reply_to after recall = %v, want {seq, unavailable}", got)
			}
			want(t, s.sendWith(t, a, conv, map[string]any{"reply_to": seqOf(orig)}), 404, "not_found")
		})
	})
}

// R-MSG-7: mentions name members (others 422), mention_all is for owners
// and admins (others 403); the mentioned person's frame says so even in a
// muted chat, the chat list marks it until read, and they can find it.
func TestMentions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		owner, m1, m2, stranger := s.register(t, "Owner"), s.register(t, "Mei"), s.register(t, "Max"), s.register(t, "Stranger")
		g := s.group(t, owner, "Hiking", m1, m2)
		want(t, s.do(t, m1.Token, "PUT", "/api/v1/conversations/"+g+"/mute", map[string]any{"muted": true}), 200, "")
		sock := s.ws(t, m1.Token)
		sock.next("ready")

		t.Run("hostile mentions are refused and change nothing", func(t *testing.T) {
			want(t, s.sendWith(t, m2, g, map[string]any{"mentions": []string{stranger.ID}}), 422, "invalid_mentions")
			want(t, s.sendWith(t, m2, g, map[string]any{"mention_all": true}), 403, "forbidden")
			many := make([]string, 51)
			for i := range many {
				many[i] = m1.ID
			}
			want(t, s.sendWith(t, m2, g, map[string]any{"mentions": many}), 422, "invalid_mentions")
			s.befriend(t, m2, stranger)
			d := s.direct(t, m2, stranger)
			want(t, s.sendWith(t, m2, d, map[string]any{"mention_all": true}), 422, "not_a_group")
			if ms := s.messages(t, owner, g, 0); len(ms) != 0 {
				t.Errorf("refused mentions stored %d messages", len(ms))
			}
		})

		r := s.sendWith(t, m2, g, map[string]any{"text": "@Mei bring the map", "mentions": []string{m1.ID, m1.ID}})
		want(t, r, 201, "")
		if ms := r.JSON(t)["mentions"].([]any); len(ms) != 1 || ms[0] != m1.ID {
			t.Errorf("mentions = %v, want [m1] once", ms)
		}
		f := sock.next("message")
		if f["mentioned"] != true {
			t.Errorf("frame to the mentioned person in a muted chat = %v, want mentioned", f)
		}
		if c := s.conversationIn(t, m1, g); c["mentioned"] != true {
			t.Errorf("chat list entry = %v, want mentioned", c)
		}
		if c := s.conversationIn(t, owner, g); c["mentioned"] == true {
			t.Errorf("owner's chat list says mentioned")
		}
		s.send(t, owner, g, "no mention here")
		if f := sock.next("message"); f["mentioned"] == true {
			t.Errorf("a plain message's frame says mentioned")
		}
		found := s.do(t, m1.Token, "GET", "/api/v1/search?mentioned=true", nil)
		want(t, found, 200, "")
		if ms := found.JSON(t)["messages"].([]any); len(ms) != 1 || ms[0].(map[string]any)["text"] != "@Mei bring the map" {
			t.Errorf("mentions of m1 = %v", ms)
		}
		found = s.do(t, m1.Token, "GET", "/api/v1/search?mentioned=true&q="+url.QueryEscape("map"), nil)
		if ms := found.JSON(t)["messages"].([]any); len(ms) != 1 {
			t.Errorf("mentions of m1 matching map = %v", ms)
		}
		if ms := s.do(t, m2.Token, "GET", "/api/v1/search?mentioned=true", nil).JSON(t)["messages"].([]any); len(ms) != 0 {
			t.Errorf("m2 finds mentions of others: %v", ms)
		}
		want(t, s.do(t, m1.Token, "POST", "/api/v1/conversations/"+g+"/read", map[string]any{"seq": seqOf(r.JSON(t))}), 204, "")
		if c := s.conversationIn(t, m1, g); c["mentioned"] == true {
			t.Errorf("mention still marked after reading past it")
		}

		all := s.sendWith(t, owner, g, map[string]any{"text": "@all leaving at 7", "mention_all": true})
		want(t, all, 201, "")
		if f := sock.next("message"); f["mentioned"] != true || f["message"].(map[string]any)["mention_all"] != true {
			t.Errorf("mention_all frame = %v", f)
		}
		if c := s.conversationIn(t, m2, g); c["mentioned"] != true {
			t.Errorf("mention_all did not mark m2's chat list")
		}
		// An admin may too.
		want(t, s.do(t, owner.Token, "PATCH", "/api/v1/conversations/"+g+"/members/"+m2.ID, map[string]any{"role": "admin"}), 204, "")
		want(t, s.sendWith(t, m2, g, map[string]any{"mention_all": true}), 201, "")
		t.Run("a recalled mention is no longer found", func(t *testing.T) {
			want(t, s.do(t, owner.Token, "POST", fmt.Sprintf("/api/v1/conversations/%s/messages/%d/recall", g, seqOf(all.JSON(t))), nil), 204, "")
			for _, m := range s.do(t, m1.Token, "GET", "/api/v1/search?mentioned=true", nil).JSON(t)["messages"].([]any) {
				if m.(map[string]any)["seq"] == all.JSON(t)["seq"] {
					t.Errorf("recalled mention still found")
				}
			}
		})
	})
}

// R-MSG-7: a mention is pushed even when the chat is muted.
func TestMentionPushedWhenMuted(t *testing.T) {
	br := newBrowser(t)
	s := startServer(t, "sqlite", func(c *app.Config) {
		c.Service.PushDelay = 300 * time.Millisecond
		c.PushAllowHosts = br.srv.Listener.Addr().String()
	})
	owner, a := s.register(t, "Owner"), s.register(t, "Muted Mo")
	g := s.group(t, owner, "Loud group", a)
	want(t, s.do(t, a.Token, "PUT", "/api/v1/me/push-subscription", br.subscription()), 204, "")
	want(t, s.do(t, a.Token, "PUT", "/api/v1/conversations/"+g+"/mute", map[string]any{"muted": true}), 200, "")
	s.send(t, owner, g, "nobody needs to know")
	br.none(t, 800*time.Millisecond)
	want(t, s.sendWith(t, owner, g, map[string]any{"text": "@Mo look", "mentions": []string{a.ID}}), 201, "")
	if m := br.next(t); m["body"] != "mentioned you" || m["mentioned"] != true {
		t.Errorf("push for a mention in a muted chat = %v", m)
	}
}
