// Package process inspects and transforms media bytes before they are stored:
// it decides what an upload is by its content (R-MED-1), enforces per-kind
// size limits, re-encodes pictures so that no metadata survives (R-MED-3),
// makes thumbnails and reads voice durations.
//
// It is pure: no storage, no network, no clocks, no package-level mutable
// state. The service layer imports it; adapters and handlers should not, so
// that every upload path goes through the one service that calls it.
package process

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"

	"github.com/tkesj/tkesj"
)

// The kinds of media Sniff reports. They choose the size limit, how a
// client shows the media, and whether the service re-encodes it.
const (
	KindImage = "image"
	KindVideo = "video"
	KindVoice = "voice"
	KindFile  = "file"
)

// SniffLen is how many leading bytes Sniff needs to decide well. Pass at
// least this many (or the whole body when it is shorter): WebM audio and
// video are told apart by codec ids that sit a few hundred bytes in.
const SniffLen = 4096

// Sniff decides what an upload is from its first bytes, never from a file
// name or a type the client declared (R-MED-1). kind is one of KindImage,
// KindVideo, KindVoice and KindFile; mime is the type to serve it with.
//
// Programs and scripts (ELF, PE, Mach-O, Java classes and archives, Android
// packages, Windows shortcuts, "#!" scripts) are refused with an *tkesj.Error
// of kind EUnsupported and code "unsupported_media", whatever they are named.
// Anything else that is not recognised is a KindFile of
// "application/octet-stream", and text is always "text/plain" (never HTML or
// SVG, which a browser would run).
func Sniff(head []byte) (kind, mime string, err error) {
	if executable(head) {
		return "", "", tkesj.Errorf(tkesj.EUnsupported, "unsupported_media",
			"programs and scripts can't be sent; put them in a zip archive if you must")
	}
	switch {
	case len(head) == 0:
		return KindFile, "application/octet-stream", nil

	// Pictures.
	case bytes.HasPrefix(head, []byte("\xff\xd8\xff")):
		return KindImage, "image/jpeg", nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return KindImage, "image/png", nil
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return KindImage, "image/gif", nil
	case riff(head, "WEBP"):
		return KindImage, "image/webp", nil

	// Containers that hold video or sound.
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return sniffFtyp(head)
	case bytes.HasPrefix(head, []byte("\x1a\x45\xdf\xa3")):
		return sniffEBML(head)
	case bytes.HasPrefix(head, []byte("OggS")):
		return sniffOgg(head)

	// Sound.
	case bytes.HasPrefix(head, []byte("#!AMR-WB\n")):
		return KindVoice, "audio/amr-wb", nil
	case bytes.HasPrefix(head, []byte("#!AMR\n")):
		return KindVoice, "audio/amr", nil
	case riff(head, "WAVE"):
		return KindVoice, "audio/wav", nil
	case bytes.HasPrefix(head, []byte("ID3")), mpegAudioFrame(head):
		return KindVoice, "audio/mpeg", nil
	case adtsFrame(head):
		return KindVoice, "audio/aac", nil
	case bytes.HasPrefix(head, []byte("fLaC")):
		return KindVoice, "audio/flac", nil

	// Documents.
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return KindFile, "application/pdf", nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return KindFile, zipMIME(head), nil
	case textual(head):
		return KindFile, "text/plain; charset=utf-8", nil
	}
	return KindFile, "application/octet-stream", nil
}

// executable reports whether head starts a program or a script.
func executable(head []byte) bool {
	for _, magic := range []string{
		"\x7fELF",                       // Linux and most Unix binaries
		"MZ",                            // DOS and Windows (PE) programs and DLLs
		"\xfe\xed\xfa\xce",              // Mach-O 32-bit, big-endian
		"\xfe\xed\xfa\xcf",              // Mach-O 64-bit, big-endian
		"\xce\xfa\xed\xfe",              // Mach-O 32-bit, little-endian
		"\xcf\xfa\xed\xfe",              // Mach-O 64-bit, little-endian
		"\xca\xfe\xba\xbe",              // Java class file, or a universal Mach-O binary
		"\xca\xfe\xba\xbf",              // universal Mach-O binary, 64-bit
		"dex\n",                         // Android Dalvik executable
		"L\x00\x00\x00\x01\x14\x02\x00", // Windows shortcut (.lnk), which runs commands
	} {
		if bytes.HasPrefix(head, []byte(magic)) {
			return true
		}
	}
	// "#!" starts a script, except for the AMR sound header "#!AMR".
	if bytes.HasPrefix(head, []byte("#!")) && !bytes.HasPrefix(head, []byte("#!AMR")) {
		return true
	}
	// A zip whose first entry is a Java manifest or an Android manifest is a
	// program (.jar, .apk), not a document.
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) {
		switch name := zipFirstName(head); {
		case bytes.Equal(name, []byte("META-INF/")),
			bytes.Equal(name, []byte("META-INF/MANIFEST.MF")),
			bytes.Equal(name, []byte("AndroidManifest.xml")),
			bytes.Equal(name, []byte("classes.dex")):
			return true
		}
	}
	return false
}

// riff reports whether head is a RIFF container of the given form type.
func riff(head []byte, form string) bool {
	return len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == form
}

