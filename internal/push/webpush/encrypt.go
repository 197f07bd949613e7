package webpush

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// RFC 8291 message encryption with the aes128gcm content coding of RFC 8188,
// in one record. Push services accept bodies of at most 4096 bytes (RFC 8291
// section 4), so the header, the one record and its tag must fit in that.
const (
	recordSize = 4096
	saltLen    = 16
	keyLen     = 65 // uncompressed P-256 point
	headerLen  = saltLen + 4 + 1 + keyLen
	tagLen     = 16

	// MaxPayload is the largest payload Send accepts: 4096 bytes of body less
	// the 86-byte header, the 16-byte tag and the 1-byte padding delimiter.
	MaxPayload = recordSize - headerLen - tagLen - 1 // 3993

	// padBlock is the granularity payloads are padded to, so that the push
	// service, which sees only ciphertext sizes, learns the length of a
	// notification (and so of a previewed message) only to within 256 bytes.
	padBlock = 256
)

// padding returns how many zero bytes to add after a payload of n bytes:
// enough to reach the next multiple of padBlock, never past MaxPayload.
func padding(n int) int {
	target := (n + padBlock - 1) / padBlock * padBlock
	if n == 0 {
		target = padBlock
	}
	if target > MaxPayload {
		target = MaxPayload
	}
	return target - n
}

// encrypt seals plaintext for the user agent whose public key is uaPublic
// (65 bytes) and authentication secret is authSecret (16 bytes), using the
// ephemeral key as and the 16-byte salt, followed by pad zero bytes of
// padding. It returns the whole request body: the RFC 8188 header (salt,
// record size, key id = the ephemeral public key) and the one record.
//
// as and salt must be fresh for every message; they are parameters so that
// the test can reproduce RFC 8291 Appendix A.
func encrypt(plaintext, uaPublic, authSecret []byte, as *ecdh.PrivateKey, salt []byte, pad int) ([]byte, error) {
	if len(plaintext)+pad > MaxPayload || pad < 0 {
		return nil, errors.New("payload and padding exceed one record")
	}
	if len(salt) != saltLen || len(authSecret) != 16 {
		return nil, errors.New("salt and auth secret must be 16 bytes")
	}
	ua, err := ecdh.P256().NewPublicKey(uaPublic)
	if err != nil {
		return nil, errors.New("user agent key is not a P-256 point")
	}
	ecdhSecret, err := as.ECDH(ua)
	if err != nil {
		return nil, fmt.Errorf("ecdh: %w", err)
	}
	asPublic := as.PublicKey().Bytes()

	// RFC 8291 section 3.4: combine the ECDH secret with the auth secret.
	keyInfo := make([]byte, 0, 14+2*keyLen)
	keyInfo = append(keyInfo, "WebPush: info\x00"...)
	keyInfo = append(keyInfo, uaPublic...)
	keyInfo = append(keyInfo, asPublic...)
	ikm, err := hkdf.Key(sha256.New, ecdhSecret, authSecret, string(keyInfo), 32)
	if err != nil {
		return nil, fmt.Errorf("derive ikm: %w", err)
	}
	// RFC 8188 section 2.2 and 2.3: content-encryption key and nonce.
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, fmt.Errorf("derive prk: %w", err)
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, fmt.Errorf("derive cek: %w", err)
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, fmt.Errorf("derive nonce: %w", err)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}

	body := make([]byte, headerLen, headerLen+len(plaintext)+1+pad+tagLen)
	copy(body, salt)
	binary.BigEndian.PutUint32(body[saltLen:], recordSize)
	body[saltLen+4] = keyLen
	copy(body[saltLen+5:], asPublic)

	// The only record is the last: its delimiter is 2, then zero padding.
	record := make([]byte, len(plaintext)+1+pad)
	copy(record, plaintext)
	record[len(plaintext)] = 2
	// Sequence number 0: the nonce is used as derived.
	return gcm.Seal(body, nonce, record, nil), nil
}
