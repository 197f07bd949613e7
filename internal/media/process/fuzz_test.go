package process

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"testing"

	"github.com/tkesj/tkesj"
)

func FuzzSniff(f *testing.F) {
	// R-MED-1: whatever the bytes, Sniff answers without panicking, and
	// refuses only with unsupported_media.
	for _, seed := range [][]byte{
		nil, []byte("MZ"), []byte("#!AMR\n"), []byte("#!/bin/sh"), []byte("OggS\x00\x02"),
		[]byte("\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm"), ftyp("isom", "mp41"), zipWith("mimetype", "application/epub+zip"),
		[]byte("RIFF\x00\x00\x00\x00WAVE"), []byte("\xff\xfb\x90\x64"), []byte("hello \xe4\xb8"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, mime, err := Sniff(b)
		if err != nil {
			var e *tkesj.Error
			if !errors.As(err, &e) || e.Code != "unsupported_media" {
				t.Fatalf("Sniff(%q) = %v, want only unsupported_media errors", head(b), err)
			}
			return
		}
		switch kind {
		case KindImage, KindVideo, KindVoice, KindFile:
		default:
			t.Fatalf("Sniff(%q) kind = %q", head(b), kind)
		}
		if mime == "" {
			t.Fatalf("Sniff(%q) gave no type", head(b))
		}
		VoiceDuration(KindVoice, b)
	})
}

func FuzzReencodeImage(f *testing.F) {
	// R-MED-3: hostile pictures give errors, never panics, and whatever
	// decodes comes out within its bound. The pixel cap is lowered so that
	// the fuzzer spends its time on parsing, not on decoding large pictures.
	var g bytes.Buffer
	_ = gif.Encode(&g, image.NewPaletted(image.Rect(0, 0, 3, 2), color.Palette{red, blue}), nil)
	for _, seed := range [][]byte{
		withMetadata(f, MustJPEG(f, halves(16, 8)), 6),
		MustPNG(f, halves(9, 5)),
		g.Bytes(),
		mustRead(f, "testdata/gopher-doc.with-alpha.lossless.webp"),
		pngHeader(100000, 100000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, mime, w, h, err := reencode(context.Background(), nil, bytes.NewReader(b), 32, 1<<20)
		if err != nil {
			if k := tkesj.ErrorKindOf(err); k != tkesj.EInvalid && k != tkesj.ETooLarge {
				t.Fatalf("reencode = %v, want EInvalid or ETooLarge", err)
			}
			return
		}
		if w > 32 || h > 32 || w < 1 || h < 1 {
			t.Fatalf("reencode gave %dx%d, want within 32x32", w, h)
		}
		if k, m, _ := Sniff(out); k != KindImage || m != mime {
			t.Fatalf("reencode output sniffs as %s %s, want image %s", k, m, mime)
		}
		jpegOrientation(b)
	})
}
