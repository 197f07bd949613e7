package process

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/attack/bombs"
)

var (
	red  = color.RGBA{R: 255, A: 255}
	blue = color.RGBA{B: 255, A: 255}
)

// halves returns a w×h picture whose left half is red and right half blue.
func halves(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if x < w/2 {
				m.SetRGBA(x, y, red)
			} else {
				m.SetRGBA(x, y, blue)
			}
		}
	}
	return m
}

// MustJPEG encodes m as a JPEG.
func MustJPEG(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatalf("jpeg.Encode: %v", err)
	}
	return buf.Bytes()
}

// MustPNG encodes m as a PNG.
func MustPNG(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		tb.Fatalf("png.Encode: %v", err)
	}
	return buf.Bytes()
}

// gpsLatitude is the GPSLatitude value planted in test pictures: 39° 54'
// 27.19", as three little-endian RATIONALs. Finding these 24 bytes in an
// output means the position leaked.
var gpsLatitude = func() []byte {
	b := make([]byte, 0, 24)
	for _, v := range []uint32{39, 1, 54, 1, 2719, 100} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}()

// xmpGPS is planted in an XMP segment, the other place phones put positions.
const xmpGPS = "exif:GPSLatitude>39,54.4532N<"

// exifTIFF builds a little-endian TIFF structure as found in an APP1 "Exif"
// segment: IFD0 holds the orientation (when o > 0) and a pointer to a GPS IFD
// holding GPSLatitudeRef "N" and GPSLatitude.
func exifTIFF(o int) []byte {
	le := binary.LittleEndian
	entry := func(b []byte, tag, typ uint16, count, value uint32) []byte {
		b = le.AppendUint16(b, tag)
		b = le.AppendUint16(b, typ)
		b = le.AppendUint32(b, count)
		return le.AppendUint32(b, value)
	}
	const (
		ifd0    = 8
		gpsIFD  = ifd0 + 2 + 2*12 + 4
		latData = gpsIFD + 2 + 2*12 + 4
	)
	t := []byte("II*\x00")
	t = le.AppendUint32(t, ifd0)
	t = le.AppendUint16(t, 2)
	if o > 0 {
		t = entry(t, 0x0112, 3, 1, uint32(o)) // Orientation, SHORT
	} else {
		t = entry(t, 0x010f, 2, 4, uint32('T')|uint32('k')<<8) // Make "Tk", ASCII
	}
	t = entry(t, 0x8825, 4, 1, gpsIFD) // GPSInfo IFD pointer, LONG
	t = le.AppendUint32(t, 0)          // no IFD1
	t = le.AppendUint16(t, 2)
	t = entry(t, 0x0001, 2, 2, 'N')     // GPSLatitudeRef "N"
	t = entry(t, 0x0002, 5, 3, latData) // GPSLatitude, 3 RATIONALs
	t = le.AppendUint32(t, 0)
	return append(t, gpsLatitude...)
}