// sniffFtyp classifies an ISO base media file (MP4, QuickTime, M4A, HEIF)
// by its major brand and, failing that, its compatible brands.
func sniffFtyp(head []byte) (kind, mime string, err error) {
	size := int(binary.BigEndian.Uint32(head[0:4]))
	if size < 16 || size > len(head) {
		size = min(len(head), 256)
	}
	brands := [][]byte{head[8:12]}
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, head[i:i+4])
	}
	for _, b := range brands {
		switch string(b) {
		case "M4A ", "M4B ", "M4P ", "F4A ":
			return KindVoice, "audio/mp4", nil
		case "qt  ":
			return KindVideo, "video/quicktime", nil
		case "3gp4", "3gp5", "3gp6", "3gp7", "3ge6", "3ge7", "3gg6", "3g2a", "3g2b", "3g2c":
			return KindVideo, "video/3gpp", nil
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
			// Pictures we can't decode and so can't strip: they travel as
			// files, never as pictures that would carry their GPS silently.
			return KindFile, "image/heic", nil
		case "avif", "avis":
			return KindFile, "image/avif", nil
		case "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "mp41", "mp42", "mp71",
			"avc1", "M4V ", "M4VH", "M4VP", "MSNV", "NDAS", "dash", "mmp4", "f4v ":
			return KindVideo, "video/mp4", nil
		}
	}
	return KindFile, "application/octet-stream", nil
}

// sniffEBML classifies a Matroska family file: WebM with only audio tracks is
// a voice message, WebM with video is a video, and other Matroska is a file.
func sniffEBML(head []byte) (kind, mime string, err error) {
	// The EBML header is short; its DocType element (id 0x4282) holds
	// "webm" or "matroska" as a string of a one-byte length.
	hdr := head[:min(len(head), 64)]
	i := bytes.Index(hdr, []byte{0x42, 0x82})
	if i < 0 || i+3 > len(hdr) {
		return KindFile, "application/octet-stream", nil
	}
	n := int(hdr[i+2] &^ 0x80)
	if hdr[i+2]&0x80 == 0 || i+3+n > len(hdr) || string(hdr[i+3:i+3+n]) != "webm" {
		return KindFile, "application/octet-stream", nil
	}
	// Codec ids are strings such as "V_VP8" and "A_OPUS" in the track entries.
	if bytes.Contains(head, []byte("V_VP8")) || bytes.Contains(head, []byte("V_VP9")) ||
		bytes.Contains(head, []byte("V_AV1")) {
		return KindVideo, "video/webm", nil
	}
	if bytes.Contains(head, []byte("A_OPUS")) || bytes.Contains(head, []byte("A_VORBIS")) {
		return KindVoice, "audio/webm", nil
	}
	return KindVideo, "video/webm", nil
}

// sniffOgg classifies an Ogg stream by the codec of its first packet.
func sniffOgg(head []byte) (kind, mime string, err error) {
	if len(head) >= 27 {
		body := 27 + int(head[26]) // after the segment table
		if body < len(head) && bytes.HasPrefix(head[body:], []byte("\x80theora")) {
			return KindVideo, "video/ogg", nil
		}
	}
	return KindVoice, "audio/ogg", nil
}

// mpegAudioFrame reports whether head starts with a valid MPEG audio (MP3)
// frame header: 11 sync bits, then a version, layer, bitrate and sample rate
// that are not reserved.
func mpegAudioFrame(head []byte) bool {
	if len(head) < 4 || head[0] != 0xff || head[1]&0xe0 != 0xe0 {
		return false
	}
	version := head[1] >> 3 & 3
	layer := head[1] >> 1 & 3
	bitrate := head[2] >> 4
	rate := head[2] >> 2 & 3
	return version != 1 && layer != 0 && bitrate != 0 && bitrate != 15 && rate != 3
}

// adtsFrame reports whether head starts with an AAC ADTS frame header.
func adtsFrame(head []byte) bool {
	return len(head) >= 7 && head[0] == 0xff && head[1]&0xf6 == 0xf0 && head[2]>>2&0xf < 13
}

// zipFirstName returns the name of the first local file header in a zip.
func zipFirstName(head []byte) []byte {
	if len(head) < 30 {
		return nil
	}
	n := int(binary.LittleEndian.Uint16(head[26:28]))
	if 30+n > len(head) {
		return nil
	}
	return head[30 : 30+n]
}

// zipMIME names the document type of a zip by its first entries: ODF and EPUB
// start with an uncompressed "mimetype" entry, Office Open XML with
// "[Content_Types].xml" followed by a part in word/, xl/ or ppt/.
func zipMIME(head []byte) string {
	name := zipFirstName(head)
	if bytes.Equal(name, []byte("mimetype")) {
		extra := int(binary.LittleEndian.Uint16(head[28:30]))
		data := head[min(len(head), 30+len(name)+extra):]
		for _, m := range []string{
			"application/epub+zip",
			"application/vnd.oasis.opendocument.text",
			"application/vnd.oasis.opendocument.spreadsheet",
			"application/vnd.oasis.opendocument.presentation",
		} {
			if bytes.HasPrefix(data, []byte(m)) && !bytes.HasPrefix(data[len(m):], []byte("-")) {
				return m
			}
		}
	}
	if bytes.Contains(head, []byte("[Content_Types].xml")) {
		switch {
		case bytes.Contains(head, []byte("word/")):
			return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
		case bytes.Contains(head, []byte("xl/")):
			return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		case bytes.Contains(head, []byte("ppt/")):
			return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
		}
	}
	return "application/zip"
}

// textual reports whether head is UTF-8 text: valid UTF-8 (a rune cut off by
// the end of head is allowed) with no NUL and no control characters other
// than tab, newline, carriage return, form feed and escape.
func textual(head []byte) bool {
	for i := 0; i < len(head); {
		c := head[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size <= 1 {
			// A multi-byte rune cut off by the end of head is fine.
			return len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:])
		}
		i += size
	}
	return true
}
