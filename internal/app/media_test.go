package app

import (
	"testing"

	"github.com/tkesj/tkesj/internal/media/s3"
)

// --media s3://... selects S3-compatible storage; the URL carries where,
// never the credentials (a flag shows in process lists).
func TestParseS3URL(t *testing.T) {
	good := []struct {
		url  string
		want s3.Config
	}{
		{"s3://tkesj-media?endpoint=s3.eu-west-1.amazonaws.com&region=eu-west-1",
			s3.Config{Bucket: "tkesj-media", Endpoint: "s3.eu-west-1.amazonaws.com", Region: "eu-west-1", UseSSL: true}},
		{"s3://m?endpoint=127.0.0.1:7070&tls=false&prefix=media/",
			s3.Config{Bucket: "m", Endpoint: "127.0.0.1:7070", Prefix: "media/"}},
	}
	for _, tt := range good {
		got, err := ParseS3URL(tt.url)
		if err != nil {
			t.Errorf("ParseS3URL(%q) = %v", tt.url, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseS3URL(%q) = %+v, want %+v", tt.url, got, tt.want)
		}
	}
	for _, bad := range []string{
		"s3://bucket",                          // no endpoint
		"s3://?endpoint=h:1",                   // no bucket
		"s3://key:secret@bucket?endpoint=h:1",  // credentials in the URL
		"s3://bucket?endpoint=h:1&tls=maybe",   // not a bool
		"s3://bucket?endpoint=h:1&acces_key=x", // unknown (misspelt) parameter
		"http://bucket?endpoint=h:1",           // not s3
	} {
		if _, err := ParseS3URL(bad); err == nil {
			t.Errorf("ParseS3URL(%q) = nil error, want one", bad)
		}
	}
}
