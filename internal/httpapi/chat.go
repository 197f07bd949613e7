package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/realtime"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
)

// handle wraps the common shape of a handler: run fn, write its error as a
// problem document or its value as JSON with status.
func (s *server) handle(status int, fn func(w http.ResponseWriter, r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(w, r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, v)
	})
}

// handleJSON is handle for a handler that takes a JSON body: it decodes Req
// (with decode's limits and rules) before calling fn.
func handleJSON[Req any](s *server, status int, fn func(r *http.Request, req Req) (any, error)) http.Handler {
	return s.handle(status, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req Req
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return fn(r, req)
	})
}

func profileJSON(p service.Profile) wire.PublicUser {
	j := wire.PublicUser{ID: p.ID, Username: p.Username, Nickname: p.Nickname, Gender: p.Gender, Remark: p.Remark, Unreadable: p.Unreadable}
	if p.AvatarID != "" {
		j.AvatarURL = "/api/v1/users/" + p.ID + "/avatar"
	}
	return j
}

func profilesJSON(ps []service.Profile) []wire.PublicUser {
	out := make([]wire.PublicUser, 0, len(ps))
	for _, p := range ps {
		out = append(out, profileJSON(p))
	}
	return out
}

func requestJSON(fr service.FriendRequest) wire.FriendRequest {
	j := wire.FriendRequest{ID: fr.ID, From: fr.FromID, To: fr.ToID, Status: fr.Status,
		CreatedAt: fr.CreatedAt.Format(time.RFC3339), ExpiresAt: fr.ExpiresAt.Format(time.RFC3339), Greeting: fr.Greeting}
	if fr.From.ID != "" {
		from := profileJSON(fr.From)
		j.FromUser = &from
	}
	if fr.To.ID != "" {
		to := profileJSON(fr.To)
		j.ToUser = &to
	}
	return j
}

func settingsJSON(st service.Settings) wire.Settings {
	return wire.Settings{FoundByPhone: st.FoundByPhone, FoundByUsername: st.FoundByUsername,
		FriendRequestsNeedApproval: st.FriendRequestsNeedApproval, MomentsRange: st.MomentsRange,
		PushEnabled: st.PushEnabled, PushShowText: st.PushShowText, DefaultPostVisibility: st.DefaultPostVisibility}
}

func (s *server) handleSearchUsers() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ps, err := s.svc.SearchUsers(r.Context(), authOf(r), r.URL.Query().Get("q"))
		return wire.UserList{Users: profilesJSON(ps)}, err
	})
}

func (s *server) handleSettings() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		st, err := s.svc.Settings(r.Context(), authOf(r))
		return settingsJSON(st), err
	})
}

func (s *server) handleUpdateSettings() http.Handler {
	type request struct {
		FoundByPhone               *bool   `json:"found_by_phone"`
		FoundByUsername            *bool   `json:"found_by_username"`
		FriendRequestsNeedApproval *bool   `json:"friend_requests_need_approval"`
		MomentsRange               *string `json:"moments_range"`
		PushEnabled                *bool   `json:"push_enabled"`
		PushShowText               *bool   `json:"push_show_text"`
		DefaultPostVisibility      *string `json:"default_post_visibility"`
	}
	return handleJSON(s, 200, func(r *http.Request, req request) (any, error) {
		st, err := s.svc.UpdateSettings(r.Context(), authOf(r), service.SettingsUpdate{
			FoundByPhone: req.FoundByPhone, FoundByUsername: req.FoundByUsername, FriendRequestsNeedApproval: req.FriendRequestsNeedApproval,
			MomentsRange: req.MomentsRange, PushEnabled: req.PushEnabled, PushShowText: req.PushShowText, DefaultPostVisibility: req.DefaultPostVisibility})
		return settingsJSON(st), err
	})
}

