package process

import (
	"context"
	"image"
	"image/color"
	"io"

	"github.com/tkesj/tkesj"
	"golang.org/x/sync/semaphore"
)

// MaxDecodeBytes bounds the memory one picture may take decoded, estimated
// from its header before decoding (R-SEC-5). 256 MiB admits a 50-megapixel
// picture at 8 bits per channel; a 7000×7000 PNG of 16 bits per channel
// (392 MB decoded, from a 381 KB file) is refused.
const MaxDecodeBytes = 256 << 20

// DefaultDecodeBudget is the decoding memory a Decoder shares among its
// callers unless told otherwise: two of the largest pictures at once.
const DefaultDecodeBudget = 2 * MaxDecodeBytes

// A Decoder re-encodes pictures within a memory budget shared by everyone
// who calls it, so that concurrent uploads can't together exhaust the
// server's memory however they are crafted (R-SEC-5). Each call reads its
// input completely before it asks for a share of the budget, and waits for
// its share no longer than its context allows. The zero of *Decoder (nil)
// has no shared budget; the bound of one picture still holds.
type Decoder struct {
	sem      *semaphore.Weighted
	capacity int64
}

// NewDecoder returns a Decoder that lets at most budget bytes of decoding
// memory be in use at once (DefaultDecodeBudget when budget ≤ 0). A budget
// below MaxDecodeBytes refuses the pictures that need more than it.
func NewDecoder(budget int64) *Decoder {
	if budget <= 0 {
		budget = DefaultDecodeBudget
	}
	return &Decoder{sem: semaphore.NewWeighted(budget), capacity: budget}
}

// ReencodeImage is the package's ReencodeImage within d's budget. When the
// budget stays taken until ctx is done it returns ctx's error.
func (d *Decoder) ReencodeImage(ctx context.Context, r io.Reader, maxSide int) (out []byte, mime string, w, h int, err error) {
	return reencode(ctx, d, r, maxSide, MaxPixels)
}

// Thumbnail is the package's Thumbnail within d's budget.
func (d *Decoder) Thumbnail(ctx context.Context, img []byte, side int) ([]byte, error) {
	return thumbnail(ctx, d, img, side)
}

// acquire takes n bytes of d's budget and returns the function that gives
// them back.
func (d *Decoder) acquire(ctx context.Context, n int64) (release func(), err error) {
	if d == nil {
		return func() {}, nil
	}
	if n > d.capacity {
		return nil, tkesj.Errorf(tkesj.ETooLarge, "image_too_large",
			"this picture is too large for this server to process")
	}
	if err := d.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { d.sem.Release(n) }, nil
}

// decodeCost estimates, from the header alone, how many bytes decoding b
// takes: the decoded picture and the decoder's own working buffers. It errs
// high: what matters is that no picture costs more than its estimate.
func decodeCost(format string, cfg image.Config, b []byte) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	const slack = 1 << 20
	switch format {
	case "png":
		bpp := int64(8) // 16 bits per channel, or a model not listed
		switch cfg.ColorModel {
		case color.GrayModel:
			bpp = 1
		case color.Gray16Model:
			bpp = 2
		case color.RGBAModel, color.NRGBAModel:
			bpp = 4
		default:
			if _, ok := cfg.ColorModel.(color.Palette); ok {
				bpp = 1
			}
		}
		if pngInterlaced(b) {
			bpp *= 2 // each pass is decoded into an image of its own, then merged
		}
		return px*bpp + slack
	case "jpeg":
		f := jpegFrame(b)
		var cost int64
		switch {
		case f.comps == 1:
			cost = px // grey
		case f.comps == 3 && !f.rgb:
			cost = px * 3 // YCbCr, 4:4:4 at most
		default:
			// RGB is decoded as YCbCr and then converted into an RGBA image;
			// CMYK likewise into a CMYK one. A frame jpegFrame could not read
			// is costed as the worst.
			cost = px * 8
		}
		if f.progressive || f.comps == 0 {
			// Progressive scans keep every coefficient of every block: 64
			// int32 per 8×8 block, 4 bytes a pixel per component.
			cost += px * 4 * int64(max(f.comps, 4))
		}
		return cost + slack
	case "gif":
		return px + slack // one byte a pixel, the first frame only
	default: // webp: lossless keeps a uint32 per pixel besides the NRGBA result
		return px*8 + slack
	}
}

// outputCost is the memory of shrinking a picture sw pixels wide to dw×dh
// and encoding it: the output, a source row and the encoder's buffers.
func outputCost(sw, dw, dh int) int64 {
	return 2*4*int64(dw)*int64(dh) + 4*int64(sw) + 8*4*int64(dw) + 1<<20
}

// pngInterlaced reports whether a PNG's IHDR asks for Adam7 interlacing.
func pngInterlaced(b []byte) bool {
	// signature (8), length (4), "IHDR" (4), width, height (8), depth,
	// colour type, compression, filter (4), interlace: byte 28.
	return len(b) > 28 && string(b[12:16]) == "IHDR" && b[28] != 0
}

// frame is what jpegFrame learns of a JPEG.
type frame struct {
	progressive bool
	comps       int  // components; 0 when no frame header was found
	rgb         bool // decoded as RGB rather than YCbCr (image/jpeg's rule)
}

// jpegFrame walks a JPEG's marker segments up to its start-of-frame header.
func jpegFrame(b []byte) frame {
	var jfif, adobeRGB bool
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return frame{}
		}
		marker := b[i+1]
		switch {
		case marker == 0xff:
			i++
			continue
		case marker == 0x01 || marker >= 0xd0 && marker <= 0xd8:
			i += 2
			continue
		case marker == 0xda || marker == 0xd9:
			return frame{}
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if n < 2 || i+2+n > len(b) {
			return frame{}
		}
		seg := b[i+4 : i+2+n]
		switch {
		case marker == 0xe0 && len(seg) >= 5 && string(seg[:5]) == "JFIF\x00":
			jfif = true
		case marker == 0xee && len(seg) >= 12 && string(seg[:5]) == "Adobe":
			adobeRGB = seg[11] == 0
		// SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc).
		case marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc:
			if len(seg) < 6 {
				return frame{}
			}
			f := frame{comps: int(seg[5])}
			f.progressive = marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce
			if f.comps == 3 && !jfif {
				ids := seg[6:]
				f.rgb = adobeRGB || len(ids) >= 9 && ids[0] == 'R' && ids[3] == 'G' && ids[6] == 'B'
			}
			return f
		}
		i += 2 + n
	}
	return frame{}
}
