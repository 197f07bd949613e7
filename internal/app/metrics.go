package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj/internal/httpapi"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/metrics"
)

// instrument builds the node's metrics registry and the observer that counts
// and times every request by its route's metric label (never its URL, so the
// label set stays bounded). The gauges read a's hub and service when scraped.
func instrument(a *App) (*metrics.Registry, httpapi.Observer) {
	reg := metrics.New()
	requests := reg.CounterVec("tkesj_http_requests_total", "HTTP requests by route pattern and status class.", "route", "code")
	latency := reg.HistogramVec("tkesj_http_request_duration_seconds", "HTTP request latency by route pattern.", metrics.DefaultBuckets, "route")
	var sent atomic.Uint64
	const sendRoute = "POST /api/v1/conversations/{id}/messages"
	obs := func(route string, status int, d time.Duration) {
		requests.Add(1, route, httpapi.StatusClass(status))
		latency.Observe(d.Seconds(), route)
		// A send over the WebSocket runs the same route (httpapi/wsrequests.go).
		if (route == sendRoute || route == "WS "+sendRoute) && status == http.StatusCreated {
			sent.Add(1)
		}
	}
	reg.CounterFunc("tkesj_messages_sent_total", "Messages stored through this node (201 answers to POST .../messages, over HTTP or a WebSocket send frame).", func() float64 { return float64(sent.Load()) })
	reg.GaugeFunc("tkesj_ws_connections", "Open WebSocket connections on this node.", func() float64 { return float64(a.Hub.Stats().Connections) })
	reg.CounterFunc("tkesj_ws_frames_sent_total", "Frames written to WebSocket clients.", func() float64 { return float64(a.Hub.Stats().FramesSent) })
	reg.CounterFunc("tkesj_ws_frames_received_total", "Data frames read from WebSocket clients.", func() float64 { return float64(a.Hub.Stats().FramesReceived) })
	reg.CounterFunc("tkesj_ws_slow_dropped_total", "WebSocket connections closed for not keeping up.", func() float64 { return float64(a.Hub.Stats().SlowDropped) })
	reg.CounterFunc("tkesj_ws_rate_limited_total", "Client frames refused for going over the rate limit.", func() float64 { return float64(a.Hub.Stats().RateLimited) })
	reg.CounterFunc("tkesj_writer_batches_total", "Group commits of the writer.", func() float64 { b, _ := a.Service.WriterStats(); return float64(b) })
	reg.CounterFunc("tkesj_writer_writes_total", "Writes carried by group commits.", func() float64 { _, w := a.Service.WriterStats(); return float64(w) })
	commits := reg.HistogramVec("tkesj_writer_commit_seconds", "Group commits by how long their transaction took (writes, commit and fsync).", commitBuckets)
	a.Service.ObserveCommits(func(d time.Duration) { commits.Observe(d.Seconds()) })
	reg.CounterFunc("tkesj_db_statements_total", "SQL statements run by this node's store (queries, writes and group-commit savepoints; not BEGIN/COMMIT).", func() float64 { return float64(a.db.Statements()) })
	reg.CounterFunc("tkesj_moment_fanout_batches_total", "Moments fan-out batches written by this node (timeline references, issue 19).", func() float64 { b, _ := a.Service.FanOutStats(); return float64(b) })
	reg.GaugeFunc("tkesj_moment_fanout_pending", "Moments fan-outs and backfills not finished, on every node (the durable queue).", func() float64 {
		n, _ := a.Service.PendingFanOuts(context.Background())
		return float64(n)
	})
	reg.CounterFunc("tkesj_integrity_failures_total", "Stored items (messages, profiles, ...) that failed their integrity check when opened (issue 14 item 9).", func() float64 {
		return float64(a.Service.Integrity.Stats().Failures)
	})
	reg.CounterFunc("tkesj_pushes_sent_total", "Web Push notifications sent.", func() float64 { return float64(a.Service.PushesSent()) })
	// Presence (issue 17): people online here, entries held for other nodes
	// (bounded), and what the bound or the bus refused.
	reg.GaugeFunc("tkesj_presence_local", "People with a live WebSocket on this node.", func() float64 { return float64(a.Presence.Stats().Local) })
	reg.GaugeFunc("tkesj_presence_remote_entries", "Entries held for people online on other nodes (one per person and node).", func() float64 {
		return float64(a.Presence.Stats().Remote)
	})
	reg.CounterFunc("tkesj_presence_refused_total", "Entries of other nodes' people refused over the bound (they count as away).", func() float64 {
		return float64(a.Presence.Stats().Refused)
	})
	reg.CounterFunc("tkesj_presence_publish_errors_total", "Presence events the bus did not take (the next heartbeat repairs them).", func() float64 {
		return float64(a.Presence.Stats().PublishErrors)
	})
	reg.CounterMapFunc("tkesj_retention_deleted_total", "Items removed by retention since start, by category.", "category", func() map[string]float64 {
		out := map[string]float64{}
		for k, v := range a.Service.RetentionCounts() {
			out[k] = float64(v)
		}
		out["tickets"] = float64(a.Service.OpsCounts()["tickets_purged"])
		return out
	})
	reg.CounterFunc("tkesj_deletion_notices_acked_total", "Deletion notices recipients acknowledged (R-SHR-3).", func() float64 {
		return float64(a.Service.OpsCounts()["deletion_notices_acked"])
	})
	// Calls (internal/calls): signals relayed and refused, the SFU's rooms
	// and the packets it forwarded, the TURN relay's open allocations.
	reg.CounterFunc("tkesj_call_signals_total", "Call signals relayed (to a peer's device or to the SFU).", func() float64 { return float64(a.Service.Calls.Stats().Signals) })
	reg.CounterFunc("tkesj_call_signals_refused_total", "Call signals refused for going over a participant's rate.", func() float64 { return float64(a.Service.Calls.Stats().Dropped) })
	reg.GaugeFunc("tkesj_sfu_calls", "Group calls whose forwarding unit runs on this node.", func() float64 { return float64(a.Service.Calls.Stats().SFUCalls) })
	reg.CounterFunc("tkesj_sfu_forwarded_packets_total", "Media packets the SFU received and forwarded (once per packet, before the copies).", func() float64 {
		return float64(a.Service.Calls.Stats().SFUForwarded)
	})
	reg.GaugeFunc("tkesj_turn_allocations", "Open relay allocations of the built-in TURN server (0 when it is off).", func() float64 { return float64(a.turn.Allocations()) })
	return reg, obs
}

// commitBuckets are tkesj_writer_commit_seconds' bounds: an fsync is a
// fraction of a millisecond, a batch of hundreds of sends some
// milliseconds, and a tail past 50 ms is what delays a chat.
var commitBuckets = []float64{0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1}

// serveMetrics serves reg at /metrics on addr, a listener apart from the
// API so it need not be exposed with it. Empty addr serves nothing.
func serveMetrics(ctx context.Context, addr string, reg *metrics.Registry, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server", "err", err.Error())
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

// dataKeyIDs lists every data key in the key store but the index key (ids
// that start with a NUL byte are the keyring's own).
func dataKeyIDs(ks keyring.Store) func(ctx context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		var ids []string
		err := ks.EachKey(ctx, func(id string, _ []byte) error {
			if !strings.HasPrefix(id, "\x00") {
				ids = append(ids, id)
			}
			return nil
		})
		return ids, err
	}
}
