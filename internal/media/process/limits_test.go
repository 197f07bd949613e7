package process

import (
	"errors"
	"strings"
	"testing"

	"github.com/tkesj/tkesj"
)

func TestLimitsCheck(t *testing.T) {
	// R-MED-1: size limits per kind.
	custom := Limits{Video: 50 << 20, Voice: 1536 << 10}
	tests := []struct {
		name        string
		limits      Limits
		kind        string
		size        int64
		wantKind    tkesj.ErrorKind // "" for no error
		wantCode    string
		wantMessage string
	}{
		{"a picture at the limit is accepted", DefaultLimits, KindImage, 20 << 20, "", "", ""},
		{"a picture one byte over is refused", DefaultLimits, KindImage, 20<<20 + 1, tkesj.ETooLarge, "media_too_large", "20 MB"},
		{"a 100 MB video is accepted", DefaultLimits, KindVideo, 100 << 20, "", "", ""},
		{"a larger video is refused", DefaultLimits, KindVideo, 101 << 20, tkesj.ETooLarge, "media_too_large", "100 MB"},
		{"an 11 MB voice message is refused", DefaultLimits, KindVoice, 11 << 20, tkesj.ETooLarge, "media_too_large", "10 MB"},
		{"a 100 MB file is accepted", DefaultLimits, KindFile, 100 << 20, "", "", ""},
		{"an empty file is accepted", DefaultLimits, KindFile, 0, "", "", ""},
		{"a configured video limit applies", custom, KindVideo, 60 << 20, tkesj.ETooLarge, "media_too_large", "50 MB"},
		{"a fractional limit is named exactly", custom, KindVoice, 2 << 20, tkesj.ETooLarge, "media_too_large", "1.5 MB"},
		{"an unset limit falls back to the default", custom, KindImage, 21 << 20, tkesj.ETooLarge, "media_too_large", "20 MB"},
		{"the zero Limits are the defaults", Limits{}, KindFile, 100 << 20, "", "", ""},
		{"an unknown kind is refused", DefaultLimits, "program", 1, tkesj.EUnsupported, "unsupported_media", ""},
		{"a negative size is refused", DefaultLimits, KindFile, -1, tkesj.EInvalid, "invalid_media_size", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.limits.Check(tt.kind, tt.size)
			if tt.wantKind == "" {
				if err != nil {
					t.Errorf("Check(%q, %d) = %v, want nil", tt.kind, tt.size, err)
				}
				return
			}
			var e *tkesj.Error
			if !errors.As(err, &e) || e.Kind != tt.wantKind || e.Code != tt.wantCode {
				t.Fatalf("Check(%q, %d) = %v, want %s %s", tt.kind, tt.size, err, tt.wantKind, tt.wantCode)
			}
			if !strings.Contains(e.Message, tt.wantMessage) {
				t.Errorf("Check(%q, %d) message = %q, want it to name %q", tt.kind, tt.size, e.Message, tt.wantMessage)
			}
		})
	}
}
