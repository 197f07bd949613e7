package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/media/process"
	"github.com/tkesj/tkesj/internal/store"
)

// Media blobs are sealed in chunks so that uploads and downloads stream:
// "TKM1", the chunk size (uint32), then each chunk sealed with the owner's
// key, bound to the media id, its index and whether it is the last one (so
// chunks can be neither reordered nor cut off).
const (
	blobMagic     = "TKM1"
	ChunkSize     = 64 << 10
	sealOverhead  = 1 + 12 + 16 // keyring: version, nonce, tag
	imageMaxSide  = 2048
	thumbnailSide = 320
	avatarSide    = 512
	avatarMax     = 5 << 20
)

func chunkAD(mediaID string, i int, last bool) []byte {
	return []byte(fmt.Sprintf("media/%s/%d/%t", mediaID, i, last))
}

// sealStream reads r to the end and writes the sealed blob to w.
func (s *Service) sealStream(ctx context.Context, owner, mediaID string, r io.Reader, w io.Writer) (int64, error) {
	var hdr [8]byte
	copy(hdr[:], blobMagic)
	binary.BigEndian.PutUint32(hdr[4:], ChunkSize)
	if _, err := w.Write(hdr[:]); err != nil {
		return 0, err
	}
	cur, next := make([]byte, ChunkSize), make([]byte, ChunkSize)
	n, err := io.ReadFull(r, cur)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return 0, err
	}
	var total int64
	for i := 0; ; i++ {
		m, nerr := io.ReadFull(r, next)
		if nerr != nil && nerr != io.ErrUnexpectedEOF && nerr != io.EOF {
			return 0, nerr
		}
		last := m == 0
		sealed, err := s.Keys.Seal(ctx, owner, cur[:n], chunkAD(mediaID, i, last))
		if err != nil {
			return 0, err
		}
		if _, err := w.Write(sealed); err != nil {
			return 0, err
		}
		total += int64(n)
		if last {
			return total, nil
		}
		cur, next, n = next, cur, m
	}
}

// OpenStream decrypts a sealed blob to w, skipping the first skip bytes of
// plaintext and writing at most limit bytes (limit < 0: all).
func (s *Service) OpenStream(ctx context.Context, owner, mediaID string, r io.Reader, w io.Writer, skip, limit int64) error {
	br := bufio.NewReaderSize(r, ChunkSize+sealOverhead)
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || string(hdr[:4]) != blobMagic {
		return fmt.Errorf("media %s: bad header", mediaID)
	}
	size := int(binary.BigEndian.Uint32(hdr[4:]))
	if size <= 0 || size > 1<<24 {
		return fmt.Errorf("media %s: bad chunk size", mediaID)
	}
	buf := make([]byte, size+sealOverhead)
	first := int(skip / int64(size))
	for i := 0; ; i++ {
		n, err := io.ReadFull(br, buf)
		if err != nil && err != io.ErrUnexpectedEOF {
			return fmt.Errorf("media %s: truncated", mediaID)
		}
		_, perr := br.Peek(1)
		last := perr == io.EOF
		if i < first && !last {
			continue // whole chunks before the range need no decryption
		}
		plain, err := s.Keys.Open(ctx, owner, buf[:n], chunkAD(mediaID, i, last))
		if err != nil {
			return err
		}
		if i == first {
			plain = plain[min(int(skip-int64(first)*int64(size)), len(plain)):]
		}
		if limit >= 0 && int64(len(plain)) > limit {
			plain = plain[:limit]
		}
		if _, err := w.Write(plain); err != nil {
			return err
		}
		if limit >= 0 {
			limit -= int64(len(plain))
			if limit == 0 {
				return nil
			}
		}
		if last {
			return nil
		}
	}
}

// StoreBlob seals r and puts it under key.
func (s *Service) StoreBlob(ctx context.Context, owner, key string, r io.Reader) (int64, error) {
	pr, pw := io.Pipe()
	var size int64
	go func() {
		n, err := s.sealStream(ctx, owner, key, r, pw)
		size = n
		pw.CloseWithError(err)
	}()
	err := s.Blobs.Put(ctx, key, pr, -1)
	pr.CloseWithError(err) // unblocks the sealer if Put stopped early
	return size, err
}

