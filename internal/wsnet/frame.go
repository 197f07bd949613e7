package wsnet

import (
	"encoding/binary"
	"unicode/utf8"
)

// Opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// maxControlPayload is the largest payload of a control frame (RFC 6455
// section 5.5).
const maxControlPayload = 125

// header is a parsed frame header.
type header struct {
	fin    bool
	rsv    byte // the three reserved bits; no extension is negotiated, so they must be 0
	op     byte
	masked bool
	mask   [4]byte
	length uint64
	size   int // bytes of the header itself
}

// parseHeader parses the frame header at the start of b. ok is false when b
// does not hold the whole header yet.
func parseHeader(b []byte) (h header, ok bool) {
	if len(b) < 2 {
		return h, false
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = b[0] & 0x70
	h.op = b[0] & 0x0f
	h.masked = b[1]&0x80 != 0
	n := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < n+2 {
			return h, false
		}
		h.length = uint64(binary.BigEndian.Uint16(b[n:]))
		n += 2
	case 127:
		if len(b) < n+8 {
			return h, false
		}
		h.length = binary.BigEndian.Uint64(b[n:])
		n += 8
	default:
		h.length = uint64(l)
	}
	if h.masked {
		if len(b) < n+4 {
			return h, false
		}
		copy(h.mask[:], b[n:n+4])
		n += 4
	}
	h.size = n
	return h, true
}

// appendFrame appends an unmasked (server) frame with the FIN bit set.
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	dst = appendHeader(dst, op, len(payload))
	return append(dst, payload...)
}

func appendHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return dst
}

// frameSize is the size of a server frame carrying n bytes.
func frameSize(n int) int {
	switch {
	case n <= 125:
		return 2 + n
	case n <= 0xffff:
		return 4 + n
	}
	return 10 + n
}

// unmask XORs b with the mask, starting at offset pos of the payload.
func unmask(b []byte, mask [4]byte, pos int) {
	m := uint64(binary.LittleEndian.Uint32(mask[:]))
	// Rotate the mask so that b[0] lines up with mask[pos%4].
	shift := uint(pos%4) * 8
	m32 := uint32(m>>shift | m<<(32-shift))
	m64 := uint64(m32) | uint64(m32)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^m64)
	}
	for ; i < len(b); i++ {
		b[i] ^= byte(m32 >> (uint(i%4) * 8))
	}
}

// closePayload encodes a close frame's payload: the code, then the reason,
// cut to fit a control frame on a UTF-8 boundary.
func closePayload(code StatusCode, reason string) []byte {
	if code == StatusNoStatusReceived || code == 0 {
		return nil
	}
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	return append(p, reason...)
}

// parseClose reads a peer's close payload. ok is false when the payload
// breaks RFC 6455 (a lone byte, a code no one may send, a reason that is
// not UTF-8).
func parseClose(p []byte) (code StatusCode, reason string, ok bool) {
	switch {
	case len(p) == 0:
		return StatusNoStatusReceived, "", true
	case len(p) == 1:
		return 0, "", false
	}
	code = StatusCode(binary.BigEndian.Uint16(p))
	if !validWireCode(code) || !utf8.Valid(p[2:]) {
		return 0, "", false
	}
	return code, string(p[2:]), true
}

// validWireCode reports whether a peer may send code in a close frame
// (RFC 6455 section 7.4 and the IANA registry).
func validWireCode(c StatusCode) bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}
