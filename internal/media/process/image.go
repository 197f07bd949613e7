package process

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/tkesj/tkesj"
	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// MaxPixels is the largest picture, in pixels, that ReencodeImage and
// Thumbnail decode. It is checked against the picture's header before any
// pixel is decoded, so a small file that claims to be huge (a decompression
// bomb) costs nothing.
const MaxPixels = 50_000_000

// maxImageBytes bounds how much ReencodeImage reads; the service's size
// limits (Limits.Image) are far lower, this only keeps a forgotten check from
// turning into unbounded memory.
const maxImageBytes = 64 << 20

// Output qualities. Photos are re-encoded once, at a quality where the loss is
// hard to see; thumbnails are small and shown small.
const (
	photoQuality     = 85
	thumbnailQuality = 80
)

// ReencodeImage decodes a JPEG, PNG, GIF (its first frame) or WebP picture,
// turns it upright by its EXIF orientation, shrinks it so that neither side
// exceeds maxSide (0 means no limit) and encodes it afresh: as JPEG at quality
// 85, or as PNG when the picture has transparency. It returns the new bytes,
// their type and the final width and height.
//
// Only pixels survive: EXIF (with its GPS position), XMP, IPTC, ICC profiles
// and comments are all left behind (R-MED-3). A caller that wants to share a
// location does so as a message field, never through the picture.
//
// Pictures over MaxPixels, or whose decoded form would take more than
// MaxDecodeBytes (a 16-bit PNG, a progressive JPEG: R-SEC-5), are refused with
// ETooLarge "image_too_large" before decoding; anything that does not decode
// is EInvalid "invalid_image". ReencodeImage bounds one picture's memory, not
// the sum over concurrent callers: a server uses a Decoder for that.
func ReencodeImage(r io.Reader, maxSide int) (out []byte, mime string, w, h int, err error) {
	return reencode(context.Background(), nil, r, maxSide, MaxPixels)
}

func reencode(ctx context.Context, budget *Decoder, r io.Reader, maxSide int, maxPixels int64) (out []byte, mime string, w, h int, err error) {
	// The whole body is read before any decoding memory is asked for, so a
	// sender that stalls halfway holds no share of the budget (R-SEC-5).
	b, err := io.ReadAll(io.LimitReader(r, maxImageBytes+1))
	if err != nil {
		return nil, "", 0, 0, fmt.Errorf("read image: %w", err)
	}
	if len(b) > maxImageBytes {
		return nil, "", 0, 0, tkesj.Errorf(tkesj.ETooLarge, "image_too_large",
			"pictures may be at most %d MB", maxImageBytes>>20)
	}
	format, cfg, err := inspect(b, maxPixels)
	if err != nil {
		return nil, "", 0, 0, err
	}
	dw, dh := scaledSize(cfg.Width, cfg.Height, maxSide)
	release, err := budget.acquire(ctx, decodeCost(format, cfg, b)+outputCost(cfg.Width, dw, dh))
	if err != nil {
		return nil, "", 0, 0, err
	}
	defer release()
	pic, err := decodeChecked(format, b, maxPixels)
	if err != nil {
		return nil, "", 0, 0, err
	}
	img := fit(pic.img, pic.orientation, maxSide)
	pic.img = nil // the decoded picture may be collected while encoding
	var buf bytes.Buffer
	if pic.alpha {
		mime = "image/png"
		err = png.Encode(&buf, img)
	} else {
		mime = "image/jpeg"
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: photoQuality})
	}
	if err != nil {
		return nil, "", 0, 0, fmt.Errorf("encode image: %w", err)
	}
	return buf.Bytes(), mime, img.Bounds().Dx(), img.Bounds().Dy(), nil
}

// Thumbnail returns a JPEG of img, upright, that fits in side×side pixels.
// Transparent areas become white. It never enlarges a picture. Errors are as
// for ReencodeImage.
func Thumbnail(img []byte, side int) ([]byte, error) {
	return thumbnail(context.Background(), nil, img, side)
}

