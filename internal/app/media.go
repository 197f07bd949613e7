package app

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/media/disk"
	"github.com/tkesj/tkesj/internal/media/s3"
)

// openMedia opens the blob store --media names: empty for the media
// directory inside --data, a directory path, or
//
//	s3://BUCKET?endpoint=HOST:PORT[&region=R][&prefix=P][&tls=false]
//
// for S3-compatible object storage. The S3 credentials never travel in the
// URL (it is a flag, visible in process lists): they come from
// TKESJ_S3_ACCESS_KEY and TKESJ_S3_SECRET_KEY, or AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY.
func openMedia(ctx context.Context, cfg Config) (tkesj.BlobStore, error) {
	if !isS3(cfg.Media) {
		return disk.Open(mediaDir(cfg))
	}
	sc, err := ParseS3URL(cfg.Media)
	if err != nil {
		return nil, err
	}
	sc.AccessKey, sc.SecretKey = cfg.S3AccessKey, cfg.S3SecretKey
	return s3.Open(ctx, sc)
}

func isS3(media string) bool { return strings.HasPrefix(media, "s3://") }

// ParseS3URL reads an s3://BUCKET?endpoint=... URL into an S3 configuration
// without credentials. TLS is on unless tls=false: the blobs are sealed, but
// every request is signed with the credentials.
func ParseS3URL(raw string) (s3.Config, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" {
		return s3.Config{}, fmt.Errorf("--media %q: want s3://BUCKET?endpoint=HOST:PORT", raw)
	}
	if u.User != nil {
		return s3.Config{}, fmt.Errorf("--media: put no credentials in the URL; set TKESJ_S3_ACCESS_KEY and TKESJ_S3_SECRET_KEY")
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "prefix", "tls":
		default:
			return s3.Config{}, fmt.Errorf("--media: unknown parameter %q (endpoint, region, prefix, tls)", k)
		}
	}
	c := s3.Config{Bucket: u.Host, Endpoint: q.Get("endpoint"), Region: q.Get("region"), Prefix: q.Get("prefix"), UseSSL: true}
	if c.Bucket == "" || c.Endpoint == "" {
		return s3.Config{}, fmt.Errorf("--media %q: both a bucket and endpoint= are required: s3://BUCKET?endpoint=HOST:PORT", raw)
	}
	if v := q.Get("tls"); v != "" {
		if c.UseSSL, err = strconv.ParseBool(v); err != nil {
			return s3.Config{}, fmt.Errorf("--media: tls=%q: want true or false", v)
		}
	}
	return c, nil
}