func (s *server) handleSendFriendRequest() http.Handler {
	type request struct {
		To       string `json:"to"`
		Greeting string `json:"greeting"`
	}
	return handleJSON(s, 201, func(r *http.Request, req request) (any, error) {
		fr, err := s.svc.SendFriendRequest(r.Context(), authOf(r), req.To, req.Greeting)
		return requestJSON(fr), err
	})
}

func (s *server) handleFriendRequests() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		frs, err := s.svc.FriendRequests(r.Context(), authOf(r))
		out := make([]wire.FriendRequest, 0, len(frs))
		for _, fr := range frs {
			out = append(out, requestJSON(fr))
		}
		return wire.FriendRequestList{Requests: out}, err
	})
}

func (s *server) handleAnswerFriendRequest(accept bool) http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		fr, err := s.svc.AnswerFriendRequest(r.Context(), authOf(r), r.PathValue("id"), accept)
		return requestJSON(fr), err
	})
}

func (s *server) handleContacts() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ps, err := s.svc.Contacts(r.Context(), authOf(r))
		return wire.ContactList{Contacts: profilesJSON(ps)}, err
	})
}

func (s *server) handleUpdateContact() http.Handler {
	type request struct {
		Remark *string `json:"remark"`
	}
	return handleJSON(s, 204, func(r *http.Request, req request) (any, error) {
		if req.Remark == nil {
			return nil, errorf(tkesj.EInvalid, "missing_field", `send {"remark": "..."}`)
		}
		return nil, s.svc.SetRemark(r.Context(), authOf(r), r.PathValue("id"), *req.Remark)
	})
}

func (s *server) handleRemoveContact() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.RemoveContact(r.Context(), authOf(r), r.PathValue("id"))
	})
}

func (s *server) handleBlocked() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ps, err := s.svc.Blocked(r.Context(), authOf(r))
		return wire.BlockedList{Blocked: profilesJSON(ps)}, err
	})
}

func (s *server) handleBlock(block bool) http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		if block {
			return nil, s.svc.Block(r.Context(), authOf(r), r.PathValue("id"))
		}
		return nil, s.svc.Unblock(r.Context(), authOf(r), r.PathValue("id"))
	})
}

func conversationJSON(c service.Conversation) wire.Conversation {
	j := wire.Conversation{ID: c.ID, Kind: c.Kind, Role: c.Role, LastSeq: c.LastSeq, ReadSeq: c.ReadSeq,
		ReceivedSeq: c.ReceivedSeq, Unread: max(0, c.LastSeq-c.ReadSeq), Muted: c.Muted, Mentioned: c.Mentioned, Pinned: c.Pinned, DisappearAfterS: int64(c.DisappearAfter / time.Second), UpdatedAt: c.UpdatedAt.Format(time.RFC3339Nano)}
	if c.Kind == "group" {
		j.Name, j.Announcement = &c.Name, &c.Announcement
	}
	if c.Peer != nil {
		if c.Peer.Username == "" && !c.Peer.Unreadable {
			j.Peer = &wire.Peer{PublicUser: wire.PublicUser{ID: c.Peer.ID}, Deleted: true}
		} else {
			j.Peer = &wire.Peer{PublicUser: profileJSON(*c.Peer)}
		}
	}
	if c.Members != nil {
		ms := make([]wire.Member, 0, len(c.Members))
		for _, m := range c.Members {
			ms = append(ms, wire.Member{PublicUser: profileJSON(m.Profile), Role: m.Role, ReadSeq: m.ReadSeq})
		}
		j.Members, j.MemberCount = &ms, &c.MemberCount
	}
	if c.LastMessage != nil {
		lm := service.MessageJSON(*c.LastMessage)
		j.LastMessage = &lm
	}
	return j
}