// withMetadata splices, right after the SOI marker of a JPEG, an APP1 EXIF
// segment with orientation o and a GPS position, and an APP1 XMP segment
// with a GPS position: what a phone camera writes.
func withMetadata(tb testing.TB, jpg []byte, o int) []byte {
	tb.Helper()
	if !bytes.HasPrefix(jpg, []byte{0xff, 0xd8}) {
		tb.Fatalf("withMetadata: not a JPEG")
	}
	segment := func(marker byte, payload []byte) []byte {
		s := []byte{0xff, marker}
		s = binary.BigEndian.AppendUint16(s, uint16(2+len(payload)))
		return append(s, payload...)
	}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, segment(0xe1, append([]byte("Exif\x00\x00"), exifTIFF(o)...))...)
	out = append(out, segment(0xe1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><"+xmpGPS+"/x:xmpmeta>"))...)
	return append(out, jpg[2:]...)
}

// pngHeader returns the signature and IHDR chunk of a w×h RGBA PNG, with no
// pixel data: enough for DecodeConfig, a bomb if anyone decoded it.
func pngHeader(w, h uint32) []byte {
	ihdr := []byte("IHDR")
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA, deflate, no interlace
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// near reports whether c is within 40 of want in each channel: JPEG is lossy.
func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) bool { return int(x>>8)-int(y) < 40 && int(y)-int(x>>8) < 40 }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

func TestReencodeImageStripsLocation(t *testing.T) {
	// R-MED-3: whatever metadata a picture carries, only pixels come out.
	in := withMetadata(t, MustJPEG(t, halves(64, 48)), 1)
	for _, planted := range [][]byte{[]byte("Exif"), gpsLatitude, []byte(xmpGPS)} {
		if !bytes.Contains(in, planted) {
			t.Fatalf("test picture lacks %q; the test proves nothing", planted)
		}
	}
	for _, maxSide := range []int{0, 32} {
		out, mime, _, _, err := ReencodeImage(bytes.NewReader(in), maxSide)
		if err != nil {
			t.Fatalf("ReencodeImage(maxSide %d) = %v", maxSide, err)
		}
		if mime != "image/jpeg" {
			t.Errorf("ReencodeImage(maxSide %d) type = %q, want image/jpeg", maxSide, mime)
		}
		for _, leak := range [][]byte{[]byte("Exif"), gpsLatitude, []byte(xmpGPS), []byte("GPS"), []byte("xmpmeta")} {
			if bytes.Contains(out, leak) {
				t.Errorf("ReencodeImage(maxSide %d) output contains %q", maxSide, leak)
			}
		}
		if _, err := jpeg.Decode(bytes.NewReader(out)); err != nil {
			t.Errorf("ReencodeImage(maxSide %d) output does not decode: %v", maxSide, err)
		}
	}
}

func TestReencodeImage(t *testing.T) {
	transparent := image.NewNRGBA(image.Rect(0, 0, 30, 20))
	transparent.SetNRGBA(3, 3, color.NRGBA{G: 255, A: 255})
	var gifBuf bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 40, 10), color.Palette{red, blue})
	if err := gif.EncodeAll(&gifBuf, &gif.GIF{Image: []*image.Paletted{pal, pal}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		in           []byte
		maxSide      int
		wantMIME     string
		wantW, wantH int
		// wantTopLeft, when set, is the colour expected near the top-left
		// corner of the output, showing which way it was turned.
		wantTopLeft, wantBottomRight color.RGBA
	}{
		{"a photo within the bound keeps its size", MustJPEG(t, halves(64, 48)), 100, "image/jpeg", 64, 48, red, blue},
		{"a photo with no bound keeps its size", MustJPEG(t, halves(64, 48)), 0, "image/jpeg", 64, 48, red, blue},
		{"a wide photo is shrunk to the bound keeping its shape", MustJPEG(t, halves(400, 300)), 100, "image/jpeg", 100, 75, red, blue},
		{"a tall photo is shrunk to the bound keeping its shape", MustJPEG(t, halves(300, 400)), 100, "image/jpeg", 75, 100, red, blue},
		{"a very thin photo keeps at least one pixel across", MustJPEG(t, halves(1000, 2)), 100, "image/jpeg", 100, 1, color.RGBA{}, color.RGBA{}},
		{"orientation 6 turns the photo clockwise, swapping width and height", withMetadata(t, MustJPEG(t, halves(40, 20)), 6), 0, "image/jpeg", 20, 40, red, blue},
		{"orientation 6 is applied to a shrunk photo too", withMetadata(t, MustJPEG(t, halves(400, 200)), 6), 100, "image/jpeg", 50, 100, red, blue},
		{"orientation 8 turns the photo anticlockwise", withMetadata(t, MustJPEG(t, halves(40, 20)), 8), 0, "image/jpeg", 20, 40, blue, red},
		{"orientation 3 turns the photo upside down", withMetadata(t, MustJPEG(t, halves(40, 20)), 3), 0, "image/jpeg", 40, 20, blue, red},
		{"orientation 2 mirrors the photo", withMetadata(t, MustJPEG(t, halves(40, 20)), 2), 0, "image/jpeg", 40, 20, blue, red},
		{"a photo without orientation is left as it is", withMetadata(t, MustJPEG(t, halves(40, 20)), 0), 0, "image/jpeg", 40, 20, red, blue},
		{"an opaque PNG becomes a JPEG", MustPNG(t, halves(40, 20)), 0, "image/jpeg", 40, 20, red, blue},
		{"a PNG with transparency stays a PNG", MustPNG(t, transparent), 0, "image/png", 30, 20, color.RGBA{}, color.RGBA{}},
		{"a shrunk PNG with transparency stays a PNG", MustPNG(t, transparent), 15, "image/png", 15, 10, color.RGBA{}, color.RGBA{}},
		{"an animated GIF gives its first frame", gifBuf.Bytes(), 0, "image/jpeg", 40, 10, red, red},
		{"a lossy WebP becomes a JPEG", mustRead(t, "testdata/blue-purple-pink.lossy.webp"), 0, "image/jpeg", 150, 100, color.RGBA{}, color.RGBA{}},
		{"a WebP with transparency becomes a PNG", mustRead(t, "testdata/gopher-doc.with-alpha.lossless.webp"), 50, "image/png", 38, 50, color.RGBA{}, color.RGBA{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, mime, w, h, err := ReencodeImage(bytes.NewReader(tt.in), tt.maxSide)
			if err != nil {
				t.Fatalf("ReencodeImage = %v, want no error", err)
			}
			if mime != tt.wantMIME || w != tt.wantW || h != tt.wantH {
				t.Errorf("ReencodeImage = %s %dx%d, want %s %dx%d", mime, w, h, tt.wantMIME, tt.wantW, tt.wantH)
			}
			m, format, err := image.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("output does not decode: %v", err)
			}
			if "image/"+format != mime {
				t.Errorf("output is %s, but ReencodeImage said %s", format, mime)
			}
			if b := m.Bounds(); b.Dx() != w || b.Dy() != h {
				t.Errorf("output is %dx%d, but ReencodeImage said %dx%d", b.Dx(), b.Dy(), w, h)
			}
			if tt.wantTopLeft.A != 0 {
				b := m.Bounds()
				if c := m.At(b.Min.X+1, b.Min.Y+1); !near(c, tt.wantTopLeft) {
					t.Errorf("top-left pixel = %v, want about %v", c, tt.wantTopLeft)
				}
				if c := m.At(b.Max.X-2, b.Max.Y-2); !near(c, tt.wantBottomRight) {
					t.Errorf("bottom-right pixel = %v, want about %v", c, tt.wantBottomRight)
				}
			}
			if tt.wantMIME == "image/png" {
				if o, ok := m.(interface{ Opaque() bool }); ok && o.Opaque() {
					t.Errorf("output PNG lost its transparency")
				}
			}
		})
	}
}