// MediaUpload is a file someone uploads (R-MED-1).
type MediaUpload struct {
	Source string // "", "album" or "camera"
	Body   io.Reader
}

// Media is an upload's description.
type Media struct {
	ID, Kind, Mime string
	Size           int64
	Meta           map[string]any
}

// Upload stores a picture, video, voice note or file. The type is decided by
// the content; pictures are re-encoded (no EXIF, no GPS: R-MED-3) and get a
// thumbnail; voice notes record their duration. A camera upload needs the
// camera permission and an album upload the album permission (R-PRM-2).
func (s *Service) Upload(ctx context.Context, a kernel.Auth, up MediaUpload) (Media, error) {
	if err := s.RequireActive(ctx, a); err != nil {
		return Media{}, err
	}
	switch up.Source {
	case "":
	case "camera":
		if err := s.RequirePermission(ctx, a.UserID, tkesj.PermCamera, "uploading a photo or video from the camera"); err != nil {
			return Media{}, err
		}
	case "album":
		if err := s.RequirePermission(ctx, a.UserID, tkesj.PermAlbum, "uploading from the album"); err != nil {
			return Media{}, err
		}
	default:
		return Media{}, tkesj.Errorf(tkesj.EInvalid, "invalid_source", "source must be album or camera")
	}
	if ok, wait := s.uploads.Allow(a.UserID); !ok {
		return Media{}, s.LimitedFor(ctx, a.UserID, "rate_limit:uploads", "uploads", wait)
	}
	br := bufio.NewReaderSize(up.Body, process.SniffLen)
	head, err := br.Peek(process.SniffLen)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return Media{}, tkesj.Errorf(tkesj.EMalformed, "upload_failed", "the upload could not be read")
	}
	if len(head) == 0 {
		return Media{}, tkesj.Errorf(tkesj.EInvalid, "empty_file", "the file is empty")
	}
	kind, mime, err := process.Sniff(head)
	if err != nil {
		return Media{}, err
	}
	limit := sizeOf(s.Cfg.MediaLimits, kind)
	body := &capReader{r: br, left: limit}
	m := Media{ID: kernel.NewID("m"), Kind: kind, Mime: mime, Meta: map[string]any{}}
	var content io.Reader = body
	switch kind {
	case process.KindImage:
		// The decoder reads the whole body before it takes any share of the
		// decoding memory, so an upload that stalls holds nobody up (issue 14
		// item 4, R-SEC-5).
		out, outMime, w, h, err := s.images.ReencodeImage(ctx, body, imageMaxSide)
		if body.over {
			return Media{}, s.Cfg.MediaLimits.Check(kind, limit+1)
		}
		if err != nil {
			return Media{}, err
		}
		thumb, err := s.images.Thumbnail(ctx, out, thumbnailSide)
		if err != nil {
			return Media{}, s.Internal(ctx, "thumbnail", err)
		}
		if _, err := s.StoreBlob(ctx, a.UserID, m.ID+"_t", bytes.NewReader(thumb)); err != nil {
			return Media{}, s.Internal(ctx, "store thumbnail", err)
		}
		m.Mime, m.Meta["width"], m.Meta["height"] = outMime, w, h
		content = bytes.NewReader(out)
	case process.KindVoice:
		all, err := io.ReadAll(body)
		if err != nil {
			return Media{}, tkesj.Errorf(tkesj.EMalformed, "upload_failed", "the upload could not be read")
		}
		if d, ok := process.VoiceDuration(kind, all); ok {
			m.Meta["duration_ms"] = d.Milliseconds()
		}
		content = bytes.NewReader(all)
	}
	size, err := s.StoreBlob(ctx, a.UserID, m.ID, content)
	if body.over {
		s.Blobs.Delete(ctx, m.ID)
		s.Blobs.Delete(ctx, m.ID+"_t")
		return Media{}, s.Cfg.MediaLimits.Check(kind, limit+1)
	}
	if err != nil {
		s.Blobs.Delete(ctx, m.ID+"_t")
		if errors.Is(err, errUploadRead) {
			return Media{}, tkesj.Errorf(tkesj.EMalformed, "upload_failed", "the upload was cut off")
		}
		return Media{}, s.Internal(ctx, "store media", err)
	}
	m.Size = size
	meta, _ := json.Marshal(m.Meta)
	rec := store.MediaRecord{ID: m.ID, OwnerID: a.UserID, Kind: m.Kind, Mime: m.Mime, Size: size, Meta: string(meta), CreatedAt: s.Now()}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.CreateMedia(ctx, rec) }); err != nil {
		s.Blobs.Delete(ctx, m.ID)
		s.Blobs.Delete(ctx, m.ID+"_t")
		return Media{}, s.Internal(ctx, "record media", err)
	}
	return m, nil
}