func (s *server) handleCreateConversation() http.Handler {
	type request struct {
		Kind    string   `json:"kind"`
		Name    string   `json:"name"`
		Members []string `json:"members"`
	}
	return handleJSON(s, 201, func(r *http.Request, req request) (any, error) {
		a := authOf(r)
		switch req.Kind {
		case "direct":
			if len(req.Members) != 1 {
				return nil, errorf(tkesj.EInvalid, "invalid_members", "a direct chat names exactly one other person in members")
			}
			c, _, err := s.svc.CreateDirect(r.Context(), a, req.Members[0])
			return conversationJSON(c), err
		case "group":
			if len(req.Members) > 1000 {
				return nil, errorf(tkesj.EInvalid, "group_full", "too many members")
			}
			c, err := s.svc.CreateGroup(r.Context(), a, req.Name, req.Members)
			return conversationJSON(c), err
		}
		return nil, errorf(tkesj.EInvalid, "invalid_kind", `kind must be "direct" or "group"`)
	})
}

func (s *server) handleConversations() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		cs, err := s.svc.Conversations(r.Context(), authOf(r))
		out := make([]wire.Conversation, 0, len(cs))
		for _, c := range cs {
			out = append(out, conversationJSON(c))
		}
		return wire.ConversationList{Conversations: out}, err
	})
}

func (s *server) handleConversation() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		c, err := s.svc.Conversation(r.Context(), authOf(r), r.PathValue("id"))
		return conversationJSON(c), err
	})
}

func (s *server) handleUpdateConversation() http.Handler {
	type request struct {
		Name            *string `json:"name"`
		Announcement    *string `json:"announcement"`
		DisappearAfterS *int64  `json:"disappear_after_s"`
	}
	return handleJSON(s, 200, func(r *http.Request, req request) (any, error) {
		a, id := authOf(r), r.PathValue("id")
		if req.DisappearAfterS != nil {
			c, err := s.svc.SetDisappearing(r.Context(), a, id, *req.DisappearAfterS)
			if err != nil || (req.Name == nil && req.Announcement == nil) {
				return conversationJSON(c), err
			}
		}
		c, err := s.svc.UpdateGroup(r.Context(), a, id, service.GroupUpdate{Name: req.Name, Announcement: req.Announcement})
		return conversationJSON(c), err
	})
}

func (s *server) handleAddMembers() http.Handler {
	type request struct {
		Members []string `json:"members"`
	}
	return handleJSON(s, 200, func(r *http.Request, req request) (any, error) {
		if len(req.Members) > 1000 {
			return nil, errorf(tkesj.EInvalid, "group_full", "too many members")
		}
		c, err := s.svc.AddMembers(r.Context(), authOf(r), r.PathValue("id"), req.Members)
		return conversationJSON(c), err
	})
}

func (s *server) handleRemoveMember() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.RemoveMember(r.Context(), authOf(r), r.PathValue("id"), r.PathValue("user"))
	})
}

func (s *server) handleSetRole() http.Handler {
	type request struct {
		Role string `json:"role"`
	}
	return handleJSON(s, 204, func(r *http.Request, req request) (any, error) {
		return nil, s.svc.SetRole(r.Context(), authOf(r), r.PathValue("id"), r.PathValue("user"), req.Role)
	})
}

func (s *server) handleMute() http.Handler {
	type request struct {
		Muted *bool `json:"muted"`
	}
	return handleJSON(s, 200, func(r *http.Request, req request) (any, error) {
		if req.Muted == nil {
			return nil, errorf(tkesj.EInvalid, "missing_field", `send {"muted": true} or {"muted": false}`)
		}
		return wire.Muted{Muted: *req.Muted}, s.svc.Mute(r.Context(), authOf(r), r.PathValue("id"), *req.Muted)
	})
}