func thumbnail(ctx context.Context, budget *Decoder, img []byte, side int) ([]byte, error) {
	if side <= 0 {
		return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_thumbnail_size", "thumbnail size must be positive")
	}
	format, cfg, err := inspect(img, MaxPixels)
	if err != nil {
		return nil, err
	}
	dw, dh := scaledSize(cfg.Width, cfg.Height, side)
	release, err := budget.acquire(ctx, decodeCost(format, cfg, img)+2*outputCost(cfg.Width, dw, dh))
	if err != nil {
		return nil, err
	}
	defer release()
	pic, err := decodeChecked(format, img, MaxPixels)
	if err != nil {
		return nil, err
	}
	m := fit(pic.img, pic.orientation, side)
	if pic.alpha {
		flat := image.NewRGBA(m.Bounds())
		draw.Draw(flat, flat.Bounds(), image.White, image.Point{}, draw.Src)
		draw.Draw(flat, flat.Bounds(), m, m.Bounds().Min, draw.Over)
		m = flat
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: thumbnailQuality}); err != nil {
		return nil, fmt.Errorf("encode thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

// picture is a decoded image with what decode learnt about it.
type picture struct {
	img         image.Image
	orientation int  // EXIF orientation, 1 to 8; 1 when absent
	alpha       bool // some pixel is not fully opaque
}

func errInvalidImage(cause error) error {
	return &tkesj.Error{Kind: tkesj.EInvalid, Code: "invalid_image",
		Message: "this picture can't be read; try another one", Err: cause}
}

// inspect names b's format and reads its header, refusing pictures over
// maxPixels or whose decoded form would exceed MaxDecodeBytes. Nothing is
// decoded yet, so a small file that claims to be huge costs nothing.
func inspect(b []byte, maxPixels int64) (string, image.Config, error) {
	format := imageFormat(b)
	if format == "" {
		return "", image.Config{}, errInvalidImage(nil)
	}
	cfg, err := decodeConfig(format, b)
	if err != nil {
		return "", image.Config{}, errInvalidImage(err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", image.Config{}, errInvalidImage(fmt.Errorf("%s of %dx%d", format, cfg.Width, cfg.Height))
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return "", image.Config{}, errTooManyPixels(maxPixels)
	}
	if decodeCost(format, cfg, b) > MaxDecodeBytes {
		return "", image.Config{}, tkesj.Errorf(tkesj.ETooLarge, "image_too_large",
			"this picture is too large to process at its colour depth; save it with fewer pixels or 8 bits per channel")
	}
	return format, cfg, nil
}

// decodeChecked decodes b, whose header inspect has passed.
func decodeChecked(format string, b []byte, maxPixels int64) (picture, error) {
	img, err := decodeImage(format, b)
	if err != nil {
		return picture{}, errInvalidImage(err)
	}
	// A decoder may find a frame of another size than its header said; hold
	// it to the same bound.
	if d := img.Bounds().Size(); d.X <= 0 || d.Y <= 0 {
		return picture{}, errInvalidImage(fmt.Errorf("decoded %s of %v", format, d))
	} else if int64(d.X)*int64(d.Y) > maxPixels {
		return picture{}, errTooManyPixels(maxPixels)
	}
	pic := picture{img: img, orientation: 1}
	if format == "jpeg" {
		pic.orientation = jpegOrientation(b)
	} else {
		o, ok := img.(interface{ Opaque() bool })
		pic.alpha = !ok || !o.Opaque()
	}
	return pic, nil
}

func errTooManyPixels(maxPixels int64) error {
	return tkesj.Errorf(tkesj.ETooLarge, "image_too_large",
		"pictures may be at most %d megapixels", maxPixels/1_000_000)
}

// imageFormat names the format of b from its magic number, or "" when it is
// not one ReencodeImage decodes. The format is chosen here rather than by the
// image package's registry so that what this package decodes does not depend
// on which decoders other packages happen to register.
func imageFormat(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case riff(b, "WEBP"):
		return "webp"
	}
	return ""
}

func decodeConfig(format string, b []byte) (image.Config, error) {
	r := bytes.NewReader(b)
	switch format {
	case "jpeg":
		return jpeg.DecodeConfig(r)
	case "png":
		return png.DecodeConfig(r)
	case "gif":
		return gif.DecodeConfig(r)
	default:
		return webp.DecodeConfig(r)
	}
}

// decodeImage decodes b. It turns a panic in a decoder into an error: the
// input is hostile by assumption and one bad upload must not take the server
// down, however unlikely a decoder bug is.
func decodeImage(format string, b []byte) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("decode %s: panic: %v", format, p)
		}
	}()
	r := bytes.NewReader(b)
	switch format {
	case "jpeg":
		return jpeg.Decode(r)
	case "png":
		return png.Decode(r)
	case "gif":
		return gif.Decode(r) // the first frame
	default:
		return webp.Decode(r)
	}
}

// fit shrinks img so that neither side exceeds maxSide (0 means no limit) and
// turns it upright by the EXIF orientation o. It returns img itself when
// there is nothing to do, so an upright picture of the right size is
// re-encoded straight from the decoder's output.
func fit(img image.Image, o, maxSide int) image.Image {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	dw, dh := scaledSize(sw, sh, maxSide)
	var m *image.RGBA
	switch {
	case dw != sw || dh != sh:
		m = shrink(img, dw, dh)
	case o != 1:
		m = image.NewRGBA(image.Rect(0, 0, sw, sh))
		draw.Draw(m, m.Bounds(), img, b.Min, draw.Src)
	default:
		return img
	}
	// Orientation is applied after scaling: rotating the small picture is
	// cheaper, and a square bound fits a picture the same either way round.
	return orient(m, o)
}

// span says where one source pixel, along one axis, lands in the shrunk
// picture: a share w0 of it in destination pixel d and the rest (w1) in d+1.
type span struct {
	d      int
	w0, w1 float32
}

