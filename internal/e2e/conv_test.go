package e2e

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// R-MSG-9: pinned chats come first, the latest pin on top; pinning is one's own.
func TestPinnedChats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, x, y, z := s.register(t, "Ana"), s.register(t, "X"), s.register(t, "Y"), s.register(t, "Z")
		s.befriend(t, a, x)
		s.befriend(t, a, y)
		s.befriend(t, a, z)
		cx, cy, cz := s.direct(t, a, x), s.direct(t, a, y), s.direct(t, a, z)
		s.send(t, x, cx, "1")
		s.send(t, y, cy, "2")
		s.send(t, z, cz, "3") // the most recent
		order := func(p person) []string {
			var ids []string
			for _, c := range s.do(t, p.Token, "GET", "/api/v1/conversations", nil).JSON(t)["conversations"].([]any) {
				ids = append(ids, c.(map[string]any)["id"].(string))
			}
			return ids
		}
		pin := func(p person, conv string, on bool) response {
			return s.do(t, p.Token, "PUT", "/api/v1/conversations/"+conv+"/pin", map[string]any{"pinned": on})
		}
		want(t, pin(a, cx, true), 200, "")
		time.Sleep(2 * time.Millisecond)
		want(t, pin(a, cy, true), 200, "")
		if got := fmt.Sprint(order(a)); got != fmt.Sprint([]string{cy, cx, cz}) {
			t.Errorf("order = %v, want the latest pin, the first pin, then the rest", got)
		}
		if c := s.conversationIn(t, a, cx); c["pinned"] != true {
			t.Errorf("pinned = %v", c["pinned"])
		}
		if c := s.conversationIn(t, x, cx); c["pinned"] != false {
			t.Errorf("the other member sees pinned = %v, want false", c["pinned"])
		}
		want(t, pin(a, cy, false), 200, "")
		if got := fmt.Sprint(order(a)); got != fmt.Sprint([]string{cx, cz, cy}) {
			t.Errorf("order after unpinning = %v", got)
		}
		want(t, pin(y, cx, true), 404, "not_found")
		want(t, s.do(t, a.Token, "PUT", "/api/v1/conversations/"+cx+"/pin", map[string]any{}), 422, "missing_field")
	})
}

