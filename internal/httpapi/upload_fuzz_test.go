package httpapi

import (
	"bufio"
	"bytes"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/media/process"
	"github.com/tkesj/tkesj/internal/service"
)

// FuzzUploadForm (issue 14): whatever multipart framing a client sends, the
// upload form is walked without a panic, and every refusal is a problem a
// client can act on, never an internal error (a 500). The file's head goes
// through the media sniffer, as the service would put it.
func FuzzUploadForm(f *testing.F) {
	f.Add("b", "--b\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nalbum\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n\x89PNG\r\n\x1a\n\r\n--b--\r\n")
	f.Add("b", "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n")
	f.Add("", "")
	f.Add("\"", "--\r\n")
	f.Fuzz(func(t *testing.T, boundary, body string) {
		r := httptest.NewRequest("POST", "/api/v1/media", bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		_, err := uploadForm(r, func(source string, b io.Reader) (service.Media, error) {
			br := bufio.NewReaderSize(b, process.SniffLen)
			head, _ := br.Peek(process.SniffLen)
			if _, _, err := process.Sniff(head); err != nil {
				return service.Media{}, err
			}
			if _, err := io.Copy(io.Discard, br); err != nil {
				return service.Media{}, tkesj.Errorf(tkesj.EMalformed, "upload_failed", "the upload could not be read")
			}
			return service.Media{}, nil
		})
		if err != nil {
			if k := tkesj.ErrorKindOf(err); k == tkesj.EInternal {
				t.Fatalf("uploadForm = %v, an internal error for a client's framing", err)
			}
		}
	})
}
