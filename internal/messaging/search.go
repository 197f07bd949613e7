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
	toks := search.Tokens(text)
	out := make([][]byte, 0, len(toks))
	for _, t := range toks {
		out = append(out, s.Keys.Index("search", t))
	}
	return out
}

// SearchResult is what a person finds in their own chats and contacts (R-MSG-6).
type SearchResult struct {
	Messages []Message
	Contacts []social.Profile
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
	var recs []store.MessageRecord
	var err error
	if mentioned {
		recs, err = s.DB.Read().MentionsOf(ctx, a.UserID, 200)
	} else {
		recs, err = s.DB.Read().SearchMessages(ctx, a.UserID, s.tokenHashes(query), 50)
	}
	if err != nil {
		return SearchResult{}, s.Internal(ctx, "search", err)
	}
	res := SearchResult{Messages: []Message{}, Contacts: []social.Profile{}}
	for _, r := range recs {
		m := s.MessageView(ctx, r)
		// The index narrows; the decrypted text decides (and a destroyed
		// sender's message, unreadable now, never matches).
		if !m.SenderDeleted && !m.Recalled && !s.expired(r) && (query == "" || search.Matches(m.Text, query)) {
			res.Messages = append(res.Messages, m)
		}
		if len(res.Messages) == 50 {
			break
		}
	}
	if query == "" {
		return res, nil
	}
	contacts, err := s.Contacts(ctx, a)
	if err != nil {
		return SearchResult{}, err
	}
	lq := strings.ToLower(query)
	for _, c := range contacts {
		if strings.Contains(strings.ToLower(c.Nickname), lq) || strings.Contains(c.Username, lq) || strings.Contains(strings.ToLower(c.Remark), lq) {
			res.Contacts = append(res.Contacts, c)
		}
	}
	return res, nil
}
