// Package search turns text into the tokens of tkesj's message index
// (R-MSG-6). The service stores only keyed hashes of these tokens, so the
// index holds no readable text; this package is pure and imported by the
// service only.
//
// Words of alphabetic scripts become lower-cased, NFKC-normalised tokens;
// runs of Han, Kana and Hangul, which have no spaces, become overlapping
// bigrams (and a lone character becomes a unigram), which is how CJK search
// engines without a dictionary match substrings.
package search

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxTokens bounds the tokens taken from one text.
const MaxTokens = 256

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// Tokens returns the distinct tokens of text, in order of first appearance.
func Tokens(text string) []string {
	text = strings.ToLower(norm.NFKC.String(text))
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if t != "" && !seen[t] && len(out) < MaxTokens {
			seen[t] = true
			out = append(out, t)
		}
	}
	var word []rune
	var cjk []rune
	flushWord := func() {
		if len(word) >= 1 {
			add(string(word))
		}
		word = word[:0]
	}
	flushCJK := func() {
		switch {
		case len(cjk) == 1:
			add(string(cjk))
		case len(cjk) > 1:
			for i := 0; i+1 < len(cjk); i++ {
				add(string(cjk[i : i+2]))
			}
		}
		cjk = cjk[:0]
	}
	for _, r := range text {
		switch {
		case isCJK(r):
			flushWord()
			cjk = append(cjk, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			flushCJK()
			if len(word) < 64 {
				word = append(word, r)
			}
		default:
			flushWord()
			flushCJK()
		}
	}
	flushWord()
	flushCJK()
	return out
}

// MaxPrefix is the longest word prefix the index holds: a query word of up
// to this many characters finds every word it begins ("sat" finds
// "Saturday"); a longer one finds whole words.
const MaxPrefix = 20

// MaxIndexTokens bounds the index entries of one text.
const MaxIndexTokens = 1024

// IndexTokens returns what the index holds for text (R-MSG-6, issue 15):
// every token of Tokens, every prefix of two characters or more of each
// word (up to MaxPrefix), and every single CJK character (the prefix of
// its bigram), so that a query's tokens, looked up whole, find the words
// and character runs they begin.
func IndexTokens(text string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if t != "" && !seen[t] && len(out) < MaxIndexTokens {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, t := range Tokens(text) {
		add(t)
		rs := []rune(t)
		if isCJK(rs[0]) {
			for _, r := range rs {
				add(string(r))
			}
			continue
		}
		for n := 2; n < len(rs) && n <= MaxPrefix; n++ {
			add(string(rs[:n]))
		}
	}
	return out
}

// Matches reports whether every token of query begins one of text's tokens
// ("sat" matches "Saturday"; a lone CJK character matches the bigrams it
// starts): the check run on decrypted text after the index narrowed the
// candidates.
func Matches(text, query string) bool {
	have := Tokens(text)
	q := Tokens(query)
	if len(q) == 0 {
		return false
	}
	for _, t := range q {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.HasPrefix(h, t) }) {
			return false
		}
	}
	return true
}