// spans maps each of n source pixels onto m ≤ n destination pixels, each of
// which covers n/m source pixels exactly (an area average).
func spans(n, m int) []span {
	out := make([]span, n)
	scale := float64(m) / float64(n) // destination pixels per source pixel
	for i := range out {
		lo, hi := float64(i)*scale, float64(i+1)*scale
		d := int(lo)
		if d >= m {
			d = m - 1
		}
		edge := float64(d + 1)
		if hi <= edge || d+1 >= m {
			out[i] = span{d: d, w0: float32(hi - lo)}
		} else {
			out[i] = span{d: d, w0: float32(edge - lo), w1: float32(hi - edge)}
		}
	}
	return out
}

// shrink scales img down to dw×dh by averaging the area each destination
// pixel covers. It streams: one source row is converted at a time, so beyond
// the output it needs memory for a few rows, however large img is. (The
// kernel scalers of x/image/draw keep a float buffer of dw×sh×32 bytes, which
// for a 7000-row picture shrunk to 2048 is 458 MB: R-SEC-5.)
func shrink(img image.Image, dw, dh int) *image.RGBA {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	xs, ys := spans(sw, dw), spans(sh, dh)
	row := image.NewRGBA(image.Rect(0, 0, sw, 1))
	line := make([]float32, 4*dw)  // one source row, shrunk across
	acc := make([]float32, 2*4*dw) // destination rows d and d+1 being summed
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	cur := 0 // the destination row acc[:4*dw] sums into
	flush := func() {
		p := dst.Pix[cur*dst.Stride : cur*dst.Stride+4*dw]
		for i, v := range acc[:4*dw] {
			v += 0.5 // the weights of each destination pixel sum to 1
			if v > 255 {
				v = 255
			}
			p[i] = uint8(v)
		}
		copy(acc, acc[4*dw:])
		clear(acc[4*dw:])
		cur++
	}
	for y := range sh {
		draw.Draw(row, row.Rect, img, image.Pt(b.Min.X, b.Min.Y+y), draw.Src)
		clear(line)
		for x, s := range xs {
			p := row.Pix[4*x : 4*x+4]
			l := line[4*s.d : 4*s.d+4]
			for c := range 4 {
				l[c] += s.w0 * float32(p[c])
			}
			if s.w1 != 0 {
				l = line[4*s.d+4 : 4*s.d+8]
				for c := range 4 {
					l[c] += s.w1 * float32(p[c])
				}
			}
		}
		s := ys[y]
		for s.d > cur {
			flush()
		}
		for i, v := range line {
			acc[i] += s.w0 * v
		}
		if s.w1 != 0 {
			for i, v := range line {
				acc[4*dw+i] += s.w1 * v
			}
		}
	}
	for cur < dh {
		flush()
	}
	return dst
}

// scaledSize returns the size of a w×h picture shrunk, keeping its aspect
// ratio, until neither side exceeds maxSide. It never enlarges.
func scaledSize(w, h, maxSide int) (int, int) {
	if maxSide <= 0 || w <= maxSide && h <= maxSide {
		return w, h
	}
	if w >= h {
		return maxSide, max(1, int((int64(h)*int64(maxSide)+int64(w)/2)/int64(w)))
	}
	return max(1, int((int64(w)*int64(maxSide)+int64(h)/2)/int64(h))), maxSide
}

// orient returns m turned by EXIF orientation o (1 to 8): the picture as the
// camera's user saw it. Orientations 5 to 8 swap width and height.
func orient(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	d := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range h {
		src := m.Pix[y*m.Stride : y*m.Stride+4*w]
		for x := range w {
			var dx, dy int
			switch o {
			case 2: // mirrored left to right
				dx, dy = w-1-x, y
			case 3: // turned 180°
				dx, dy = w-1-x, h-1-y
			case 4: // mirrored top to bottom
				dx, dy = x, h-1-y
			case 5: // mirrored along the top-left diagonal
				dx, dy = y, x
			case 6: // needs turning 90° clockwise
				dx, dy = h-1-y, x
			case 7: // mirrored along the top-right diagonal
				dx, dy = h-1-y, w-1-x
			case 8: // needs turning 90° anticlockwise
				dx, dy = y, w-1-x
			}
			copy(d.Pix[dy*d.Stride+4*dx:dy*d.Stride+4*dx+4], src[4*x:4*x+4])
		}
	}
	return d
}

// jpegOrientation returns the EXIF orientation tag of a JPEG, or 1 when there
// is none. It walks the marker segments before the first scan and reads only
// IFD0 of an APP1 "Exif" segment; everything else in it is ignored (and
// dropped by re-encoding).
func jpegOrientation(b []byte) int {
	if !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
		return 1
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return 1
		}
		marker := b[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0x01 || marker >= 0xd0 && marker <= 0xd8: // no length
			i += 2
			continue
		case marker == 0xda || marker == 0xd9: // start of scan, end of image
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		if seg := b[i+4 : i+2+n]; marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			if o := exifOrientation(seg[6:]); o != 0 {
				return o
			}
		}
		i += 2 + n
	}
	return 1
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF structure, returning 0
// when it is absent or malformed.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int64(bo.Uint32(t[4:8]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[off:]))
	for k := range n {
		e := off + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		if bo.Uint16(t[e+2:]) != 3 { // SHORT
			return 0
		}
		if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}
