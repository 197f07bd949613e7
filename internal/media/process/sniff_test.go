package process

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"testing"

	"github.com/tkesj/tkesj"
)

// peHeader is the start of a Windows program: "MZ", a DOS header whose
// e_lfanew points at a "PE\0\0" signature, and a COFF header for x86-64.
func peHeader() []byte {
	b := make([]byte, 0x80+24)
	copy(b, "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x80)
	copy(b[0x80:], "PE\x00\x00\x64\x86")
	return b
}

// ftyp returns an ISO base media "ftyp" box with the given brands.
func ftyp(major string, compatible ...string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compatible)))
	b = append(b, "ftyp"+major+"\x00\x00\x02\x00"...)
	for _, c := range compatible {
		b = append(b, c...)
	}
	return append(b, "\x00\x00\x00\x08free"...)
}

// webm returns the start of a WebM file with tracks of the given codec ids.
func webm(docType string, codecs ...string) []byte {
	b := []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82")
	b = append(b, 0x80|byte(len(docType)))
	b = append(b, docType...)
	b = append(b, "\x42\x87\x81\x04\x42\x85\x81\x02\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff\x16\x54\xae\x6b"...)
	for _, c := range codecs {
		b = append(b, 0x86, 0x80|byte(len(c)))
		b = append(b, c...)
	}
	return b
}

// zipWith returns a zip local file header for name followed by data.
func zipWith(name, data string) []byte {
	b := []byte("PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(name)))
	b = binary.LittleEndian.AppendUint16(b, 0)
	return append(append(b, name...), data...)
}

func TestSniff(t *testing.T) {
	// R-MED-1: the type is decided by content. Each case's name says what a
	// client might have called the file; Sniff never sees the name.
	jpg := MustJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)))
	tests := []struct {
		name     string
		head     []byte
		wantKind string
		wantMIME string
	}{
		{"a JPEG photo is a picture", jpg, KindImage, "image/jpeg"},
		{"a PNG is a picture", MustPNG(t, image.NewGray(image.Rect(0, 0, 8, 8))), KindImage, "image/png"},
		{"a GIF is a picture", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), KindImage, "image/gif"},
		{"a WebP is a picture", []byte("RIFF\x24\x00\x00\x00WEBPVP8 "), KindImage, "image/webp"},
		{"a JPEG named report.pdf is still a picture", jpg, KindImage, "image/jpeg"},
		{"an MP4 is a video", ftyp("isom", "isom", "iso2", "avc1", "mp41"), KindVideo, "video/mp4"},
		{"an mp42 MP4 is a video", ftyp("mp42", "isom"), KindVideo, "video/mp4"},
		{"an iPhone QuickTime movie is a video", ftyp("qt  ", "qt  "), KindVideo, "video/quicktime"},
		{"a 3GP clip is a video", ftyp("3gp4", "isom"), KindVideo, "video/3gpp"},
		{"a WebM with VP9 is a video", webm("webm", "V_VP9", "A_OPUS"), KindVideo, "video/webm"},
		{"a WebM with only Opus is a voice message", webm("webm", "A_OPUS"), KindVoice, "audio/webm"},
		{"a Matroska file is only a file", webm("matroska", "V_MPEG4/ISO/AVC"), KindFile, "application/octet-stream"},
		{"an Ogg Opus recording is a voice message", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead\x01\x01"), KindVoice, "audio/ogg"},
		{"an Ogg Theora film is a video", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x2a\x80theora"), KindVideo, "video/ogg"},
		{"an MP3 with ID3 tags is a voice message", []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), KindVoice, "audio/mpeg"},
		{"an MP3 starting with a frame is a voice message", []byte("\xff\xfb\x90\x64\x00\x00"), KindVoice, "audio/mpeg"},
		{"an AAC ADTS stream is a voice message", []byte("\xff\xf1\x50\x80\x02\x1f\xfc"), KindVoice, "audio/aac"},
		{"an M4A is a voice message", ftyp("M4A ", "M4A ", "mp42", "isom"), KindVoice, "audio/mp4"},
		{"an AMR recording is a voice message", []byte("#!AMR\n\x3c\x48\xf5"), KindVoice, "audio/amr"},
		{"an AMR-WB recording is a voice message", []byte("#!AMR-WB\n\x24"), KindVoice, "audio/amr-wb"},
		{"a WAV recording is a voice message", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), KindVoice, "audio/wav"},
		{"a FLAC is a voice message", []byte("fLaC\x00\x00\x00\x22"), KindVoice, "audio/flac"},
		{"a PDF is a file", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), KindFile, "application/pdf"},
		{"a Word document is a file", append(zipWith("[Content_Types].xml", "<Types/>"), zipWith("word/document.xml", "")...), KindFile, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"an Excel workbook is a file", append(zipWith("[Content_Types].xml", "<Types/>"), zipWith("xl/workbook.xml", "")...), KindFile, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"an OpenDocument text is a file", zipWith("mimetype", "application/vnd.oasis.opendocument.text"), KindFile, "application/vnd.oasis.opendocument.text"},
		{"an EPUB is a file", zipWith("mimetype", "application/epub+zip"), KindFile, "application/epub+zip"},
		{"a plain zip is a file", zipWith("holiday/notes.txt", "hello"), KindFile, "application/zip"},
		{"plain text is a file", []byte("hello, 世界\n\tindented\r\n"), KindFile, "text/plain; charset=utf-8"},
		{"text cut in the middle of a character is still text", []byte("hello, \xe4\xb8"), KindFile, "text/plain; charset=utf-8"},
		{"HTML is served as plain text, never as a page", []byte("<!doctype html><script>alert(1)</script>"), KindFile, "text/plain; charset=utf-8"},
		{"SVG is served as plain text, never as a picture", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), KindFile, "text/plain; charset=utf-8"},
		{"a HEIC photo travels as a file", ftyp("heic", "mif1", "heic"), KindFile, "image/heic"},
		{"an empty file is a file", nil, KindFile, "application/octet-stream"},
		{"unknown binary data is a file", []byte("\x00\x01\x02\x03\x04"), KindFile, "application/octet-stream"},
		{"Latin-1 text is a file of unknown type", []byte("caf\xe9 cr\xe8me"), KindFile, "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, mime, err := Sniff(tt.head)
			if err != nil || kind != tt.wantKind || mime != tt.wantMIME {
				t.Errorf("Sniff(%q) = %q, %q, %v, want %q, %q, nil", head(tt.head), kind, mime, err, tt.wantKind, tt.wantMIME)
			}
		})
	}
}