func TestReencodeImageRefusesBombs(t *testing.T) {
	// A 100000×100000 picture would need 40 GB decoded; its header is 33
	// bytes. It must be refused from the header alone.
	gifBomb := []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00")
	tests := []struct {
		name string
		in   []byte
	}{
		{"a PNG header claiming 100000×100000 pixels is refused", pngHeader(100000, 100000)},
		{"a PNG header claiming 50000001 pixels is refused", pngHeader(50000001, 1)},
		{"a GIF header claiming 65535×65535 pixels is refused", gifBomb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, _, _, err := ReencodeImage(bytes.NewReader(tt.in), 2048)
			runtime.ReadMemStats(&after)
			if got := tkesj.ErrorCode(err); got != "image_too_large" {
				t.Fatalf("ReencodeImage = %v, want code image_too_large", err)
			}
			if got := tkesj.ErrorKindOf(err); got != tkesj.ETooLarge {
				t.Errorf("ReencodeImage kind = %s, want %s", got, tkesj.ETooLarge)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("ReencodeImage allocated %d bytes refusing a bomb, want under 1 MiB", n)
			}
			if _, err := Thumbnail(tt.in, 100); tkesj.ErrorCode(err) != "image_too_large" {
				t.Errorf("Thumbnail = %v, want code image_too_large", err)
			}
		})
	}
}

