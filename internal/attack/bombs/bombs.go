// Package bombs builds hostile files for tests: small inputs that would cost
// a server far more than their size if it trusted them. Only tests import it.
package bombs

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
)

// PNG colour types and depths for ZeroPNG.
const (
	Gray      = 0
	RGB       = 2
	RGBA      = 6
	Depth8    = 8
	Depth16   = 16
	adlerBase = 65521
)

// ZeroPNG returns a valid, all-black (or transparent) w×h PNG of the given
// bit depth and colour type, whose pixel data is zeros and so compresses about
// 1000 to 1. ZeroPNG(7000, 7000, Depth16, RGBA) is the 381 KB picture that
// decodes to 392 MB. It is built without ever holding, or compressing, the
// decoded bytes: one compressed megabyte of zeros is repeated.
func ZeroPNG(w, h int, depth, colorType byte) []byte {
	channels := map[byte]int{Gray: 1, RGB: 3, RGBA: 4}[colorType]
	row := 1 + w*channels*int(depth)/8 // a filter byte, then the pixels
	total := int64(row) * int64(h)

	var z bytes.Buffer
	z.Write([]byte{0x78, 0xda}) // zlib, deflate with a 32 KB window, best compression
	const unit = 1 << 20
	chunk := func(n int64) []byte {
		// Each piece ends byte-aligned after a sync flush and refers back only
		// within itself, so pieces may be laid end to end.
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.BestCompression)
		fw.Write(make([]byte, n))
		fw.Flush()
		return b.Bytes()
	}
	full := chunk(unit)
	for range total / unit {
		z.Write(full)
	}
	if r := total % unit; r > 0 {
		z.Write(chunk(r))
	}
	z.Write([]byte{0x03, 0x00}) // a final, empty fixed-Huffman block
	// Adler-32 of total zeros: a stays 1, b adds 1 per byte.
	z.Write(binary.BigEndian.AppendUint32(nil, uint32(total%adlerBase)<<16|1))

	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, depth, colorType, 0, 0, 0)
	writeChunk(&out, "IHDR", ihdr)
	writeChunk(&out, "IDAT", z.Bytes())
	writeChunk(&out, "IEND", nil)
	return out.Bytes()
}

func writeChunk(out *bytes.Buffer, kind string, data []byte) {
	out.Write(binary.BigEndian.AppendUint32(nil, uint32(len(data))))
	c := crc32.NewIEEE()
	c.Write([]byte(kind))
	c.Write(data)
	out.WriteString(kind)
	out.Write(data)
	out.Write(binary.BigEndian.AppendUint32(nil, c.Sum32()))
}

// PNGHeader returns the signature and IHDR of a w×h 8-bit RGBA PNG and
// nothing else: enough for a decoder to learn the size, a bomb for anyone
// who then allocated the picture.
func PNGHeader(w, h uint32) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	writeChunk(&out, "IHDR", append(ihdr, Depth8, RGBA, 0, 0, 0))
	return out.Bytes()
}
