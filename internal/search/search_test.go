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

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		text, query string
		want        bool
	}{
		{"Let's meet tomorrow at the cafe", "MEET cafe", true},
		{"Let's meet tomorrow", "meeting", false},
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
