package bombs

import (
	"bytes"
	"image/png"
	"testing"
)

func TestZeroPNGIsAValidPicture(t *testing.T) {
	for _, tt := range []struct {
		w, h         int
		depth, color byte
	}{{300, 200, Depth16, RGBA}, {3000, 1000, Depth8, Gray}, {17, 5, Depth8, RGB}} {
		b := ZeroPNG(tt.w, tt.h, tt.depth, tt.color)
		m, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("ZeroPNG(%d, %d, %d, %d) does not decode: %v", tt.w, tt.h, tt.depth, tt.color, err)
		}
		if s := m.Bounds().Size(); s.X != tt.w || s.Y != tt.h {
			t.Errorf("ZeroPNG(%d, %d, ...) decodes to %v", tt.w, tt.h, s)
		}
	}
	if n := len(ZeroPNG(7000, 7000, Depth16, RGBA)); n > 400<<10 {
		t.Errorf("the 7000×7000 16-bit bomb is %d bytes, want under 400 KB", n)
	}
}
