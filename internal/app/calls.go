package app

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/tkesj/tkesj/internal/calls"
)

// This file reads the calls flags into internal/calls' options and starts
// the built-in TURN relay; internal/service composes calls itself.

// callOptions reads the calls flags and starts the TURN relay when
// --turn-addr is set; the caller closes the relay (nil closes as a no-op).
func callOptions(cfg Config, log *slog.Logger) (calls.Options, *calls.TURN, error) {
	ring := 45 * time.Second
	if cfg.CallRingTimeout != "" {
		d, err := time.ParseDuration(cfg.CallRingTimeout)
		if err != nil || d <= 0 {
			return calls.Options{}, nil, fmt.Errorf("--call-ring-timeout %q is not a positive duration such as 45s", cfg.CallRingTimeout)
		}
		ring = d
	}
	if cfg.CallPublicIP != "" && net.ParseIP(cfg.CallPublicIP) == nil {
		return calls.Options{}, nil, fmt.Errorf("--call-public-ip %q is not an IP address", cfg.CallPublicIP)
	}
	sfuMin, sfuMax, err := calls.ParsePortRange(cfg.SFUPorts)
	if err != nil {
		return calls.Options{}, nil, fmt.Errorf("--sfu-ports: %w", err)
	}
	var turn *calls.TURN
	if cfg.TURNAddr != "" {
		lo, hi, err := calls.ParsePortRange(cfg.TURNRelayPorts)
		if err != nil {
			return calls.Options{}, nil, fmt.Errorf("--turn-relay-ports: %w", err)
		}
		turn, err = calls.NewTURN(calls.TURNConfig{Listen: cfg.TURNAddr, PublicIP: cfg.CallPublicIP, MinPort: lo, MaxPort: hi}, log)
		if err != nil {
			return calls.Options{}, nil, err
		}
		log.Info("turn relay listening", "url", turn.URL())
	}
	loopback := strings.HasPrefix(cfg.Addr, "127.") || strings.HasPrefix(cfg.Addr, "localhost:") || strings.HasPrefix(cfg.Addr, "[::1]")
	return calls.Options{
		Config: calls.Config{RingTimeout: ring, PushDelay: cfg.CallPushDelay},
		TURN:   turn,
		SFU:    calls.SFUConfig{PublicIP: cfg.CallPublicIP, MinPort: sfuMin, MaxPort: sfuMax, Loopback: loopback || cfg.CallPublicIP != ""},
	}, turn, nil
}
