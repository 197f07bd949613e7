package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/tkesj/tkesj/internal/app"
)

// photoWithGPS returns a JPEG carrying an EXIF segment with a GPS IFD, as a
// phone camera writes it.
func photoWithGPS(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	// APP1 "Exif\0\0", a little-endian TIFF header, one IFD entry pointing at
	// a GPS IFD (tag 0x8825), and a marker string we can look for afterwards.
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x25, 0x88, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0, 0, 0, 0}
	payload := append([]byte("Exif\x00\x00"), tiff...)
	payload = append(payload, []byte("GPS-LAT-39.9042-LNG-116.4074")...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	seg = append(seg, payload...)
	b := buf.Bytes()
	return append(append(append([]byte{}, b[:2]...), seg...), b[2:]...)
}

// upload posts a multipart upload and returns the response.
func (s *server) upload(t testing.TB, token, source, name string, content []byte) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if source != "" {
		mw.WriteField("source", source)
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/media", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (s *server) get(t *testing.T, token, path string, header ...string) response {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// R-MED-1, R-MED-2, R-MED-3, R-PRM-2: uploads are typed by content, capped,
// re-encoded without GPS, and only people who can see the message fetch them.
func TestMedia(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b, func(c *app.Config) { c.Service.MediaLimits.File = 300 << 10 })
		a, c, eve := s.register(t, "Ann"), s.register(t, "Cai"), s.register(t, "Eve")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		photo := photoWithGPS(t, 640, 480)
		if !bytes.Contains(photo, []byte("GPS-LAT")) {
			t.Fatal("the test photo has no GPS marker")
		}

		t.Run("R-PRM-2: a camera upload needs the camera permission", func(t *testing.T) {
			want(t, s.upload(t, a.Token, "camera", "cam.jpg", photo), 403, "permission_revoked")
			want(t, s.upload(t, a.Token, "album", "a.jpg", photo), 403, "permission_revoked")
		})
		want(t, s.do(t, a.Token, "PUT", "/api/v1/me/permissions/camera", map[string]any{"granted": true}), 200, "")
		up := s.upload(t, a.Token, "camera", "holiday.png", photo) // the name lies; the content decides
		want(t, up, 201, "")
		m := up.JSON(t)
		if m["kind"] != "image" || m["mime"] != "image/jpeg" {
			t.Fatalf("upload = %v, want a JPEG image", m)
		}
		id := m["id"].(string)

		t.Run("R-MED-3: the stored picture has no EXIF and no GPS", func(t *testing.T) {
			got := s.get(t, a.Token, "/api/v1/media/"+id)
			want(t, got, 200, "")
			if bytes.Contains(got.Body, []byte("Exif")) || bytes.Contains(got.Body, []byte("GPS-LAT")) {
				t.Error("the downloaded picture still carries EXIF/GPS")
			}
			if _, format, err := image.Decode(bytes.NewReader(got.Body)); err != nil || format != "jpeg" {
				t.Errorf("download is not a JPEG: %v %v", format, err)
			}
			if got.Header.Get("Content-Type") != "image/jpeg" || got.Header.Get("Cache-Control") == "" {
				t.Errorf("headers = %v", got.Header)
			}
			thumb := s.get(t, a.Token, "/api/v1/media/"+id+"?thumb=1")
			want(t, thumb, 200, "")
			cfg, _, err := image.DecodeConfig(bytes.NewReader(thumb.Body))
			if err != nil || cfg.Width > 320 || cfg.Height > 320 {
				t.Errorf("thumbnail = %v, %v; want at most 320 px", cfg, err)
			}
		})

		t.Run("R-MED-2: only people who can see the message fetch its media", func(t *testing.T) {
			want(t, s.get(t, c.Token, "/api/v1/media/"+id), 404, "not_found")
			r := s.do(t, a.Token, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"client_id": "img-1", "kind": "image", "media_id": id})
			want(t, r, 201, "")
			if r.JSON(t)["media"].(map[string]any)["url"] != "/api/v1/media/"+id {
				t.Errorf("image message = %s", r.Body)
			}
			want(t, s.get(t, c.Token, "/api/v1/media/"+id), 200, "")
			want(t, s.get(t, eve.Token, "/api/v1/media/"+id), 404, "not_found")
			want(t, s.get(t, eve.Token, "/api/v1/media/mnothere"), 404, "not_found")
			// Cai cannot send Ann's upload as his own.
			want(t, s.do(t, c.Token, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"client_id": "img-2", "kind": "image", "media_id": id}), 422, "invalid_media")
		})

		t.Run("R-MED-1: a program named .jpg is refused", func(t *testing.T) {
			exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), bytes.Repeat([]byte{0}, 200)...)
			want(t, s.upload(t, a.Token, "", "cat.jpg", exe), 415, "unsupported_media")
			want(t, s.upload(t, a.Token, "", "run.sh", []byte("#!/bin/sh\nrm -rf /\n")), 415, "unsupported_media")
		})

		t.Run("R-MED-1: each kind has a size cap", func(t *testing.T) {
			big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), 400<<10)...)
			want(t, s.upload(t, a.Token, "", "big.pdf", big), 413, "media_too_large")
			small := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("y"), 100<<10)...)
			r := s.upload(t, a.Token, "", "doc.pdf", small)
			want(t, r, 201, "")
			fid := r.str(t, "id")
			// Byte ranges are served exactly.
			rg := s.get(t, a.Token, "/api/v1/media/"+fid, "Range", "bytes=70000-70009")
			want(t, rg, 206, "")
			if !bytes.Equal(rg.Body, small[70000:70010]) || rg.Header.Get("Content-Range") != fmt.Sprintf("bytes 70000-70009/%d", len(small)) {
				t.Errorf("range = %q %q", rg.Body, rg.Header.Get("Content-Range"))
			}
			whole := s.get(t, a.Token, "/api/v1/media/"+fid)
			if !bytes.Equal(whole.Body, small) {
				t.Errorf("download of %d bytes differs from the upload", len(whole.Body))
			}
			want(t, s.get(t, a.Token, "/api/v1/media/"+fid, "Range", "bytes=999999999-"), 416, "range_not_satisfiable")
			want(t, s.do(t, c.Token, "DELETE", "/api/v1/media/"+fid, nil), 404, "not_found")
			want(t, s.do(t, a.Token, "DELETE", "/api/v1/media/"+fid, nil), 204, "")
			want(t, s.get(t, a.Token, "/api/v1/media/"+fid), 404, "not_found")
		})

		t.Run("malformed uploads are clear errors", func(t *testing.T) {
			want(t, s.do(t, a.Token, "POST", "/api/v1/media", `{"file":"x"}`), 400, "malformed_upload")
			want(t, s.upload(t, a.Token, "", "empty.txt", nil), 422, "empty_file")
			want(t, s.upload(t, a.Token, "drone", "x.jpg", photo), 422, "invalid_source")
			broken := append([]byte{}, photo[:len(photo)/3]...)
			want(t, s.upload(t, a.Token, "", "broken.jpg", broken), 422, "invalid_image")
		})

		t.Run("avatars are re-encoded and shown to others", func(t *testing.T) {
			req, _ := http.NewRequest("PUT", s.URL+"/api/v1/me/avatar", bytes.NewReader(photo))
			req.Header.Set("Authorization", "Bearer "+a.Token)
			req.Header.Set("Content-Type", "image/jpeg")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("PUT /me/avatar = %d", resp.StatusCode)
			}
			me := s.do(t, a.Token, "GET", "/api/v1/me", nil).JSON(t)
			url, _ := me["avatar_url"].(string)
			if !strings.HasSuffix(url, "/avatar") {
				t.Fatalf("avatar_url = %q", url)
			}
			got := s.get(t, c.Token, url)
			want(t, got, 200, "")
			if bytes.Contains(got.Body, []byte("GPS-LAT")) {
				t.Error("the avatar keeps GPS")
			}
			cfg, _, _ := image.DecodeConfig(bytes.NewReader(got.Body))
			if cfg.Width > 512 {
				t.Errorf("avatar width %d, want at most 512", cfg.Width)
			}
		})
	})
}
