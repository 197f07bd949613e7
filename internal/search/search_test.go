package search

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// R-MSG-6: the tokens that make messages findable.
func TestTokens(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"words are lower-cased and split on punctuation", "Hello, World! hello", "hello world"},
		{"full-width letters are normalised", "ＨＥＬＬＯ", "hello"},
		{"Chinese becomes bigrams", "明天见面", "明天 天见 见面"},
		{"a lone Han character is a unigram", "好 ok", "好 ok"},
		{"mixed scripts split at the boundary", "约在Starbucks见", "约在 starbucks 见"},
		{"Japanese kana are bigrams too", "ありがとう", "あり りが がと とう"},
		{"accents stay part of the word", "café crème", "café crème"},
		{"digits are words", "room 404", "room 404"},
		{"nothing searchable gives nothing", "!!! ...", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(Tokens(tc.text), " "); got != tc.want {
				t.Errorf("Tokens(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

// Issue 15: prefixes are indexed, so a query word finds the words it begins.
func TestIndexTokens(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"a word brings its prefixes of PrefixLengths", "Saturday", "saturday sa sat satur"},
		{"a long word stops at MaxPrefix", "internationalisation", "internationalisation in int inter internat"},
		{"a one-letter word is itself", "a", "a"},
		{"CJK brings its characters", "周六见", "周六 周 六 六见 见"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(IndexTokens(tc.text), " "); got != tc.want {
				t.Errorf("IndexTokens(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	long := strings.Repeat("x", 100)
	if n := len(IndexTokens(long)); n != 1+len(PrefixLengths) {
		t.Errorf("a 100-letter word gives %d index tokens, want itself and its %d prefixes", n, len(PrefixLengths))
	}
	// Every query token of a prefix query is among the index tokens, for
	// query words of every length up to past the longest prefix (issue 17:
	// only some prefix lengths are indexed).
	cases := []struct{ text, query string }{{"see you Saturday", "Sat"}, {"我们周六见面", "周"}, {"我们周六见面", "周六见"}, {"a", "a"}}
	for n := 2; n <= len("internationalisation"); n++ { // one letter finds one-letter words
		cases = append(cases, struct{ text, query string }{"Internationalisation day", "internationalisation"[:n]})
	}
	for _, c := range cases {
		idx := strings.Join(IndexTokens(c.text), "\x00")
		for _, q := range QueryTokens(c.query) {
			if !strings.Contains("\x00"+idx+"\x00", "\x00"+q+"\x00") {
				t.Errorf("query %q token %q is not indexed for %q", c.query, q, c.text)
			}
		}
		if !Matches(c.text, c.query) {
			t.Errorf("Matches(%q, %q) = false", c.text, c.query)
		}
	}
}

// Issue 17: a query word is looked up by its longest indexed prefix; the
// decrypted text then tells "satisfy" from "satu".
func TestQueryTokens(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"Sat", "sat"},
		{"satu", "sat"},
		{"saturday", "saturday"},
		{"Saturday harbour", "saturday harbo"},
		{"internationalisation", "internat"},
		{"a", "a"},
		{"周六见", "周六 六见"},
		{"satu sat", "sat"},
	} {
		if got := strings.Join(QueryTokens(tc.query), " "); got != tc.want {
			t.Errorf("QueryTokens(%q) = %q, want %q", tc.query, got, tc.want)
		}
	}
	if Matches("I am satisfied", "satu") {
		t.Error(`Matches("I am satisfied", "satu") = true: the index's candidate must not be the answer`)
	}
}

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		text, query string
		want        bool
	}{
		{"see you on Saturday", "Sat", true},
		{"see you on Saturday", "urday", false},
		{"Let's meet tomorrow at the cafe", "MEET cafe", true},
		{"Let's meet tomorrow", "meeting", false},
		{"Let's meet tomorrow", "mee tom", true},
		{"我们明天在北京见面", "北京", true},
		{"我们明天在北京见面", "上海", false},
		{"anything", "", false},
	} {
		if got := Matches(tc.text, tc.query); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.text, tc.query, got, tc.want)
		}
	}
}

func TestTokensAreBounded(t *testing.T) {
	long := strings.Repeat("词", 10000) + strings.Repeat("a", 10000)
	toks := Tokens(long)
	if len(toks) > MaxTokens {
		t.Errorf("%d tokens, want at most %d", len(toks), MaxTokens)
	}
	for _, tok := range toks {
		if utf8.RuneCountInString(tok) > 64 {
			t.Errorf("a token of %d runes", utf8.RuneCountInString(tok))
		}
	}
}

func FuzzTokens(f *testing.F) {
	f.Add("hello 世界 ＡＢＣ")
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range Tokens(s) {
			if tok == "" || !utf8.ValidString(tok) {
				t.Fatalf("Tokens(%q) gave %q", s, tok)
			}
		}
	})
}
