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

// PrefixLengths are the lengths, in characters, of the word prefixes the
// index holds besides whole words. A query word is looked up by its
// longest prefix of one of these lengths (QueryTokens), which finds every
// word it begins ("sat" finds "Saturday") along with some it does not
// ("satisfy" for "satu"); the decrypted text then decides (Matches). Fewer
// lengths mean fewer index rows per word, which is most of the indexer's
// cost (issue 17: every prefix of 2 to 20 characters was ~25 rows for the
// bench's six words, these are ~20), at the price of more candidates for
// a search to open.
var PrefixLengths = [...]int{2, 3, 5, 8}

// MaxPrefix is the longest word prefix the index holds.
const MaxPrefix = 8

// MaxIndexTokens bounds the index entries of one text.
const MaxIndexTokens = 1024

// IndexTokens returns what the index holds for text (R-MSG-6, issue 15):
// every token of Tokens, each word's prefixes of PrefixLengths shorter
// than it, and every single CJK character (the prefix of its bigram), so
// that a query's QueryTokens, looked up whole, find the words and
// character runs they begin.
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
		for _, n := range PrefixLengths {
			if n < len(rs) {
				add(string(rs[:n]))
			}
		}
	}
	return out
}

// QueryTokens returns what the index is searched for to find text's words
// as word beginnings: each token of Tokens cut to the longest of
// PrefixLengths it reaches (a one-character word, and CJK, as it is). A
// message holding a word that a query word begins holds that prefix.
func QueryTokens(query string) []string {
	var out []string
	for _, t := range Tokens(query) {
		rs := []rune(t)
		if !isCJK(rs[0]) && len(rs) > 1 {
			n := 0
			for _, l := range PrefixLengths {
				if l <= len(rs) {
					n = l
				}
			}
			t = string(rs[:n])
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
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
