package kernel

import (
	"archive/zip"
	"encoding/json"
	"io"
	"time"
)

// Archive is a person's data export being written (R-RGT-1): the zip and its
// manifest in the making. internal/compliance makes one per export and hands
// it to every registered PersonalData.Export in turn; each writes its files
// and counts, and lists what it could not read instead of failing.
type Archive struct {
	zw         *zip.Writer
	Created    time.Time
	AvatarID   string            // the person's avatar, if any (the media list marks it)
	mediaPaths map[string]string // media id -> path in the archive
	files      []ArchiveFile
	counts     map[string]int
	missing    []ArchiveMissing

	// What the index page lists besides the sections.
	Conversations []ArchiveConversation
	Media         []ArchiveMedia
}

// ArchiveFile is one file of the archive as the manifest lists it.
type ArchiveFile struct {
	Path           string `json:"path"`
	Kind           string `json:"kind"`
	Count          int    `json:"count"`
	ConversationID string `json:"conversation_id,omitempty"`
	MediaID        string `json:"media_id,omitempty"`
	Mime           string `json:"mime,omitempty"`
	Bytes          int64  `json:"bytes,omitempty"`
}

// ArchiveMissing is a part that could not be read.
type ArchiveMissing struct {
	Path    string `json:"path,omitempty"`
	MediaID string `json:"media_id,omitempty"`
	Reason  string `json:"reason"`
}

// ArchiveConversation is a conversation as the index lists it.
type ArchiveConversation struct {
	ID, Kind, Title, Path string
	Count                 int
}

// ArchiveMedia is a media file as the index lists it.
type ArchiveMedia struct {
	ID, Kind, Mime, Path string
	Size                 int64
	Avatar               bool
}

// NewArchive starts an archive on zw. mediaPaths says where each of the
// person's uploads lands, so messages and Moments can point at them.
func NewArchive(zw *zip.Writer, created time.Time, avatarID string, mediaPaths map[string]string) *Archive {
	return &Archive{zw: zw, Created: created, AvatarID: avatarID, mediaPaths: mediaPaths, counts: map[string]int{}}
}

// Lost lists a part that could not be read.
func (x *Archive) Lost(path, mediaID, reason string) {
	x.missing = append(x.missing, ArchiveMissing{Path: path, MediaID: mediaID, Reason: reason})
}

// Missing returns what could not be read so far.
func (x *Archive) Missing() []ArchiveMissing { return x.missing }

// Count adds n to the count of kind.
func (x *Archive) Count(kind string, n int) { x.counts[kind] += n }

// Counts returns the counts so far.
func (x *Archive) Counts() map[string]int { return x.counts }

// Files returns the files listed so far.
func (x *Archive) Files() []ArchiveFile { return x.files }

// List lists a file written with Create in the manifest.
func (x *Archive) List(f ArchiveFile) { x.files = append(x.files, f) }

// Unlist drops the last listed file (the manifest does not list itself twice).
func (x *Archive) Unlist() { x.files = x.files[:len(x.files)-1] }

// MediaPath says where an upload of the person's lands, "" when it is not theirs.
func (x *Archive) MediaPath(mediaID string) (string, bool) {
	p, ok := x.mediaPaths[mediaID]
	return p, ok
}

// MediaPaths returns every upload's path.
func (x *Archive) MediaPaths() map[string]string { return x.mediaPaths }

// Create starts a file in the archive; compress is false for media that is
// compressed already.
func (x *Archive) Create(path string, compress bool) (io.Writer, error) {
	h := &zip.FileHeader{Name: path, Method: zip.Deflate, Modified: x.Created}
	if !compress {
		h.Method = zip.Store
	}
	return x.zw.CreateHeader(h)
}

// JSON writes v as an indented JSON file and lists it in the manifest.
func (x *Archive) JSON(path, kind string, count int, v any) error {
	f, err := x.Create(path, true)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // people read these files; "<" stays "<"
	if err := enc.Encode(v); err != nil {
		return err
	}
	x.files = append(x.files, ArchiveFile{Path: path, Kind: kind, Count: count})
	return nil
}