var errUploadRead = errors.New("upload read failed")

// capReader reads at most left bytes and then reports that the source had more.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			c.over = true
			return 0, errors.New("over the size limit")
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil && err != io.EOF {
		return n, errUploadRead
	}
	return n, err
}

// MediaFile is a download: its description and a function that writes the
// decrypted bytes (from skip, at most limit; limit < 0 is all).
type MediaFile struct {
	Media
	Write func(w io.Writer, skip, limit int64) error
}

// OpenMedia returns media the caller may see: their own, or attached to a
// message in a conversation they were in when it was sent (R-MED-2). Anything
// else is not_found. thumb asks for a picture's thumbnail.
func (s *Service) OpenMedia(ctx context.Context, a kernel.Auth, id string, thumb bool) (MediaFile, error) {
	q := s.DB.Read()
	rec, err := q.FindMedia(ctx, id)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return MediaFile{}, err
		}
		return MediaFile{}, s.Internal(ctx, "open media", err)
	}
	if rec.OwnerID != a.UserID {
		ok, err := s.mediaVisible(ctx, q, rec, a.UserID)
		if err != nil {
			return MediaFile{}, s.Internal(ctx, "open media", err)
		}
		if !ok {
			return MediaFile{}, tkesj.ErrNotFound("media")
		}
	}
	return s.FindMediaFile(ctx, rec, thumb)
}

// mediaVisible says whether viewer may fetch another person's media.
// R-MED-2: in a chat they were in when it was sent, or in a post they may see.
func (s *Service) mediaVisible(ctx context.Context, q *store.Queries, rec store.MediaRecord, viewer string) (bool, error) {
	ok, err := q.CanSeeMediaInChats(ctx, rec.ID, viewer)
	if err != nil || ok {
		return ok, err
	}
	return s.MomentMediaVisible(ctx, q, rec.ID, viewer)
}

func (s *Service) FindMediaFile(ctx context.Context, rec store.MediaRecord, thumb bool) (MediaFile, error) {
	m := Media{ID: rec.ID, Kind: rec.Kind, Mime: rec.Mime, Size: rec.Size}
	json.Unmarshal([]byte(rec.Meta), &m.Meta)
	key := rec.ID
	if thumb {
		if rec.Kind != process.KindImage {
			return MediaFile{}, tkesj.ErrNotFound("thumbnail")
		}
		key, m.Mime, m.Size = rec.ID+"_t", "image/jpeg", -1
	}
	owner := rec.OwnerID
	return MediaFile{Media: m, Write: func(w io.Writer, skip, limit int64) error {
		rc, err := s.Blobs.Get(ctx, key)
		if err != nil {
			return err
		}
		defer rc.Close()
		err = s.OpenStream(ctx, owner, key, rc, w, skip, limit)
		if errors.Is(err, keyring.ErrShredded) {
			return tkesj.ErrNotFound("media")
		}
		return err
	}}, nil
}