func (s *server) handleSendMessage() http.Handler {
	type request struct {
		ClientID string            `json:"client_id"`
		Kind     string            `json:"kind"`
		Text     string            `json:"text"`
		MediaID  string            `json:"media_id"`
		Location *service.Location `json:"location"`
		CardUser string            `json:"card_user"`
		ReplyTo  int64             `json:"reply_to"`
		Mentions []string          `json:"mentions"`
		// MentionAll names everyone (a group's owner and admins).
		MentionAll bool `json:"mention_all"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		m, created, err := s.svc.Send(r.Context(), authOf(r), r.PathValue("id"), service.SendInput{
			ClientID: req.ClientID, Kind: req.Kind, Text: req.Text, MediaID: req.MediaID, Location: req.Location, CardUser: req.CardUser,
			ReplyTo: req.ReplyTo, Mentions: req.Mentions, MentionAll: req.MentionAll})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		status := http.StatusCreated
		if !created {
			status = http.StatusOK
		}
		writeJSON(w, status, service.MessageJSON(m))
	})
}

// queryInt reads a non-negative integer query parameter (def when absent).
func queryInt(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errorf(tkesj.EInvalid, "invalid_query", "%s must be a non-negative whole number", name)
	}
	return n, nil
}

func (s *server) handleMessages() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		after, err := queryInt(r, "after_seq", 0)
		if err != nil {
			return nil, err
		}
		before, err := queryInt(r, "before_seq", 0)
		if err != nil {
			return nil, err
		}
		limit, err := queryInt(r, "limit", 50)
		if err != nil {
			return nil, err
		}
		ms, err := s.svc.Messages(r.Context(), authOf(r), r.PathValue("id"), after, before, int(min(limit, 1000)))
		out := make([]wire.Message, 0, len(ms))
		for _, m := range ms {
			out = append(out, service.MessageJSON(m))
		}
		return wire.MessageList{Messages: out}, err
	})
}

func pathSeq(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || n <= 0 {
		return 0, errorf(tkesj.ENotFound, "not_found", "message not found")
	}
	return n, nil
}

func (s *server) handleRecall() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		seq, err := pathSeq(r)
		if err != nil {
			return nil, err
		}
		return nil, s.svc.Recall(r.Context(), authOf(r), r.PathValue("id"), seq)
	})
}

func (s *server) handleDeleteForMe() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		seq, err := pathSeq(r)
		if err != nil {
			return nil, err
		}
		return nil, s.svc.DeleteForMe(r.Context(), authOf(r), r.PathValue("id"), seq)
	})
}

func (s *server) handleRead() http.Handler {
	type request struct {
		Seq int64 `json:"seq"`
	}
	return handleJSON(s, 204, func(r *http.Request, req request) (any, error) {
		return nil, s.svc.MarkRead(r.Context(), authOf(r), r.PathValue("id"), req.Seq)
	})
}

func (s *server) handleWS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Realtime == nil {
			writeError(w, r, s.log, errorf(tkesj.EUnavailable, "unavailable", "real-time delivery is not running"))
			return
		}
		a := authOf(r)
		s.opts.Realtime.ServeWS(w, r, realtime.Peer{UserID: a.UserID, DeviceIdx: a.DeviceIdx, Requests: s.wsRequests(a.TokenHash)})
	})
}

func (s *server) handleSearch() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		mentioned := r.URL.Query().Get("mentioned")
		if mentioned != "" && mentioned != "true" && mentioned != "false" {
			return nil, errorf(tkesj.EInvalid, "invalid_query", "mentioned is true or false")
		}
		res, err := s.svc.Search(r.Context(), authOf(r), r.URL.Query().Get("q"), mentioned == "true")
		out := wire.SearchResults{Messages: make([]wire.Message, 0, len(res.Messages)), Hits: make([]wire.SearchHit, 0, len(res.Hits)),
			Contacts: profilesJSON(res.Contacts), Groups: make([]wire.SearchChat, 0, len(res.Groups)), Favorites: make([]wire.Favorite, 0, len(res.Favorites))}
		for _, m := range res.Messages {
			out.Messages = append(out.Messages, service.MessageJSON(m))
		}
		for _, h := range res.Hits {
			out.Hits = append(out.Hits, wire.SearchHit{Message: service.MessageJSON(h.Message),
				Conversation: wire.SearchChat{ID: h.Message.ConversationID, Kind: h.ConversationKind, Name: h.ConversationName}, SenderName: h.SenderName})
		}
		for _, g := range res.Groups {
			out.Groups = append(out.Groups, wire.SearchChat{ID: g.ID, Kind: g.Kind, Name: g.Name})
		}
		for _, f := range res.Favorites {
			out.Favorites = append(out.Favorites, favoriteJSON(f))
		}
		return out, err
	})
}

func (s *server) handlePin() http.Handler {
	type request struct {
		Pinned *bool `json:"pinned"`
	}
	return handleJSON(s, 200, func(r *http.Request, req request) (any, error) {
		if req.Pinned == nil {
			return nil, errorf(tkesj.EInvalid, "missing_field", `send {"pinned": true} or {"pinned": false}`)
		}
		return wire.Pinned{Pinned: *req.Pinned}, s.svc.Pin(r.Context(), authOf(r), r.PathValue("id"), *req.Pinned)
	})
}

func messageMediaJSON(m service.MediaInfo) wire.MessageMedia {
	j := wire.MessageMedia{ID: m.ID, Kind: m.Kind, Mime: m.Mime, Size: m.Size, URL: "/api/v1/media/" + m.ID}
	if len(m.Meta) > 0 && string(m.Meta) != "{}" {
		j.Meta = m.Meta
	}
	return j
}

func favoriteJSON(f service.Favorite) wire.Favorite {
	j := wire.Favorite{ID: f.ID, Kind: f.Kind, ConversationID: f.ConversationID, Seq: f.Seq, MomentID: f.MomentID, AuthorID: f.AuthorID,
		AuthorName: f.AuthorName, ContentKind: f.ContentKind, Text: f.Text, SentAt: f.SentAt.Format(time.RFC3339Nano), CreatedAt: f.CreatedAt.Format(time.RFC3339Nano)}
	for _, m := range f.Media {
		j.Media = append(j.Media, messageMediaJSON(m))
	}
	if f.Location != nil {
		j.Location = &wire.Location{Lat: f.Location.Lat, Lng: f.Location.Lng, Name: f.Location.Name}
	}
	return j
}

func (s *server) handleAddFavorite() http.Handler {
	type request struct {
		ConversationID string `json:"conversation_id"`
		Seq            int64  `json:"seq"`
		MomentID       string `json:"moment_id"`
	}
	return handleJSON(s, 201, func(r *http.Request, req request) (any, error) {
		f, err := s.svc.AddFavorite(r.Context(), authOf(r), service.FavoriteInput{ConversationID: req.ConversationID, Seq: req.Seq, MomentID: req.MomentID})
		return favoriteJSON(f), err
	})
}

func (s *server) handleFavorites() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		fs, err := s.svc.Favorites(r.Context(), authOf(r), r.URL.Query().Get("q"))
		out := make([]wire.Favorite, 0, len(fs))
		for _, f := range fs {
			out = append(out, favoriteJSON(f))
		}
		return wire.FavoriteList{Favorites: out}, err
	})
}

func (s *server) handleDeleteFavorite() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.DeleteFavorite(r.Context(), authOf(r), r.PathValue("id"))
	})
}

func (s *server) handleForward() http.Handler {
	type request struct {
		From struct {
			ConversationID string  `json:"conversation_id"`
			Seqs           []int64 `json:"seqs"`
		} `json:"from"`
		To   []string `json:"to"`
		Mode string   `json:"mode"`
	}
	return handleJSON(s, 201, func(r *http.Request, req request) (any, error) {
		made, err := s.svc.Forward(r.Context(), authOf(r), service.ForwardInput{From: req.From.ConversationID, Seqs: req.From.Seqs, To: req.To, RawMode: req.Mode})
		out := wire.Forwarded{Messages: make([]wire.ForwardedMessage, 0, len(made))}
		for _, m := range made {
			out.Messages = append(out.Messages, wire.ForwardedMessage{ConversationID: m.ConversationID, ID: m.ID, Seq: m.Seq})
		}
		return out, err
	})
}
