package messaging

import (
	"context"
	"strings"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/search"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/store"
)

var errInvalidSearch = tkesj.Errorf(tkesj.EInvalid, "invalid_query", "search for 1 to 100 characters")

// tokenHashes turns text into keyed hashes for the index. The index key is
// the keyring's; without it the hashes say nothing, and a hash is deleted
// with its message. The trade-off: the hashes are deterministic, so someone
// holding both the database and the index key could test guesses of words
// against them — the same power that key already gives over phone look-ups.
func (s *Service) tokenHashes(text string) [][]byte {
	return s.hashes(search.IndexTokens(text))
}

// queryHashes are the keyed hashes a query looks up: its tokens cut to an
// indexed prefix length, each of which the index holds for every word it
// begins.
func (s *Service) queryHashes(query string) [][]byte { return s.hashes(search.QueryTokens(query)) }

// Search reads the index's candidates a page at a time until it has
// searchResults matches: a query word is looked up by a prefix (search.
// PrefixLengths), so candidates may hold only words sharing that prefix
// ("satisfy" for "satu"). It opens at most searchCandidates of them; past
// that, a query whose prefixes are common and whose words are rare may
// miss older matches.
const (
	searchResults    = 50
	searchPage       = 100
	searchCandidates = 2000
)

func (s *Service) hashes(toks []string) [][]byte { return s.Keys.Indexes("search", toks) }

// SearchResult is what a person finds in their own chats and contacts
// (R-MSG-6): messages (each with the chat and sender it names), contacts,
// groups by name, and favorites.
type SearchResult struct {
	Messages  []Message
	Hits      []SearchHit // Messages, each naming its chat and sender
	Contacts  []social.Profile
	Groups    []Conversation
	Favorites []Favorite
}

// SearchHit is a found message with the names a result list shows.
type SearchHit struct {
	Message          Message
	ConversationKind string
	ConversationName string // the group's name, or the other person's remark or nickname
	SenderName       string
}

// searchText is what a message is matched on: its text, or a merged
// forward's lines.
func searchText(m Message) string {
	if m.History != nil {
		return historyText(*m.History)
	}
	return m.Text
}

// nameMatches: a name matches a query containing it, or whose every word
// begins one of its words.
func nameMatches(name, query string) bool {
	return name != "" && (strings.Contains(strings.ToLower(name), strings.ToLower(query)) || search.Matches(name, query))
}

// Search finds the caller's messages containing every word of query, newest
// first, and contacts whose nickname, username or remark contains it. With
// mentioned, only messages that mention the caller are searched (R-MSG-7),
// and the query may be empty: then it lists them.
func (s *Service) Search(ctx context.Context, a kernel.Auth, query string, mentioned bool) (SearchResult, error) {
	query = strings.TrimSpace(query)
	if (query == "" && !mentioned) || len([]rune(query)) > 100 {
		return SearchResult{}, errInvalidSearch
	}
	res := SearchResult{Messages: []Message{}, Contacts: []social.Profile{}}
	// keep adds what r shows the caller if it matches; it reports whether
	// the results are full.
	keep := func(r store.MessageRecord) bool {
		m := s.MessageView(ctx, r)
		// The index narrows; the decrypted text decides (and a destroyed
		// sender's message, unreadable now, never matches).
		if !m.SenderDeleted && !m.Recalled && !s.expired(r) && (query == "" || search.Matches(searchText(m), query)) {
			one := []Message{m}
			s.RedactCards(ctx, s.DB.Read(), a.UserID, one)
			res.Messages = append(res.Messages, one[0])
		}
		return len(res.Messages) == searchResults
	}
	if mentioned {
		recs, err := s.DB.Read().MentionsOf(ctx, a.UserID, 200)
		if err != nil {
			return SearchResult{}, s.Internal(ctx, "search", err)
		}
		for _, r := range recs {
			if keep(r) {
				break
			}
		}
	} else {
		s.catchUpIndex(ctx)
		hashes := s.queryHashes(query)
		// The index is read once for its candidates, newest first; they
		// are opened a page at a time until the decrypted text has given
		// searchResults matches.
		cands, err := s.DB.Read().SearchCandidates(ctx, a.UserID, hashes, searchCandidates)
		if err != nil {
			return SearchResult{}, s.Internal(ctx, "search", err)
		}
	pages:
		for len(cands) > 0 {
			page := cands[:min(len(cands), searchPage)]
			cands = cands[len(page):]
			recs, err := s.DB.Read().CandidateMessages(ctx, a.UserID, page, len(page))
			if err != nil {
				return SearchResult{}, s.Internal(ctx, "search", err)
			}
			for _, r := range recs {
				if keep(r) {
					break pages
				}
			}
		}
	}
	convs, err := s.Conversations(ctx, a)
	if err != nil {
		return SearchResult{}, err
	}
	byID := make(map[string]Conversation, len(convs))
	for _, c := range convs {
		byID[c.ID] = c
	}
	names := map[string]string{}
	for _, m := range res.Messages {
		c := byID[m.ConversationID]
		h := SearchHit{Message: m, ConversationKind: c.Kind, ConversationName: c.Name}
		if c.Peer != nil {
			h.ConversationName = c.Peer.Nickname
			if c.Peer.Remark != "" {
				h.ConversationName = c.Peer.Remark
			}
		}
		if _, ok := names[m.SenderID]; !ok {
			if p, err := s.LookupProfile(ctx, s.DB.Read(), m.SenderID); err == nil {
				names[m.SenderID] = p.Nickname
			}
		}
		h.SenderName = names[m.SenderID]
		res.Hits = append(res.Hits, h)
	}
	if query == "" {
		return res, nil
	}
	contacts, err := s.Contacts(ctx, a)
	if err != nil {
		return SearchResult{}, err
	}
	for _, c := range contacts {
		if nameMatches(c.Nickname, query) || strings.Contains(c.Username, strings.ToLower(query)) || nameMatches(c.Remark, query) {
			res.Contacts = append(res.Contacts, c)
		}
	}
	res.Groups = []Conversation{}
	for _, c := range convs {
		if c.Kind == "group" && nameMatches(c.Name, query) {
			res.Groups = append(res.Groups, c)
		}
	}
	if res.Favorites, err = s.Favorites(ctx, a, query); err != nil {
		return SearchResult{}, err
	}
	return res, nil
}
