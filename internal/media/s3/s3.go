// Package s3 is a tkesj.BlobStore on S3-compatible object storage (AWS S3,
// MinIO, Ceph, Garage, ...) through minio-go (R-MED-4).
//
// Only the wiring (internal/app) and tests import it; the service layer sees
// a tkesj.BlobStore and nothing of S3.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/tkesj/tkesj"
)

// Config says where the blobs go.
type Config struct {
	// Endpoint is host[:port], without a scheme: "s3.eu-west-1.amazonaws.com",
	// "minio.internal:9000".
	Endpoint string
	// Bucket is created by Open when it does not exist.
	Bucket string
	// AccessKey and SecretKey are static credentials.
	AccessKey, SecretKey string
	// Region is the bucket's region; empty lets the client discover it.
	Region string
	// UseSSL selects https. Leave it on anywhere but a test or a private link:
	// the blobs are sealed, but the credentials are signed on every request.
	UseSSL bool
	// Prefix is put before every key, so that one bucket can hold several
	// deployments or other data: "media/". Keys lists only under it.
	Prefix string
}

// Store keeps each blob in an object named Prefix + key. It is safe for
// concurrent use, and several nodes may share a bucket and prefix.
type Store struct {
	client *minio.Client
	bucket string
	prefix string
}

var _ tkesj.BlobStore = (*Store)(nil)

// Open connects to the bucket, creating it if it is missing. The bucket and
// its endpoint must be reachable: Open fails rather than a first upload.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("open s3 media: endpoint and bucket are required")
	}
	if strings.Contains(cfg.Endpoint, "://") {
		return nil, fmt.Errorf("open s3 media: endpoint %q must be host[:port]; set UseSSL for https", cfg.Endpoint)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseSSL,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("open s3 media: %w", err)
	}
	exists, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("open s3 media: %w", err)
	}
	if !exists {
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		// Another node may have created it since BucketExists.
		if err != nil && errorCode(err) != minio.BucketAlreadyOwnedByYou {
			return nil, fmt.Errorf("open s3 media: create bucket: %w", err)
		}
	}
	return &Store{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

// validKey reports whether key is a key the service makes: 1 to 128 of
// a-z, 0-9, "_" and "-". The disk package has the same rule; mediatest holds
// both to it. Here it keeps keys from escaping the prefix or colliding with
// other data in the bucket.
func validKey(key string) bool {
	if len(key) < 1 || len(key) > 128 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func errInvalidKey() error {
	return tkesj.Errorf(tkesj.EInvalid, "invalid_media_key", "media key is not valid")
}

func errSizeMismatch(key string, cause error) error {
	return &tkesj.Error{Kind: tkesj.EInvalid, Code: "size_mismatch",
		Message: "the upload's length does not match its declared size",
		Err:     fmt.Errorf("put media %s: %w", key, cause)}
}

// errorCode returns the S3 error code of err, or "".
func errorCode(err error) string {
	var e minio.ErrorResponse
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Put stores size bytes from r under key, once: if key exists it returns an
// *tkesj.Error of kind EConflict and leaves the stored object as it was. A
// body shorter or longer than size is EInvalid "size_mismatch".
//
// With size >= 0 the object is sent in one PUT with "If-None-Match: *", so
// the store itself refuses an existing key atomically (AWS S3 since 2024,
// MinIO, Ceph and others support it), and an interrupted upload stores
// nothing. With size < 0 the upload is multipart and the existence check is
// a separate request before it: good enough for keys that the service makes
// at random, but not atomic.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if !validKey(key) {
		return errInvalidKey()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put media %s: %w", key, err)
	}
	name := s.prefix + key
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	opts.SetMatchETagExcept("*")
	body := io.Reader(r)
	var exact *exactReader
	if size >= 0 {
		// One request: S3 allows single PUTs up to 5 GiB, far over any
		// media limit. exactReader also hides r's Seek, which stops
		// minio-go from retrying a PUT that may have succeeded, whose
		// retry would then be refused as a conflict.
		opts.DisableMultipart = true
		exact = &exactReader{r: r, left: size}
		body = exact
		if size == 0 {
			// minio-go signs an empty body as an empty stream, which Go then
			// sends chunked without a Content-Length, and S3 refuses that;
			// an empty body has nothing to sign anyway. Nor may minio-go
			// read it, so the check that r is empty is made here.
			opts.DisableContentSha256 = true
			if err := exact.atEnd(); exact.mismatch != nil {
				return errSizeMismatch(key, exact.mismatch)
			} else if !errors.Is(err, io.EOF) {
				return fmt.Errorf("put media %s: %w", key, err)
			}
		}
	} else {
		// minio-go buffers each part and sends it with a checksum, so there
		// is no need for the aws-chunked signed stream, which some
		// S3-compatible servers do not decode in multipart uploads.
		opts.DisableContentSha256 = true
		// Without a part size minio-go plans for a 5 TiB object and
		// allocates a 528 MiB buffer per upload: a few concurrent uploads
		// then stall the node in the allocator (seen in the three-node
		// test). Media are at most 100 MiB; 8 MiB parts bound an upload's
		// buffer and still allow objects of 78 GiB.
		opts.PartSize = partSize
		if _, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{}); err == nil {
			return errConflict()
		} else if !notFound(err) {
			return fmt.Errorf("put media %s: %w", key, err)
		}
	}
	_, err := s.client.PutObject(ctx, s.bucket, name, body, size, opts)
	switch {
	case exact != nil && exact.mismatch != nil:
		return errSizeMismatch(key, exact.mismatch)
	case errorCode(err) == minio.PreconditionFailed:
		return errConflict()
	case err != nil:
		return fmt.Errorf("put media %s: %w", key, err)
	}
	return nil
}

