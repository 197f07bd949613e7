package process

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// oggPage returns one Ogg page of a single packet (under 255 bytes).
func oggPage(granule uint64, serial, seq uint32, packet []byte) []byte {
	b := []byte("OggS\x00\x00")
	b = binary.LittleEndian.AppendUint64(b, granule)
	b = binary.LittleEndian.AppendUint32(b, serial)
	b = binary.LittleEndian.AppendUint32(b, seq)
	b = binary.LittleEndian.AppendUint32(b, 0) // checksum, not checked
	b = append(b, 1, byte(len(packet)))
	return append(b, packet...)
}

// opus returns an Ogg Opus stream of the given length in 48 kHz samples,
// with a pre-skip of 312 samples, ending with a page of another stream.
func opus(samples uint64) []byte {
	head := []byte("OpusHead\x01\x01")
	head = binary.LittleEndian.AppendUint16(head, 312)
	head = append(head, "\x80\xbb\x00\x00\x00\x00\x00"...)
	b := oggPage(0, 7, 0, head)
	b = append(b, oggPage(0, 7, 1, []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00"))...)
	b = append(b, oggPage(samples/2+312, 7, 2, bytes.Repeat([]byte{0xfc}, 100))...)
	b = append(b, oggPage(samples+312, 7, 3, bytes.Repeat([]byte{0xfc}, 100))...)
	return append(b, oggPage(1<<40, 8, 0, []byte("other stream"))...)
}

// wav returns a WAV file of 8 kHz 16-bit mono (16000 bytes a second) with
// dataBytes of sound and a declared data size of declared.
func wav(dataBytes int, declared uint32) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	b = append(b, "LIST\x05\x00\x00\x00abcde\x00"...) // odd-sized chunk, padded
	b = append(b, "fmt \x10\x00\x00\x00\x01\x00\x01\x00"...)
	b = binary.LittleEndian.AppendUint32(b, 8000)
	b = binary.LittleEndian.AppendUint32(b, 16000)
	b = append(b, "\x02\x00\x10\x00data"...)
	b = binary.LittleEndian.AppendUint32(b, declared)
	return append(b, make([]byte, dataBytes)...)
}

func TestVoiceDuration(t *testing.T) {
	amr := append([]byte("#!AMR\n"), bytes.Repeat(append([]byte{0x3c}, make([]byte, 31)...), 150)...)
	tests := []struct {
		name   string
		kind   string
		in     []byte
		want   time.Duration
		wantOK bool
	}{
		{"a 3-second Opus message", KindVoice, opus(3 * 48000), 3 * time.Second, true},
		{"an Opus message of 1.5 seconds", "audio/ogg", opus(72000), 1500 * time.Millisecond, true},
		{"a 2-second WAV", KindVoice, wav(32000, 32000), 2 * time.Second, true},
		{"a WAV whose recorder never wrote the size", KindVoice, wav(8000, 0), 500 * time.Millisecond, true},
		{"a WAV cut short is measured by what is there", KindVoice, wav(16000, 0xffffffff), time.Second, true},
		{"a 3-second AMR message", KindVoice, amr, 3 * time.Second, true},
		{"an MP3 is of unknown length", KindVoice, []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), 0, false},
		{"a video is not measured", KindVideo, opus(48000), 0, false},
		{"an Ogg stream of unknown codec is of unknown length", KindVoice, oggPage(48000, 1, 0, []byte("Speex   ")), 0, false},
		{"an Ogg header alone is of unknown length", KindVoice, []byte("OggS\x00"), 0, false},
		{"a WAV without a format chunk is of unknown length", KindVoice, []byte("RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd"), 0, false},
		{"empty input is of unknown length", KindVoice, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := VoiceDuration(tt.kind, tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("VoiceDuration(%q) = %v, %v, want %v, %v", tt.kind, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