func TestReencodeImageRefusesMalformedInput(t *testing.T) {
	jpg := MustJPEG(t, halves(64, 48))
	png := MustPNG(t, halves(64, 48))
	badCRC := append([]byte{}, png...)
	badCRC[29] ^= 0xff // inside the IHDR checksum
	tests := []struct {
		name string
		in   []byte
	}{
		{"nothing at all is refused", nil},
		{"text is refused", []byte("this is not a picture")},
		{"a program named like a picture is refused", []byte("MZ\x90\x00\x03\x00\x00\x00")},
		{"a JPEG cut in half is refused", jpg[:len(jpg)/2]},
		{"a JPEG signature alone is refused", jpg[:3]},
		{"a PNG cut in half is refused", png[:len(png)/2]},
		{"a PNG with a bad checksum is refused", badCRC},
		{"a PNG header without pixels is refused", pngHeader(10, 10)},
		{"a PNG of zero width is refused", pngHeader(0, 10)},
		{"a GIF header alone is refused", []byte("GIF89a\x0a\x00\x0a\x00\x00\x00\x00")},
		{"a WebP header alone is refused", []byte("RIFF\x24\x00\x00\x00WEBPVP8 ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, _, err := ReencodeImage(bytes.NewReader(tt.in), 100)
			var e *tkesj.Error
			if !errors.As(err, &e) || e.Kind != tkesj.EInvalid || e.Code != "invalid_image" {
				t.Errorf("ReencodeImage = %v, want EInvalid invalid_image", err)
			}
			if _, err := Thumbnail(tt.in, 100); tkesj.ErrorCode(err) != "invalid_image" {
				t.Errorf("Thumbnail = %v, want code invalid_image", err)
			}
		})
	}
}

func TestThumbnail(t *testing.T) {
	transparent := image.NewNRGBA(image.Rect(0, 0, 30, 20))
	tests := []struct {
		name         string
		in           []byte
		side         int
		wantW, wantH int
	}{
		{"a wide photo fits the square", MustJPEG(t, halves(400, 300)), 100, 100, 75},
		{"a tall photo fits the square", MustJPEG(t, halves(300, 400)), 100, 75, 100},
		{"a small photo is not enlarged", MustJPEG(t, halves(40, 30)), 100, 40, 30},
		{"an oriented photo is turned upright", withMetadata(t, MustJPEG(t, halves(400, 200)), 6), 100, 50, 100},
		{"a transparent PNG becomes a JPEG", MustPNG(t, transparent), 10, 10, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Thumbnail(tt.in, tt.side)
			if err != nil {
				t.Fatalf("Thumbnail = %v, want no error", err)
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(out))
			if err != nil || format != "jpeg" {
				t.Fatalf("Thumbnail output is %q, %v; want a JPEG", format, err)
			}
			if cfg.Width != tt.wantW || cfg.Height != tt.wantH {
				t.Errorf("Thumbnail is %dx%d, want %dx%d", cfg.Width, cfg.Height, tt.wantW, tt.wantH)
			}
			if bytes.Contains(out, []byte("Exif")) || bytes.Contains(out, gpsLatitude) {
				t.Errorf("Thumbnail output carries metadata")
			}
		})
	}
	t.Run("a size of zero is refused", func(t *testing.T) {
		if _, err := Thumbnail(MustJPEG(t, halves(4, 4)), 0); tkesj.ErrorKindOf(err) != tkesj.EInvalid {
			t.Errorf("Thumbnail(side 0) = %v, want EInvalid", err)
		}
	})
}