// R-MSG-9: favorites are private copies sealed with the saver's key — a
// message (its media copied), or a Moment; searchable, exported, and gone
// with the account. What the saver cannot see is 404 and saves nothing.
func TestFavorites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c, other := s.register(t, "Ana"), s.register(t, "Chen"), s.register(t, "Other")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		s.befriend(t, c, other)
		private := s.direct(t, c, other)
		msg := s.send(t, c, conv, "the recipe: flour, eggs and patience")
		secret := s.send(t, c, private, "between us")
		want(t, s.do(t, c.Token, "PUT", "/api/v1/me/permissions/album", map[string]any{"granted": true}), 200, "")
		up := s.upload(t, c.Token, "album", "cake.jpg", photoWithGPS(t, 64, 48))
		want(t, up, 201, "")
		pic := s.sendWith(t, c, conv, map[string]any{"kind": "image", "media_id": up.str(t, "id"), "text": ""})
		want(t, pic, 201, "")
		mo := s.do(t, c.Token, "POST", "/api/v1/moments", map[string]any{"text": "sunset at the pier", "visibility": map[string]any{"kind": "friends"}})
		want(t, mo, 201, "")
		fav := func(body map[string]any) response { return s.do(t, a.Token, "POST", "/api/v1/me/favorites", body) }

		t.Run("what the saver cannot see is not found", func(t *testing.T) {
			want(t, fav(map[string]any{"conversation_id": private, "seq": seqOf(secret)}), 404, "not_found")
			want(t, fav(map[string]any{"conversation_id": conv, "seq": 999}), 404, "not_found")
			want(t, fav(map[string]any{"moment_id": "nope"}), 404, "not_found")
			want(t, fav(map[string]any{}), 422, "invalid_favorite")
			want(t, fav(map[string]any{"conversation_id": conv, "seq": 1, "moment_id": mo.str(t, "id")}), 422, "invalid_favorite")
		})

		f1 := fav(map[string]any{"conversation_id": conv, "seq": seqOf(msg)})
		want(t, f1, 201, "")
		if j := f1.JSON(t); j["text"] != "the recipe: flour, eggs and patience" || j["author_id"] != c.ID || j["author_name"] != "Chen" || j["kind"] != "message" {
			t.Errorf("favorite = %v", j)
		}
		f2 := fav(map[string]any{"conversation_id": conv, "seq": seqOf(pic.JSON(t))})
		want(t, f2, 201, "")
		media := f2.JSON(t)["media"].([]any)[0].(map[string]any)
		if media["id"] == up.str(t, "id") {
			t.Errorf("the favorite's media is the original, want the saver's own copy")
		}
		f3 := fav(map[string]any{"moment_id": mo.str(t, "id")})
		want(t, f3, 201, "")
		want(t, s.get(t, a.Token, media["url"].(string)), 200, "")
		want(t, s.get(t, c.Token, media["url"].(string)), 404, "") // the copy is the saver's alone

		t.Run("favorites are searchable, by prefix too", func(t *testing.T) {
			r := s.do(t, a.Token, "GET", "/api/v1/me/favorites?q="+url.QueryEscape("pati"), nil)
			want(t, r, 200, "")
			if fs := r.JSON(t)["favorites"].([]any); len(fs) != 1 || fs[0].(map[string]any)["id"] != f1.str(t, "id") {
				t.Errorf("favorites matching pati = %v", fs)
			}
			if fs := s.do(t, a.Token, "GET", "/api/v1/me/favorites?q=sunset", nil).JSON(t)["favorites"].([]any); len(fs) != 1 {
				t.Errorf("favorites matching sunset = %v", fs)
			}
			if fs := s.do(t, c.Token, "GET", "/api/v1/me/favorites", nil).JSON(t)["favorites"].([]any); len(fs) != 0 {
				t.Errorf("another person sees %d favorites", len(fs))
			}
		})
		t.Run("a favorite outlives the original", func(t *testing.T) {
			want(t, s.do(t, c.Token, "POST", fmt.Sprintf("/api/v1/conversations/%s/messages/%d/recall", conv, seqOf(msg)), nil), 204, "")
			want(t, fav(map[string]any{"conversation_id": conv, "seq": seqOf(msg)}), 404, "not_found")
			if fs := s.do(t, a.Token, "GET", "/api/v1/me/favorites", nil).JSON(t)["favorites"].([]any); len(fs) != 3 {
				t.Errorf("favorites after the recall = %d, want 3", len(fs))
			}
		})
		t.Run("favorites are in the export", func(t *testing.T) {
			_, x, _ := s.exportNow(t, a)
			fj := x.json(t, "favorites.json")
			if fs := fj["favorites"].([]any); len(fs) != 3 {
				t.Errorf("favorites.json has %d favorites, want 3", len(fs))
			}
		})
		want(t, s.do(t, c.Token, "DELETE", "/api/v1/me/favorites/"+f1.str(t, "id"), nil), 404, "not_found")
		want(t, s.do(t, a.Token, "DELETE", "/api/v1/me/favorites/"+f2.str(t, "id"), nil), 204, "")
		want(t, s.get(t, a.Token, media["url"].(string)), 404, "")

		t.Run("favorites go with the account", func(t *testing.T) {
			want(t, s.do(t, a.Token, "DELETE", "/api/v1/me", map[string]any{"password": a.Password}), 204, "")
			db := openStoreForCheck(t, b, s)
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM favorites`).Scan(&n); err != nil || n != 0 {
				t.Errorf("favorites rows after destruction = %d, %v; want 0", n, err)
			}
		})
	})
}

// R-MSG-8: forward one or many messages to one or many chats, each or
// merged; the forwarder must see what they forward and be in every target;
// media goes as the forwarder's own copy.
func TestForward(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c, d, e := s.register(t, "Ana"), s.register(t, "Chen"), s.register(t, "Dee"), s.register(t, "Eve")
		s.befriend(t, a, c)
		src := s.direct(t, a, c)
		g := s.group(t, a, "Team", d)
		t1 := s.direct(t, a, d)
		s.befriend(t, c, e)
		private := s.direct(t, c, e)
		m1 := s.send(t, c, src, "the meeting moved to Friday")
		m2 := s.send(t, a, src, "thanks, noted")
		want(t, s.do(t, c.Token, "PUT", "/api/v1/me/permissions/album", map[string]any{"granted": true}), 200, "")
		up := s.upload(t, c.Token, "album", "plan.jpg", photoWithGPS(t, 64, 48))
		want(t, up, 201, "")
		pic := s.sendWith(t, c, src, map[string]any{"kind": "image", "media_id": up.str(t, "id"), "text": "the plan"})
		want(t, pic, 201, "")
		hidden := s.send(t, c, private, "not for Ana")
		fwd := func(p person, from string, seqs []int64, to []string, mode string) response {
			return s.do(t, p.Token, "POST", "/api/v1/forwards", map[string]any{"from": map[string]any{"conversation_id": from, "seqs": seqs}, "to": to, "mode": mode})
		}
		count := func(conv string) int { return len(s.messages(t, a, conv, 0)) }

		t.Run("hostile forwards are refused and send nothing", func(t *testing.T) {
			before := count(t1) + count(g)
			want(t, fwd(a, private, []int64{seqOf(hidden)}, []string{t1}, "each"), 404, "not_found")
			want(t, fwd(a, src, []int64{seqOf(m1), 999}, []string{t1}, "each"), 404, "not_found")
			want(t, fwd(a, src, []int64{seqOf(m1)}, []string{t1, private}, "each"), 404, "not_found")
			want(t, fwd(a, src, []int64{seqOf(m1)}, []string{t1}, "sideways"), 422, "invalid_mode")
			want(t, fwd(a, src, []int64{}, []string{t1}, "each"), 422, "invalid_seqs")
			many := make([]string, 10000)
			for i := range many {
				many[i] = fmt.Sprintf("c%d", i)
			}
			want(t, fwd(a, src, []int64{seqOf(m1)}, many, "each"), 413, "body_too_large")
			short := make([]string, 10000)
			for i := range short {
				short[i] = "c"
			}
			want(t, fwd(a, src, []int64{seqOf(m1)}, short, "each"), 422, "too_many_targets")
			want(t, fwd(a, src, []int64{seqOf(m1)}, many[:21], "each"), 422, "too_many_targets")
			if after := count(t1) + count(g); after != before {
				t.Errorf("refused forwards stored %d messages", after-before)
			}
		})

		sock := s.ws(t, d.Token)
		sock.next("ready")
		r := fwd(a, src, []int64{seqOf(m1), seqOf(pic.JSON(t))}, []string{t1, g}, "each")
		want(t, r, 201, "")
		if made := r.JSON(t)["messages"].([]any); len(made) != 4 {
			t.Fatalf("each to 2 chats of 2 messages made %d messages, want 4", len(made))
		}
		f := sock.next("message")["message"].(map[string]any)
		if f["forwarded"] != true || f["sender_id"] != a.ID {
			t.Errorf("forwarded frame = %v", f)
		}
		got := s.messages(t, d, t1, 0)
		if len(got) != 2 || got[0]["text"] != "the meeting moved to Friday" || got[0]["forwarded"] != true || got[0]["sender_id"] != a.ID {
			t.Fatalf("forwarded messages in t1 = %v", got)
		}
		media := got[1]["media"].(map[string]any)
		if media["id"] == up.str(t, "id") || got[1]["text"] != "the plan" {
			t.Errorf("forwarded media = %v, want the forwarder's own copy", media)
		}
		want(t, s.get(t, d.Token, media["url"].(string)), 200, "")
		want(t, s.get(t, d.Token, "/api/v1/media/"+up.str(t, "id")), 404, "") // the original stays where it was sent

		r = fwd(a, src, []int64{seqOf(m2), seqOf(m1)}, []string{t1}, "merged")
		want(t, r, 201, "")
		got = s.messages(t, d, t1, 0)
		h := got[len(got)-1]
		items := h["history"].(map[string]any)["items"].([]any)
		if h["kind"] != "history" || len(items) != 2 {
			t.Fatalf("merged = %v", h)
		}
		if it := items[0].(map[string]any); it["sender_name"] != "Chen" || it["text"] != "the meeting moved to Friday" || it["kind"] != "text" {
			t.Errorf("first item = %v, want Chen's message first (in seq order)", it)
		}
		if ms := s.do(t, d.Token, "GET", "/api/v1/search?q=Friday", nil).JSON(t)["messages"].([]any); len(ms) < 2 {
			t.Errorf("search for Friday finds %d of d's messages, want the forwards", len(ms))
		}
		t.Run("a recalled source cannot be forwarded", func(t *testing.T) {
			want(t, s.do(t, c.Token, "POST", fmt.Sprintf("/api/v1/conversations/%s/messages/%d/recall", src, seqOf(m1)), nil), 204, "")
			want(t, fwd(a, src, []int64{seqOf(m1)}, []string{t1}, "each"), 404, "not_found")
			// What was forwarded stays: it is the forwarder's now.
			if got := s.messages(t, d, t1, 0); got[0]["text"] != "the meeting moved to Friday" {
				t.Errorf("a forward changed with its source's recall: %v", got[0])
			}
		})
	})
}

// R-MSG-10: disappearing messages per conversation: who may set the timer,
// the system message, expires_at; after it the messages are gone from every
// API, search and export, and from the database within the sweep.
func TestDisappearingMessages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		var skew atomic.Int64
		s := startServer(t, b, func(c *app.Config) {
			c.Service.ExpirySweep = 100 * time.Millisecond
			c.Service.Clock = func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }
		})
		owner, m, c := s.register(t, "Owner"), s.register(t, "Member"), s.register(t, "Chen")
		g := s.group(t, owner, "Ephemeral", m)
		s.befriend(t, m, c)
		d := s.direct(t, m, c)
		set := func(p person, conv string, v any) response {
			return s.do(t, p.Token, "PATCH", "/api/v1/conversations/"+conv, map[string]any{"disappear_after_s": v})
		}
		kept := s.send(t, m, g, "kept forever: the bridge")

		t.Run("who may set it and to what", func(t *testing.T) {
			want(t, set(m, g, 86400), 403, "forbidden")
			want(t, set(owner, g, 3600), 422, "invalid_disappear_after")
			want(t, set(owner, g, -1), 422, "invalid_disappear_after")
			want(t, set(owner, g, "1d"), 422, "invalid_field")
			want(t, set(c, g, 86400), 404, "not_found")
			if cv := s.conversationIn(t, m, g); cv["disappear_after_s"] != float64(0) {
				t.Errorf("refused changes changed the timer: %v", cv["disappear_after_s"])
			}
			r := set(m, d, 604800) // either member of a direct chat
			want(t, r, 200, "")
			if r.JSON(t)["disappear_after_s"] != float64(604800) {
				t.Errorf("direct chat timer = %v", r.JSON(t)["disappear_after_s"])
			}
		})
		r := set(owner, g, 86400)
		want(t, r, 200, "")
		ms := s.messages(t, m, g, 0)
		sys := ms[len(ms)-1]
		if sys["kind"] != "system" || sys["sender_id"] != owner.ID || sys["system"].(map[string]any)["disappear_after_s"] != float64(86400) {
			t.Errorf("system message = %v", sys)
		}
		gone := s.send(t, m, g, "a secret about the bridge")
		if gone["expires_at"] == nil {
			t.Fatalf("a message under the timer has no expires_at: %v", gone)
		}
		if kept := s.messages(t, m, g, 0)[0]; kept["expires_at"] != nil {
			t.Errorf("a message from before the timer got expires_at")
		}
		reply := s.sendWith(t, owner, g, map[string]any{"text": "noted", "reply_to": seqOf(gone), "mentions": []string{m.ID}})
		want(t, reply, 201, "")
		if n := len(s.do(t, m.Token, "GET", "/api/v1/search?q=secret", nil).JSON(t)["messages"].([]any)); n != 1 {
			t.Errorf("before expiry search finds %d, want 1", n)
		}
		want(t, s.do(t, m.Token, "POST", "/api/v1/me/favorites", map[string]any{"conversation_id": g, "seq": seqOf(gone)}), 422, "disappearing_message")

		skew.Store(int64(24*time.Hour + time.Second)) // a day passes
		for _, p := range []person{owner, m} {
			for _, msg := range s.messages(t, p, g, 0) {
				if msg["kind"] != "text" || msg["id"] == kept["id"] {
					continue
				}
				t.Errorf("an expired message is still listed: %v", msg)
			}
		}
		if n := len(s.do(t, m.Token, "GET", "/api/v1/search?q=bridge", nil).JSON(t)["messages"].([]any)); n != 1 {
			t.Errorf("after expiry search for bridge finds %d, want only the kept one", n)
		}
		if n := len(s.do(t, m.Token, "GET", "/api/v1/search?mentioned=true", nil).JSON(t)["messages"].([]any)); n != 0 {
			t.Errorf("an expired mention is still found")
		}
		want(t, s.sendWith(t, owner, g, map[string]any{"reply_to": seqOf(gone)}), 404, "not_found")
		want(t, s.do(t, m.Token, "POST", "/api/v1/forwards", map[string]any{"from": map[string]any{"conversation_id": g, "seqs": []int64{seqOf(gone)}}, "to": []string{d}}), 404, "not_found")
		want(t, s.do(t, m.Token, "POST", fmt.Sprintf("/api/v1/conversations/%s/messages/%d/recall", g, seqOf(gone)), nil), 404, "not_found")

		db := openStoreForCheck(t, b, s)
		waitFor(t, "the sweeper to delete expired messages", func() bool {
			var n int
			db.QueryRow(`SELECT COUNT(*) FROM messages WHERE conv_id = `+ph(b, 1)+` AND expires_at IS NOT NULL`, g).Scan(&n)
			return n == 0
		})
		// With the sweep (on SQLite the index file's rows go just after the
		// messages, issue 17).
		waitFor(t, "the expired message's search index rows to go", func() bool {
			return indexed(t, db, b, g, seqOf(gone)) == 0
		})
		_, x, _ := s.exportNow(t, m)
		if body := string(x.file(t, "messages/"+g+".json")); strings.Contains(body, "secret") || !strings.Contains(body, "kept forever") {
			t.Errorf("export after expiry: %s", body)
		}
	})
}

// ph is the n-th query placeholder of backend b.
func ph(b backend, n int) string {
	if b == "postgres" {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// Issue 15 (R-MSG-6): search finds word prefixes ("Sat" finds "Saturday",
// CJK too), group and contact names, and names each result's chat and
// sender — over the keyed-hash index, with no plaintext on disk.
func TestSearchPrefixesAndNames(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c, d := s.register(t, "Ana"), s.register(t, "Chen Wei"), s.register(t, "Dee")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		g := s.group(t, a, "Saturday hikers", d)
		s.send(t, c, conv, "see you on Saturday at the harbour")
		s.send(t, d, g, "我们周六见面")
		find := func(q string) map[string]any {
			r := s.do(t, a.Token, "GET", "/api/v1/search?q="+url.QueryEscape(q), nil)
			want(t, r, 200, "")
			return r.JSON(t)
		}
		hits := find("Sat")["hits"].([]any)
		if len(hits) != 1 {
			t.Fatalf("hits for Sat = %v, want the Saturday message", hits)
		}
		h := hits[0].(map[string]any)
		if h["sender_name"] != "Chen Wei" || h["conversation"].(map[string]any)["name"] != "Chen Wei" || h["conversation"].(map[string]any)["id"] != conv {
			t.Errorf("hit = %v, want it to name the chat and sender", h)
		}
		if ms := find("harb sat")["messages"].([]any); len(ms) != 1 {
			t.Errorf("two prefixes find %d messages, want 1", len(ms))
		}
		if ms := find("urday")["messages"].([]any); len(ms) != 0 {
			t.Errorf("a word's middle finds %d messages, want 0", len(ms))
		}
		for _, q := range []string{"周", "周六", "周六见"} {
			if ms := find(q)["messages"].([]any); len(ms) != 1 {
				t.Errorf("CJK query %q finds %d messages, want 1", q, len(ms))
			}
		}
		if gs := find("hik")["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["id"] != g {
			t.Errorf("groups for hik = %v", gs)
		}
		if cs := find("wei")["contacts"].([]any); len(cs) != 1 {
			t.Errorf("contacts for wei = %v", cs)
		}
		if gs := s.do(t, c.Token, "GET", "/api/v1/search?q=hik", nil).JSON(t)["groups"].([]any); len(gs) != 0 {
			t.Errorf("someone outside the group finds it: %v", gs)
		}
		t.Run("no plaintext on disk", func(t *testing.T) {
			if b != "sqlite" {
				t.Skip("the SQLite file is read directly")
			}
			s.stop()
			for _, f := range []string{"tkesj.db", "tkesj.db-wal"} {
				raw, _ := os.ReadFile(filepath.Join(s.Data, f))
				for _, word := range []string{"Saturday", "saturday", "harbour", "周六", "hikers"} {
					if bytes.Contains(raw, []byte(word)) {
						t.Errorf("%s holds %q in the clear", f, word)
					}
				}
			}
		})
	})
}
