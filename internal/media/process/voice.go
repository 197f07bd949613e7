package process

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"
)

// VoiceDuration returns how long a voice message plays, when the container
// says so cheaply: Ogg (Opus or Vorbis) from the last page's granule
// position, WAV from its data size and byte rate, and AMR-NB by counting its
// 20 ms frames. kind is Sniff's kind (KindVoice) or an "audio/" type; the
// container itself is recognised from b, which must be the whole file. ok is
// false when the duration is unknown, as for MP3, M4A and WebM.
func VoiceDuration(kind string, b []byte) (d time.Duration, ok bool) {
	if kind != KindVoice && !strings.HasPrefix(kind, "audio/") {
		return 0, false
	}
	switch {
	case bytes.HasPrefix(b, []byte("OggS")):
		return oggDuration(b)
	case riff(b, "WAVE"):
		return wavDuration(b)
	case bytes.HasPrefix(b, []byte("#!AMR\n")):
		return amrDuration(b[len("#!AMR\n"):])
	}
	return 0, false
}

// oggDuration reads the sample rate from the first page's identification
// header and the sample count from the granule position of the last page of
// the same logical stream. For Opus the granule counts 48 kHz samples
// including the encoder's pre-skip, which is subtracted.
func oggDuration(b []byte) (time.Duration, bool) {
	if len(b) < 27 || b[4] != 0 {
		return 0, false
	}
	serial := binary.LittleEndian.Uint32(b[14:18])
	packet := b[min(len(b), 27+int(b[26])):]
	var rate, preSkip uint64
	switch {
	case bytes.HasPrefix(packet, []byte("OpusHead")) && len(packet) >= 12:
		rate, preSkip = 48000, uint64(binary.LittleEndian.Uint16(packet[10:12]))
	case bytes.HasPrefix(packet, []byte("\x01vorbis")) && len(packet) >= 16:
		rate = uint64(binary.LittleEndian.Uint32(packet[12:16]))
	}
	if rate == 0 {
		return 0, false
	}
	for end := len(b); end > 0; {
		i := bytes.LastIndex(b[:end], []byte("OggS"))
		if i < 0 {
			break
		}
		end = i
		if i+27 > len(b) || b[i+4] != 0 || binary.LittleEndian.Uint32(b[i+14:i+18]) != serial {
			continue
		}
		granule := binary.LittleEndian.Uint64(b[i+6 : i+14])
		if granule == ^uint64(0) { // no packet ends on this page
			continue
		}
		if granule < preSkip {
			return 0, false
		}
		samples := granule - preSkip
		// Whole seconds and the rest separately, so that no product overflows.
		return time.Duration(samples/rate)*time.Second +
			time.Duration(samples%rate)*time.Second/time.Duration(rate), true
	}
	return 0, false
}

// wavDuration divides the size of the "data" chunk by the byte rate of the
// "fmt " chunk. A data size that is unset or larger than the file (as written
// by a recorder that was stopped) is replaced by the bytes actually present.
func wavDuration(b []byte) (time.Duration, bool) {
	var byteRate uint64
	for i := 12; i+8 <= len(b); {
		id := string(b[i : i+4])
		size := uint64(binary.LittleEndian.Uint32(b[i+4 : i+8]))
		body := b[i+8:]
		switch id {
		case "fmt ":
			if size < 16 || len(body) < 16 {
				return 0, false
			}
			byteRate = uint64(binary.LittleEndian.Uint32(body[8:12]))
		case "data":
			if byteRate == 0 {
				return 0, false
			}
			if size == 0 || size > uint64(len(body)) {
				size = uint64(len(body))
			}
			return time.Duration(size/byteRate)*time.Second +
				time.Duration(size%byteRate)*time.Second/time.Duration(byteRate), true
		}
		next := uint64(i) + 8 + size + size&1 // chunks are padded to even sizes
		if next > uint64(len(b)) {
			break
		}
		i = int(next)
	}
	return 0, false
}

// amrFrameBytes is the size of an AMR-NB frame, its header byte included, by
// frame type (RFC 4867 section 5.3); 0 marks a reserved type.
var amrFrameBytes = [16]int{13, 14, 16, 18, 20, 21, 27, 32, 6, 0, 0, 0, 0, 0, 0, 1}

// amrDuration counts the 20 ms frames of AMR-NB storage format data.
func amrDuration(b []byte) (time.Duration, bool) {
	frames := 0
	for i := 0; i < len(b); frames++ {
		n := amrFrameBytes[b[i]>>3&0x0f]
		if n == 0 || i+n > len(b) {
			break
		}
		i += n
	}
	if frames == 0 {
		return 0, false
	}
	return time.Duration(frames) * 20 * time.Millisecond, true
}