// partSize is the part of a multipart upload of unknown size.
const partSize = 8 << 20

func errConflict() error {
	return tkesj.Errorf(tkesj.EConflict, "media_exists", "media already exists")
}

// notFound reports whether err says an object does not exist.
func notFound(err error) bool {
	var e minio.ErrorResponse
	if !errors.As(err, &e) {
		return false
	}
	return e.Code == minio.NoSuchKey || e.StatusCode == http.StatusNotFound && e.Code != minio.NoSuchBucket
}

// Get returns the object under key; the caller closes it. A missing key is
// an *tkesj.Error of kind ENotFound, reported here and not at the first Read:
// minio-go's objects are lazy, so Get asks for the object's metadata first.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if !validKey(key) {
		return nil, errInvalidKey()
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get media %s: %w", key, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		if notFound(err) {
			return nil, tkesj.ErrNotFound("media")
		}
		return nil, fmt.Errorf("get media %s: %w", key, err)
	}
	return obj, nil
}

// Delete removes the object under key. Deleting a missing key is not an
// error. On a bucket with versioning, older versions remain: media buckets
// should not be versioned, or deleted media is not gone.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !validKey(key) {
		return errInvalidKey()
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !notFound(err) {
		return fmt.Errorf("delete media %s: %w", key, err)
	}
	return nil
}

// Keys calls fn with every key under the prefix and the time it was written,
// in key order, until fn returns an error, which Keys returns as it is.
// Objects under the prefix whose names are not keys are skipped. The orphan
// purge uses it to find blobs that no message refers to.
func (s *Store) Keys(ctx context.Context, fn func(key string, modTime time.Time) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("list media: %w", obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if !validKey(key) {
			continue
		}
		if err := fn(key, obj.LastModified); err != nil {
			return err
		}
	}
	return nil
}

// exactReader passes on exactly left bytes of r and fails the upload when r
// holds fewer or more. minio-go reads only the declared size, so without the
// check a longer body would be stored cut short without a word.
type exactReader struct {
	r        io.Reader
	left     int64
	mismatch error // set when the body was not of the declared size
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, e.atEnd()
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case e.left > 0 && errors.Is(err, io.EOF):
		e.mismatch = fmt.Errorf("body ended %d bytes short", e.left)
		return n, e.mismatch
	case e.left == 0 && err == nil:
		// Check at once, so the failure reaches the request in flight.
		return n, e.atEnd()
	}
	return n, err
}

// atEnd checks that r has nothing after the declared size.
func (e *exactReader) atEnd() error {
	var one [1]byte
	n, err := io.ReadFull(e.r, one[:])
	if n > 0 {
		e.mismatch = errors.New("body longer than declared")
		return e.mismatch
	}
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return err
}
