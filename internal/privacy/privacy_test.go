package privacy

import (
	"fmt"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// R-MOM-2: the whole visibility table: every visibility against every
// relation the viewer can have to the author.
func TestCanSeePost(t *testing.T) {
	relations := []struct {
		name string
		rel  Relation
	}{
		{"the author", Relation{Viewer: "author", AuthorRange: RangeAll}},
		{"a friend", Relation{Viewer: "friend", Friends: true, AuthorRange: RangeAll}},
		{"a listed friend", Relation{Viewer: "listed", Friends: true, AuthorRange: RangeAll}},
		{"a stranger", Relation{Viewer: "stranger", AuthorRange: RangeAll}},
		{"a blocked friend", Relation{Viewer: "friend", Friends: true, Blocked: true, AuthorRange: RangeAll}},
		{"a friend the author hides posts from", Relation{Viewer: "friend", Friends: true, HiddenFromViewer: true, AuthorRange: RangeAll}},
	}
	// want[visibility] lists the relations (by index above) that see the post.
	want := map[string][]bool{
		Friends: {true, true, true, false, false, false},
		Only:    {true, false, true, false, false, false},
		Except:  {true, true, false, false, false, false},
		Private: {true, false, false, false, false, false},
	}
	for vis, wants := range want {
		for i, r := range relations {
			post := Post{Author: "author", Visibility: vis, Listed: map[string]bool{"listed": true}, CreatedAt: now.Add(-time.Hour)}
			t.Run(fmt.Sprintf("a %s post is seen by %s: %v", vis, r.name, wants[i]), func(t *testing.T) {
				if got := CanSeePost(post, r.rel, now); got != wants[i] {
					t.Errorf("CanSeePost(%s, %s) = %v, want %v", vis, r.name, got, wants[i])
				}
			})
		}
	}
}

// R-MOM-2: "friends may see my posts of the last 3 days / 6 months / all".
// R-MOM-2, R-MOM-4: the timeline shows what CanSeePost allows minus the
// authors the viewer muted; muting oneself changes nothing.
func TestInTimeline(t *testing.T) {
	post := Post{Author: "author", Visibility: Friends, CreatedAt: now.Add(-time.Hour)}
	old := Post{Author: "author", Visibility: Friends, CreatedAt: now.AddDate(0, 0, -4)}
	for _, tc := range []struct {
		name string
		p    Post
		r    Relation
		want bool
	}{
		{"a friend's post", post, Relation{Viewer: "v", Friends: true, AuthorRange: RangeAll}, true},
		{"a muted friend's post", post, Relation{Viewer: "v", Friends: true, MutedByViewer: true, AuthorRange: RangeAll}, false},
		{"one's own post, muted flag or not", post, Relation{Viewer: "author", MutedByViewer: true, AuthorRange: RangeAll}, true},
		{"a post of a friend no more", post, Relation{Viewer: "v", AuthorRange: RangeAll}, false},
		{"a post out of the author's 3-day range", old, Relation{Viewer: "v", Friends: true, AuthorRange: Range3Days}, false},
		{"a blocked friend's post", post, Relation{Viewer: "v", Friends: true, Blocked: true, AuthorRange: RangeAll}, false},
		{"a post hidden from the viewer", post, Relation{Viewer: "v", Friends: true, HiddenFromViewer: true, AuthorRange: RangeAll}, false},
	} {
		t.Run(fmt.Sprintf("%s is in the timeline: %v", tc.name, tc.want), func(t *testing.T) {
			if got := InTimeline(tc.p, tc.r, now); got != tc.want {
				t.Errorf("InTimeline = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAuthorRange(t *testing.T) {
	for _, tc := range []struct {
		rng  string
		age  time.Duration
		want bool
	}{
		{Range3Days, 71 * time.Hour, true},
		{Range3Days, 73 * time.Hour, false},
		{Range6Months, 170 * 24 * time.Hour, true},
		{Range6Months, 200 * 24 * time.Hour, false},
		{RangeAll, 5 * 365 * 24 * time.Hour, true},
	} {
		p := Post{Author: "a", Visibility: Friends, CreatedAt: now.Add(-tc.age)}
		if got := CanSeePost(p, Relation{Viewer: "f", Friends: true, AuthorRange: tc.rng}, now); got != tc.want {
			t.Errorf("range %s, post %v old: CanSeePost = %v, want %v", tc.rng, tc.age, got, tc.want)
		}
		// The author always sees their own, whatever the range.
		if !CanSeePost(p, Relation{Viewer: "a", AuthorRange: tc.rng}, now) {
			t.Errorf("range %s hid a post from its author", tc.rng)
		}
	}
}

// R-MOM-3: likes and comments show only when written by the viewer or a friend of the viewer.
func TestCanSeeInteraction(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		viewer, writer         string
		writerIsFriend, blocks bool
		want                   bool
	}{
		{"one's own comment", "v", "v", false, false, true},
		{"a friend's comment", "v", "f", true, false, true},
		{"a stranger's comment on a friend's post", "v", "s", false, false, false},
		{"a blocked friend's comment", "v", "f", true, true, false},
	} {
		if got := CanSeeInteraction(tc.viewer, tc.writer, tc.writerIsFriend, tc.blocks); got != tc.want {
			t.Errorf("%s: CanSeeInteraction = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidVisibility(t *testing.T) {
	for v, want := range map[string][2]bool{Friends: {true, false}, Private: {true, false}, Only: {true, true}, Except: {true, true}, "public": {false, false}, "": {false, false}} {
		ok, list := ValidVisibility(v)
		if ok != want[0] || list != want[1] {
			t.Errorf("ValidVisibility(%q) = %v, %v; want %v", v, ok, list, want)
		}
	}
}