func TestJPEGOrientation(t *testing.T) {
	jpg := MustJPEG(t, halves(8, 8))
	bigEndian := func() []byte {
		// The same IFD0 written by a Motorola-order camera.
		tiff := []byte("MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x05\x00\x00\x00\x00\x00\x00")
		seg := append([]byte{0xff, 0xe1, 0, byte(2 + 6 + len(tiff))}, "Exif\x00\x00"...)
		return append(append(append([]byte{0xff, 0xd8}, seg...), tiff...), jpg[2:]...)
	}()
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"a JPEG without EXIF is upright", jpg, 1},
		{"little-endian EXIF orientation 6 is read", withMetadata(t, jpg, 6), 6},
		{"big-endian EXIF orientation 5 is read", bigEndian, 5},
		{"EXIF without an orientation tag is upright", withMetadata(t, jpg, 0), 1},
		{"an orientation out of range is ignored", withMetadata(t, jpg, 9), 1},
		{"a segment longer than the file is ignored", []byte{0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 'E', 'x'}, 1},
		{"not a JPEG is upright", []byte("GIF89a"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(tt.in); got != tt.want {
				t.Errorf("jpegOrientation = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestScaledSize(t *testing.T) {
	tests := []struct {
		name          string
		w, h, maxSide int
		wantW, wantH  int
	}{
		{"a picture within the bound is unchanged", 100, 50, 100, 100, 50},
		{"no bound leaves the picture unchanged", 5000, 4000, 0, 5000, 4000},
		{"a 12-megapixel photo is bounded to 2048 across", 4000, 3000, 2048, 2048, 1536},
		{"a portrait photo is bounded to 2048 high", 3000, 4000, 2048, 1536, 2048},
		{"rounding is to the nearest pixel", 3, 2, 2, 2, 1},
		{"a sliver keeps one pixel", 10000, 1, 100, 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w, h := scaledSize(tt.w, tt.h, tt.maxSide); w != tt.wantW || h != tt.wantH {
				t.Errorf("scaledSize(%d, %d, %d) = %d, %d, want %d, %d", tt.w, tt.h, tt.maxSide, w, h, tt.wantW, tt.wantH)
			}
		})
	}
}

// photo returns a w×h picture with gradients and fine detail, so that JPEG
// coding costs what a real photo's does.
func photo(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	seed := uint32(1)
	for y := range h {
		for x := range w {
			seed = seed*1664525 + 1013904223
			n := uint8(seed >> 28)
			i := m.PixOffset(x, y)
			m.Pix[i+0] = uint8(x*255/w) + n
			m.Pix[i+1] = uint8(y*255/h) + n
			m.Pix[i+2] = uint8((x+y)&0xff) + n
			m.Pix[i+3] = 255
		}
	}
	return m
}

// BenchmarkReencode re-encodes a 12-megapixel camera photo to the 2048-pixel
// bound the service uses for pictures in chats.
func BenchmarkReencode(b *testing.B) {
	in := withMetadata(b, MustJPEG(b, photo(4000, 3000)), 6)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, _, err := ReencodeImage(bytes.NewReader(in), 2048); err != nil {
			b.Fatal(err)
		}
	}
}

// allocated returns how many bytes f allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Issue 14 item 5, R-SEC-5: a 381 KB PNG of 7000×7000 pixels at 16 bits per
// channel is under the 50-megapixel cap but decodes to 392 MB (1.58 GB of RSS
// through the old scaler). Its depth is read from the header and it is
// refused before a pixel is decoded.
func TestReencodeImageRefusesADeepPictureFromItsHeader(t *testing.T) {
	bomb := bombs.ZeroPNG(7000, 7000, bombs.Depth16, bombs.RGBA)
	var err error
	n := allocated(func() { _, _, _, _, err = ReencodeImage(bytes.NewReader(bomb), 2048) })
	if tkesj.ErrorCode(err) != "image_too_large" || tkesj.ErrorKindOf(err) != tkesj.ETooLarge {
		t.Fatalf("ReencodeImage(7000×7000 16-bit PNG) = %v, want ETooLarge image_too_large", err)
	}
	if n > 8<<20 {
		t.Errorf("refusing a %d-byte bomb allocated %d bytes, want under 8 MiB", len(bomb), n)
	}
	if _, err := Thumbnail(bomb, 320); tkesj.ErrorCode(err) != "image_too_large" {
		t.Errorf("Thumbnail(7000×7000 16-bit PNG) = %v, want image_too_large", err)
	}
}

// Issue 14 item 5, R-SEC-5: shrinking streams. A 2600×1800 grey picture is
// 4.7 MB decoded; shrinking it to 1024 must not add a buffer proportional to
// its height times the output's width (x/image/draw's kernels keep
// 1024×1800×32 bytes = 59 MB).
func TestReencodeImageShrinksInBoundedMemory(t *testing.T) {
	in := bombs.ZeroPNG(2600, 1800, bombs.Depth8, bombs.Gray)
	var w, h int
	var err error
	n := allocated(func() { _, _, w, h, err = ReencodeImage(bytes.NewReader(in), 1024) })
	if err != nil || w != 1024 || h != 709 {
		t.Fatalf("ReencodeImage(2600×1800) = %dx%d, %v, want 1024x709", w, h, err)
	}
	// decoded 4.7 MB + output 2.9 MB + encoder and slack
	if n > 20<<20 {
		t.Errorf("ReencodeImage(2600×1800 grey) allocated %d MB, want under 20 MB", n>>20)
	}
}

// Issue 14 item 4 and 5, R-SEC-5: a Decoder shares one memory budget among
// its callers. A caller waits for a share only after its picture has been
// read in full, so one that stalls mid-upload holds nothing; a caller that
// can't get its share in time gets its context's error; a picture whose
// share exceeds the whole budget is refused.
func TestDecoderSharesOneBudget(t *testing.T) {
	small := MustJPEG(t, halves(64, 48))
	d := NewDecoder(8 << 20)

	t.Run("a stalled upload holds no share of the budget", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		go d.ReencodeImage(context.Background(), pr, 2048)
		pw.Write(small[:len(small)/2]) // and then nothing more
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, _, _, _, err := d.ReencodeImage(ctx, bytes.NewReader(small), 2048); err != nil {
			t.Fatalf("ReencodeImage beside a stalled upload = %v, want success", err)
		}
	})
	t.Run("a caller waits while the budget is taken and gives up with its context", func(t *testing.T) {
		release, err := d.acquire(context.Background(), 8<<20)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, _, _, _, err := d.ReencodeImage(ctx, bytes.NewReader(small), 2048)
			done <- err
		}()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("ReencodeImage with the budget taken = %v, want context.Canceled", err)
		}
		release()
		if _, _, _, _, err := d.ReencodeImage(context.Background(), bytes.NewReader(small), 2048); err != nil {
			t.Errorf("ReencodeImage once the budget is back = %v, want success", err)
		}
	})
	t.Run("a picture needing more than the whole budget is refused", func(t *testing.T) {
		in := bombs.ZeroPNG(3000, 3000, bombs.Depth8, bombs.RGBA) // 36 MB decoded
		if _, _, _, _, err := d.ReencodeImage(context.Background(), bytes.NewReader(in), 2048); tkesj.ErrorCode(err) != "image_too_large" {
			t.Errorf("ReencodeImage(36 MB decoded, 8 MB budget) = %v, want image_too_large", err)
		}
	})
}

