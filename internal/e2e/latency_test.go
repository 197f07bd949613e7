package e2e

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
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