// SetAvatar replaces the caller's avatar with a picture (R-ACC-1, R-ACC-5):
// sniffed, decoded, re-encoded (which strips EXIF) at most 512 px, 5 MB at most.
func (s *Service) SetAvatar(ctx context.Context, a kernel.Auth, r io.Reader) (tkesj.User, error) {
	br := bufio.NewReaderSize(r, process.SniffLen)
	head, _ := br.Peek(process.SniffLen)
	if kind, _, err := process.Sniff(head); err != nil || kind != process.KindImage {
		return tkesj.User{}, tkesj.Errorf(tkesj.EUnsupported, "unsupported_media", "an avatar must be a JPEG, PNG, GIF or WebP picture")
	}
	body := &capReader{r: br, left: avatarMax}
	// Within the request's context (issue 14 item 4): a client that goes away
	// stops waiting for the decoder.
	out, mime, w, h, err := s.images.ReencodeImage(ctx, body, avatarSide)
	if body.over {
		return tkesj.User{}, tkesj.Errorf(tkesj.ETooLarge, "media_too_large", "an avatar may be at most 5 MB")
	}
	if err != nil {
		return tkesj.User{}, err
	}
	id := kernel.NewID("m")
	size, err := s.StoreBlob(ctx, a.UserID, id, bytes.NewReader(out))
	if err != nil {
		return tkesj.User{}, s.Internal(ctx, "store avatar", err)
	}
	meta, _ := json.Marshal(map[string]any{"width": w, "height": h, "avatar": true})
	u, err := s.Me(ctx, a)
	if err != nil {
		return tkesj.User{}, err
	}
	old := u.AvatarID
	u.AvatarID = id
	sealed, err := s.Seal(ctx, u.ID, accounts.ProfileAD(u.ID), accounts.ProfileOf(u))
	if err != nil {
		return tkesj.User{}, s.Internal(ctx, "set avatar", err)
	}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateMedia(ctx, store.MediaRecord{ID: id, OwnerID: a.UserID, Kind: process.KindImage, Mime: mime, Size: size, Meta: string(meta), CreatedAt: s.Now()}); err != nil {
			return err
		}
		if old != "" {
			if err := q.DeleteMedia(ctx, old); err != nil {
				return err
			}
		}
		return q.UpdateUserProfile(ctx, u.ID, nil, sealed, s.Now())
	})
	if err != nil {
		s.Blobs.Delete(ctx, id)
		return tkesj.User{}, s.Internal(ctx, "set avatar", err)
	}
	if old != "" {
		s.Blobs.Delete(ctx, old)
	}
	return u, nil
}

// Avatar returns a person's avatar for anyone signed in who is not blocked by them.
func (s *Service) Avatar(ctx context.Context, a kernel.Auth, userID string) (MediaFile, error) {
	q := s.DB.Read()
	p, err := s.LookupProfile(ctx, q, userID)
	if err != nil || p.AvatarID == "" {
		return MediaFile{}, tkesj.ErrNotFound("avatar")
	}
	if blocked, err := q.EitherBlocks(ctx, a.UserID, userID); err != nil || blocked {
		return MediaFile{}, tkesj.ErrNotFound("avatar")
	}
	rec, err := q.FindMedia(ctx, p.AvatarID)
	if err != nil {
		return MediaFile{}, tkesj.ErrNotFound("avatar")
	}
	return s.FindMediaFile(ctx, rec, false)
}

// sizeOf returns the size limit for a kind.
func sizeOf(l process.Limits, kind string) int64 {
	switch kind {
	case process.KindImage:
		return l.Image
	case process.KindVideo:
		return l.Video
	case process.KindVoice:
		return l.Voice
	}
	return l.File
}

// DeleteMedia deletes one of the caller's uploads and its bytes (R-DEL-1);
// messages that carried it show it as gone. Others' media is not_found.
func (s *Service) DeleteMedia(ctx context.Context, a kernel.Auth, id string) error {
	rec, err := s.DB.Read().FindMedia(ctx, id)
	if err != nil || rec.OwnerID != a.UserID {
		return tkesj.ErrNotFound("media")
	}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DeleteMedia(ctx, id) }); err != nil {
		return s.Internal(ctx, "delete media", err)
	}
	s.Blobs.Delete(ctx, id)
	s.Blobs.Delete(ctx, id+"_t")
	return nil
}
