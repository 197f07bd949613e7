package process

import (
	"strconv"

	"github.com/tkesj/tkesj"
)

// Limits are the largest uploads accepted, in bytes, per kind (R-MED-1).
// A zero field means the DefaultLimits value for that kind.
type Limits struct {
	Image, Video, Voice, File int64
}

const (
	defaultImage = 20 << 20
	defaultVideo = 100 << 20
	defaultVoice = 10 << 20
	defaultFile  = 100 << 20
)

// DefaultLimits are the limits a deployment has unless it configures others.
// It is a value to copy and change, never to assign to: Check falls back on
// constants, not on this variable.
var DefaultLimits = Limits{
	Image: defaultImage,
	Video: defaultVideo,
	Voice: defaultVoice,
	File:  defaultFile,
}

// Check returns nil when an upload of size bytes is within the limit for
// kind (one of the Kind constants), and otherwise an *tkesj.Error of kind
// ETooLarge and code "media_too_large" whose message names the limit in MB.
// An unknown kind is EUnsupported "unsupported_media".
func (l Limits) Check(kind string, size int64) error {
	var limit, def int64
	var what string
	switch kind {
	case KindImage:
		limit, def, what = l.Image, defaultImage, "pictures"
	case KindVideo:
		limit, def, what = l.Video, defaultVideo, "videos"
	case KindVoice:
		limit, def, what = l.Voice, defaultVoice, "voice messages"
	case KindFile:
		limit, def, what = l.File, defaultFile, "files"
	default:
		return tkesj.Errorf(tkesj.EUnsupported, "unsupported_media", "this kind of media is not accepted")
	}
	if limit <= 0 {
		limit = def
	}
	if size < 0 {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_media_size", "the upload's size is not valid")
	}
	if size > limit {
		return tkesj.Errorf(tkesj.ETooLarge, "media_too_large", "%s may be at most %s MB",
			what, strconv.FormatFloat(float64(limit)/(1<<20), 'f', -1, 64))
	}
	return nil
}
