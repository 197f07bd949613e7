package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/calls"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/store"
)

// This file wires internal/calls: adapters from the service and the store to
// the narrow interfaces calls declares, and the frame router that hands
// call frames from sockets to calls and the rest to the service.

// openCalls starts the TURN relay (when --turn-addr is set) and calls.
func openCalls(cfg Config, svc *service.Service, db *store.DB, bus tkesj.Bus, log *slog.Logger) (*calls.Service, *calls.TURN, error) {
	ring := 45 * time.Second
	if cfg.CallRingTimeout != "" {
		d, err := time.ParseDuration(cfg.CallRingTimeout)
		if err != nil || d <= 0 {
			return nil, nil, fmt.Errorf("--call-ring-timeout %q is not a positive duration such as 45s", cfg.CallRingTimeout)
		}
		ring = d
	}
	if cfg.CallPublicIP != "" && net.ParseIP(cfg.CallPublicIP) == nil {
		return nil, nil, fmt.Errorf("--call-public-ip %q is not an IP address", cfg.CallPublicIP)
	}
	sfuMin, sfuMax, err := calls.ParsePortRange(cfg.SFUPorts)
	if err != nil {
		return nil, nil, fmt.Errorf("--sfu-ports: %w", err)
	}
	var turn *calls.TURN
	if cfg.TURNAddr != "" {
		lo, hi, err := calls.ParsePortRange(cfg.TURNRelayPorts)
		if err != nil {
			return nil, nil, fmt.Errorf("--turn-relay-ports: %w", err)
		}
		turn, err = calls.NewTURN(calls.TURNConfig{Listen: cfg.TURNAddr, PublicIP: cfg.CallPublicIP, MinPort: lo, MaxPort: hi}, log)
		if err != nil {
			return nil, nil, err
		}
		log.Info("turn relay listening", "url", turn.URL())
	}
	loopback := strings.HasPrefix(cfg.Addr, "127.") || strings.HasPrefix(cfg.Addr, "localhost:") || strings.HasPrefix(cfg.Addr, "[::1]")
	cs, err := calls.New(calls.Deps{
		Members: svc, Permissions: svc, Records: callRecords{svc}, Pusher: svc, Store: callStore{db}, Bus: bus, Log: log, TURN: turn,
		SFU: calls.SFUConfig{PublicIP: cfg.CallPublicIP, MinPort: sfuMin, MaxPort: sfuMax, Loopback: loopback || cfg.CallPublicIP != ""},
	}, calls.Config{RingTimeout: ring})
	if err != nil {
		if turn != nil {
			turn.Close()
		}
		return nil, nil, err
	}
	svc.OnPermissionChange(cs.PermissionChanged)
	return cs, turn, nil
}

// callRecords turns a call's record into the service's call message.
type callRecords struct{ svc *service.Service }

func (r callRecords) AppendCallRecord(ctx context.Context, senderID, convID string, rec calls.Record) error {
	return r.svc.AppendCallRecord(ctx, senderID, convID, service.CallInfo{CallID: rec.CallID, Media: rec.Media, State: rec.State, DurationS: rec.DurationS, Reason: rec.Reason})
}

// callStore keeps calls' documents in the store's calls table.
type callStore struct{ db *store.DB }

func callRecord(c calls.Call) (store.CallRecord, error) {
	doc, err := json.Marshal(c)
	ids := make([]string, 0, len(c.Participants))
	for _, p := range c.Participants {
		ids = append(ids, p.UserID)
	}
	return store.CallRecord{ID: c.ID, ConvID: c.ConversationID, Doc: doc, Participants: ids, Members: c.Members, UpdatedAt: time.Now()}, err
}

func openCall(r store.CallRecord) (calls.Call, error) {
	var c calls.Call
	err := json.Unmarshal(r.Doc, &c)
	return c, err
}

func (s callStore) CreateCall(ctx context.Context, c calls.Call) error {
	r, err := callRecord(c)
	if err != nil {
		return err
	}
	return s.db.Update(ctx, func(q *store.Queries) error { return q.CreateCall(ctx, r) })
}

func (s callStore) FindCall(ctx context.Context, id string) (calls.Call, int64, error) {
	r, err := s.db.Read().FindCall(ctx, id)
	if err != nil {
		return calls.Call{}, 0, err
	}
	c, err := openCall(r)
	return c, r.Version, err
}

func (s callStore) UpdateCall(ctx context.Context, c calls.Call, version int64) (bool, error) {
	r, err := callRecord(c)
	if err != nil {
		return false, err
	}
	var ok bool
	err = s.db.Update(ctx, func(q *store.Queries) error {
		ok, err = q.UpdateCall(ctx, r, version)
		return err
	})
	return ok, err
}

func (s callStore) DeleteCall(ctx context.Context, id string) error {
	return s.db.Update(ctx, func(q *store.Queries) error { return q.DeleteCall(ctx, id) })
}

func (s callStore) live(ctx context.Context, userID string) ([]calls.Call, error) {
	rs, err := s.db.Read().LiveCalls(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]calls.Call, 0, len(rs))
	for _, r := range rs {
		c, err := openCall(r)
		if err != nil {
			continue
		}
		// LIKE's "_" matches any character: keep only exact participants.
		if userID == "" || slices.ContainsFunc(c.Participants, func(p calls.Participant) bool { return p.UserID == userID }) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s callStore) LiveCallsOf(ctx context.Context, userID string) ([]calls.Call, error) {
	return s.live(ctx, userID)
}

func (s callStore) LiveCalls(ctx context.Context) ([]calls.Call, error) { return s.live(ctx, "") }

func (s callStore) CallsOfMember(ctx context.Context, userID string) ([]calls.Call, error) {
	rs, err := s.db.Read().CallsOfMember(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]calls.Call, 0, len(rs))
	for _, r := range rs {
		if c, err := openCall(r); err == nil && c.IsMember(userID) {
			out = append(out, c)
		}
	}
	return out, nil
}

// frameRouter hands call frames to calls and every other frame to the service.
type frameRouter struct {
	svc   *service.Service
	calls *calls.Service
}

// ReadyFrame is the service's ready frame plus "calls": the live calls of
// the person's conversations, so a device that connects while a call rings
// rings too.
func (f frameRouter) ReadyFrame(ctx context.Context, userID string) ([]byte, error) {
	b, err := f.svc.ReadyFrame(ctx, userID)
	if err != nil {
		return nil, err
	}
	live := f.calls.LiveFor(ctx, userID)
	if len(live) == 0 {
		return b, nil
	}
	var ready map[string]any
	if err := json.Unmarshal(b, &ready); err != nil {
		return b, nil
	}
	ready["calls"] = live
	return json.Marshal(ready)
}

func (f frameRouter) ClientFrame(ctx context.Context, userID string, deviceIdx []byte, frame []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(frame, &head) == nil && calls.IsFrame(head.Type) {
		return f.calls.ClientFrame(ctx, userID, deviceIdx, frame)
	}
	return f.svc.ClientFrame(ctx, userID, deviceIdx, frame)
}
