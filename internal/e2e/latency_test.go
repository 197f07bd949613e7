package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/service"
)

// percentiles reports p50 and p99 of ds as benchmark metrics, in ms.
func percentiles(b *testing.B, name string, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), name+"-p50-ms")
	b.ReportMetric(at(0.99), name+"-p99-ms")
}

// BenchmarkRegisterAndLogin measures what a person waits for, with the
// production argon2id parameters: requesting a code, registering, and
// logging in with a password, each a full HTTP round trip on SQLite.
func BenchmarkRegisterAndLogin(b *testing.B) {
	s := startServer(b, "sqlite", func(c *app.Config) {
		c.Service.PasswordParams = nil // production parameters
		c.Service.CodesPerIP = 1 << 30
		c.LogLevel = "error"
	})
	var reg, login []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		phone := fmt.Sprintf("+86139%08d", 10_000_000+i)
		code := s.code(b, phone, "register")
		body := map[string]any{"phone": phone, "code": code, "username": fmt.Sprintf("lat_%d", i), "password": goodPassword,
			"nickname": "Lat", "policy_version": "1", "device": map[string]string{"id": "d"}}
		start := time.Now()
		want(b, s.do(b, "", "POST", "/api/v1/accounts", body), 201, "")
		reg = append(reg, time.Since(start))
		start = time.Now()
		want(b, s.do(b, "", "POST", "/api/v1/sessions", map[string]any{"login": fmt.Sprintf("lat_%d", i), "password": goodPassword,
			"device": map[string]string{"id": "d2"}}), 201, "")
		login = append(login, time.Since(start))
	}
	b.StopTimer()
	percentiles(b, "register", reg)
	percentiles(b, "login", login)
}

// BenchmarkTimeline is B5: the first timeline page for a person with 1,000
// friends who each posted 20 times (R-MOM-4). Seeding goes through the
// bench-only service methods, then the server is restarted cold.
func BenchmarkTimeline(b *testing.B) {
	friends, posts := 1000, 20
	s := startServer(b, "sqlite", func(c *app.Config) { c.LogLevel = "error" })
	s.stop()
	var viewer string
	withApp(b, s, func(a *app.App) {
		ctx := context.Background()
		users, err := a.Service.SeedUsers(ctx, friends+1, "tl", 5_000_000, goodPassword)
		if err != nil {
			b.Fatal(err)
		}
		var pairs [][2]string
		for _, u := range users[1:] {
			pairs = append(pairs, [2]string{users[0].ID, u.ID})
		}
		if err := a.Service.SeedFriends(ctx, pairs); err != nil {
			b.Fatal(err)
		}
		for _, u := range users[1:] {
			auth, err := a.Service.Authenticate(ctx, u.Token)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < posts; i++ {
				if _, err := a.Service.CreateMoment(ctx, auth, service.MomentInput{Text: fmt.Sprint("post ", i), Visibility: "friends"}); err != nil {
					b.Fatal(err)
				}
			}
		}
		viewer = users[0].Token
	})
	s = runServer(b, s.cfg, s.SMS)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r := s.do(b, viewer, "GET", "/api/v1/moments/timeline?limit=20", nil)
		lat = append(lat, time.Since(start))
		if r.Status != 200 || len(r.JSON(b)["moments"].([]any)) != 20 {
			b.Fatalf("timeline = %d %.200s", r.Status, r.Body)
		}
	}
	b.StopTimer()
	percentiles(b, "timeline", lat)
}

// BenchmarkUploadVideo measures uploading a 10 MB video: sniffed, sealed in
// chunks and stored, over HTTP.
func BenchmarkUploadVideo(b *testing.B) {
	s := startServer(b, "sqlite", func(c *app.Config) { c.LogLevel = "error" })
	p := s.register(b, "Uploader")
	video := make([]byte, 10<<20)
	copy(video, []byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0, 'i', 's', 'o', 'm', 'm', 'p', '4', '1'})
	b.SetBytes(int64(len(video)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := s.upload(b, p.Token, "", "v.mp4", video)
		if r.Status != 201 || r.str(b, "kind") != "video" {
			b.Fatalf("upload = %d %s", r.Status, r.Body)
		}
	}
}
