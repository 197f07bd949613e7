// Package privacy holds tkesj's pure visibility rules: who may see a Moment,
// its likes and comments, and for how long. It has no I/O, so every rule is
// exhaustively table-tested here, and the service calls it on every read path
// so that no handler can skip it. Anyone may import it.
package privacy

import "time"

// Visibility of one post (R-MOM-2).
const (
	Friends = "friends" // all friends
	Only    = "only"    // only the listed friends
	Except  = "except"  // all friends but the listed ones
	Private = "private" // the author alone
)

// Range is how far back an author's friends may see their posts (R-MOM-2).
const (
	Range3Days   = "3d"
	Range6Months = "6m"
	RangeAll     = "all"
)

// Post is what the rules need to know about a Moment.
type Post struct {
	Author     string
	Visibility string
	Listed     map[string]bool // the audience list of an Only or Except post
	CreatedAt  time.Time
}

// Relation is what the rules need to know about the viewer and the author.
type Relation struct {
	Viewer           string
	Friends          bool   // viewer and author are friends
	Blocked          bool   // either blocks the other
	HiddenFromViewer bool   // the author hides their posts from the viewer
	AuthorRange      string // the author's Range setting
	MutedByViewer    bool   // the viewer does not want the author's posts in their timeline
}

// CanSeePost reports whether the viewer may see the post at now. The author
// always sees their own; nobody else sees a private post; strangers and
// blocked people see nothing; the author's range and per-person hiding apply
// to friends; Only and Except follow their lists.
func CanSeePost(p Post, r Relation, now time.Time) bool {
	if r.Viewer == p.Author {
		return true
	}
	if r.Blocked || !r.Friends || r.HiddenFromViewer {
		return false
	}
	switch r.AuthorRange {
	case Range3Days:
		if p.CreatedAt.Before(now.Add(-3 * 24 * time.Hour)) {
			return false
		}
	case Range6Months:
		if p.CreatedAt.Before(now.AddDate(0, -6, 0)) {
			return false
		}
	}
	switch p.Visibility {
	case Friends:
		return true
	case Only:
		return p.Listed[r.Viewer]
	case Except:
		return !p.Listed[r.Viewer]
	}
	return false
}

// InTimeline reports whether the post belongs in the viewer's timeline at
// now: a post the viewer may see (CanSeePost) whose author the viewer has
// not muted. Muting tidies the timeline only; the author's album and the
// post itself stay visible. The timeline applies it to every reference it
// reads, so a reference written before a change of relationship, range or
// list is never shown once the rules say no.
func InTimeline(p Post, r Relation, now time.Time) bool {
	if r.Viewer != p.Author && r.MutedByViewer {
		return false
	}
	return CanSeePost(p, r, now)
}

// CanSeeInteraction reports whether a viewer who can see a post may see a
// like or comment on it by writer: only the viewer's own and those of the
// viewer's friends (R-MOM-3, the WeChat rule). writerIsFriend says whether
// writer and viewer are friends.
func CanSeeInteraction(viewer, writer string, writerIsFriend, blocked bool) bool {
	if writer == viewer {
		return true
	}
	return writerIsFriend && !blocked
}

// ValidVisibility reports whether v is a visibility and whether it needs a list.
func ValidVisibility(v string) (ok, needsList bool) {
	switch v {
	case Friends, Private:
		return true, false
	case Only, Except:
		return true, true
	}
	return false, false
}