func TestSniffRefusesPrograms(t *testing.T) {
	// R-MED-1: programs and scripts are refused whatever they are called.
	elf := []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00")
	tests := []struct {
		name string
		head []byte
	}{
		{"a Windows program renamed photo.jpg is refused", peHeader()},
		{"a bare DOS header is refused", []byte("MZ")},
		{"a Linux program is refused", elf},
		{"a 64-bit Mach-O program is refused", []byte("\xcf\xfa\xed\xfe\x07\x00\x00\x01")},
		{"a 32-bit big-endian Mach-O program is refused", []byte("\xfe\xed\xfa\xce\x00\x00\x00\x12")},
		{"a universal Mach-O program is refused", []byte("\xca\xfe\xba\xbe\x00\x00\x00\x02")},
		{"a Java class file is refused", []byte("\xca\xfe\xba\xbe\x00\x00\x00\x41")},
		{"a Java archive is refused", zipWith("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n")},
		{"an Android package is refused", zipWith("AndroidManifest.xml", "\x03\x00\x08\x00")},
		{"an Android executable is refused", []byte("dex\n035\x00")},
		{"a shell script is refused", []byte("#!/bin/sh\nrm -rf ~\n")},
		{"a script run through env is refused", []byte("#!/usr/bin/env python3\nprint(1)\n")},
		{"a Windows shortcut is refused", []byte("L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, mime, err := Sniff(tt.head)
			var e *tkesj.Error
			if !errors.As(err, &e) || e.Kind != tkesj.EUnsupported || e.Code != "unsupported_media" {
				t.Fatalf("Sniff(%q) = %q, %q, %v, want EUnsupported unsupported_media", head(tt.head), kind, mime, err)
			}
			if kind != "" || mime != "" {
				t.Errorf("Sniff(%q) kind, mime = %q, %q with an error, want empty", head(tt.head), kind, mime)
			}
		})
	}
}

// head shortens b for failure messages.
func head(b []byte) []byte { return b[:min(len(b), 24)] }

func TestTextual(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"ASCII is text", []byte("abc\n"), true},
		{"Chinese is text", []byte("你好"), true},
		{"an emoji is text", []byte("👍"), true},
		{"ANSI colour escapes are text", []byte("\x1b[31mred\x1b[0m"), true},
		{"a NUL byte is not text", []byte("a\x00b"), false},
		{"a bell is not text", []byte("a\x07b"), false},
		{"an invalid byte in the middle is not text", bytes.Repeat([]byte("\xff"), 8), false},
		{"a truncated rune at the end is text", []byte("ok\xf0\x9f\x91"), true},
		{"a truncated rune in the middle is not text", []byte("\xf0\x9f\x91ok"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := textual(tt.in); got != tt.want {
				t.Errorf("textual(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