func TestDecodeCostCoversWhatTheDecoderHolds(t *testing.T) {
	// The estimate must cover the decoded picture: compare with what decoding
	// actually allocates, for each colour type the decoders produce.
	tests := []struct {
		name string
		in   []byte
	}{
		{"an 8-bit grey PNG", bombs.ZeroPNG(500, 400, bombs.Depth8, bombs.Gray)},
		{"an 8-bit RGBA PNG", bombs.ZeroPNG(500, 400, bombs.Depth8, bombs.RGBA)},
		{"a 16-bit RGBA PNG", bombs.ZeroPNG(500, 400, bombs.Depth16, bombs.RGBA)},
		{"a baseline JPEG", MustJPEG(t, photo(500, 400))},
		{"a lossless WebP", mustRead(t, "testdata/gopher-doc.with-alpha.lossless.webp")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format, cfg, err := inspect(tt.in, MaxPixels)
			if err != nil {
				t.Fatal(err)
			}
			est := decodeCost(format, cfg, tt.in)
			n := allocated(func() {
				if _, err := decodeChecked(format, tt.in, MaxPixels); err != nil {
					t.Fatal(err)
				}
			})
			if int64(n) > est {
				t.Errorf("decoding %s allocated %d bytes, more than its estimate %d", tt.name, n, est)
			}
		})
	}
}
