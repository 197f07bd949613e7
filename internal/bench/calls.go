package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/tkesj/tkesj/internal/service"
)

// B8: calls (issue 16). The participants are WebRTC peers in this process
// (pion), signalling through the server's API and WebSocket exactly as the
// web client does, on loopback. Three figures:
//
//   - call setup: from the callee's accept (POST .../join) to the first
//     audio packet the callee receives from the caller, one-to-one calls,
//     peer to peer (the server carries only the signalling);
//   - SFU forwarding: K group calls of 9 people, each person sending one
//     audio stream of 50 packets/s (Opus-sized, 80 bytes); the packets the
//     participants receive per second and per server CPU-second, and so how
//     many such calls one core carries (each call is 9 × 8 × 50 = 3,600
//     forwarded packets/s);
//   - memory per active call: the server's RSS with the calls running, less
//     its RSS with the same people connected and no call, over K (each step
//     on a freshly started server).
func (b *bench) b8(ctx context.Context) *Result {
	r := &Result{Name: "B8", Title: "calls: setup, SFU forwarding, memory per call"}
	in, err := b.newInstance(ctx, "b8")
	if err != nil {
		return fail(r, err)
	}
	defer in.close()
	maxCalls := 0
	for _, k := range b.sz.B8Calls {
		maxCalls = max(maxCalls, k)
	}
	nPairs := b.sz.B8Setups
	users, err := in.seedUsers(ctx, 2+9*maxCalls, "caller", 0)
	if err != nil {
		return fail(r, err)
	}
	for _, u := range users {
		if _, err := in.svc().SetPermission(ctx, service.Auth{UserID: u.ID}, "microphone", true); err != nil {
			return fail(r, fmt.Errorf("grant microphone: %w", err))
		}
	}
	convs, err := in.directs(ctx, [][2]user{{users[0], users[1]}})
	if err != nil {
		return fail(r, err)
	}
	var groups []string
	for k := range maxCalls {
		team := users[2+9*k : 2+9*(k+1)]
		var friends [][2]string
		var others []string
		for _, u := range team[1:] {
			friends = append(friends, [2]string{team[0].ID, u.ID})
			others = append(others, u.ID)
		}
		if err := in.svc().SeedFriends(ctx, friends); err != nil {
			return fail(r, err)
		}
		g, err := in.svc().CreateGroup(ctx, service.Auth{UserID: team[0].ID}, fmt.Sprintf("Bench call %d", k), others)
		if err != nil {
			return fail(r, err)
		}
		groups = append(groups, g.ID)
	}
	srv, err := in.start(ctx)
	if err != nil {
		return fail(r, err)
	}
	api, err := benchRTCAPI()
	if err != nil {
		return fail(r, err)
	}

	// Call setup, one call at a time.
	a, err := dialCallWS(ctx, srv, users[0])
	if err != nil {
		return fail(r, err)
	}
	defer a.close()
	bb, err := dialCallWS(ctx, srv, users[1])
	if err != nil {
		return fail(r, err)
	}
	defer bb.close()
	var setups []time.Duration
	for i := range nPairs {
		// One call every 300 ms: each sends 3–4 frames a socket, and a
		// socket may send 20 a second (realtime.DefaultFramesPerSec);
		// people do not start calls faster than that.
		next := time.Now().Add(300 * time.Millisecond)
		d, err := setupOnce(ctx, srv, api, a, bb, convs[0])
		if err != nil {
			return fail(r, fmt.Errorf("call setup %d: %w", i+1, err))
		}
		setups = append(setups, d)
		time.Sleep(time.Until(next))
	}
	r.Latencies = append(r.Latencies, summarize("call setup: accept → first audio packet (1:1, loopback)", setups))

	a.close()
	bb.close()

	// Group calls through the SFU, K at a time, each step on a freshly
	// started server so that its RSS is not the last step's high-water mark.
	for _, k := range b.sz.B8Calls {
		in.srv.stop()
		in.srv = nil
		if srv, err = in.b.startServer(ctx, in.cfg); err != nil {
			return fail(r, err)
		}
		in.srv = srv
		if err := b.groupStep(ctx, r, srv, api, users, groups[:k]); err != nil {
			return fail(r, err)
		}
	}
	return r
}

// groupStep runs k 9-person audio calls at once and measures forwarding.
func (b *bench) groupStep(ctx context.Context, r *Result, srv *server, api *webrtc.API, users []user, groups []string) error {
	k := len(groups)
	var conns []*callWS
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	for i := range 9 * k {
		c, err := dialCallWS(ctx, srv, users[2+i])
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	time.Sleep(b.sz.Settle)
	before := srv.stat()
	var peers []*rtcPeer
	defer func() {
		for _, p := range peers {
			p.close()
		}
	}()
	var ids []string
	for g, conv := range groups {
		team := conns[9*g : 9*(g+1)]
		var started struct {
			Call struct {
				ID string `json:"id"`
			} `json:"call"`
		}
		if err := callJSON(ctx, srv, team[0].u.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"}, 201, &started); err != nil {
			return err
		}
		id := started.Call.ID
		ids = append(ids, id)
		for i, c := range team {
			if i > 0 {
				if err := callJSON(ctx, srv, c.u.Token, "POST", "/api/v1/calls/"+id+"/join", nil, 200, nil); err != nil {
					return err
				}
			}
			p, err := newRTCPeer(api, c, id, "sfu")
			if err != nil {
				return err
			}
			peers = append(peers, p)
			p.send(map[string]any{"type": "hello"})
		}
	}
	for _, p := range peers {
		p.startSending()
	}
	// Everyone hears the 8 others before the window opens.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := 0
		for _, p := range peers {
			if p.tracksHeard() >= 8 {
				ready++
			}
		}
		if ready == len(peers) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d calls of 9: only %d of %d people hear all 8 others after 60 s", k, ready, len(peers))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(b.sz.Settle)
	count := func() int64 {
		var n int64
		for _, p := range peers {
			n += p.received.Load()
		}
		return n
	}
	st0, n0, c0, t0 := srv.stat(), count(), selfCPU(), time.Now()
	time.Sleep(b.sz.B8Measure)
	st1, n1, c1, t1 := srv.stat(), count(), selfCPU(), time.Now()
	secs := t1.Sub(t0).Seconds()
	cpu := st1.CPU - st0.CPU
	rate := float64(n1-n0) / secs
	want := float64(k * 9 * 8 * 50)
	r.metric(fmt.Sprintf("%d×9 audio: packets forwarded (received)", k), rate, "/s")
	r.metric(fmt.Sprintf("%d×9 audio: share of the 3,600/s a call should get", k), 100*rate/want, "%")
	r.metric(fmt.Sprintf("%d×9 audio: server CPU", k), cpu/secs, "cores")
	if cpu > 0 {
		perCPU := float64(n1-n0) / cpu
		r.metric(fmt.Sprintf("%d×9 audio: forwarded per server CPU-second", k), perCPU, "packets")
		r.metric(fmt.Sprintf("%d×9 audio: 9-person audio calls one core carries", k), perCPU/(9*8*50), "calls")
	}
	r.metric(fmt.Sprintf("%d×9 audio: server RSS per active call", k), float64(st1.RSSKiB-before.RSSKiB)/1024/float64(k), "MiB")
	r.note("%d×9 audio: the load generator (%d WebRTC peers, SRTP both ways) used %.2f CPU-s in the %.1f s window", k, len(peers), c1-c0, secs)
	for i, id := range ids {
		for _, c := range conns[9*i : 9*(i+1)] {
			call(ctx, srv, c.u.Token, "POST", "/api/v1/calls/"+id+"/leave", nil)
		}
	}
	return nil
}

// setupOnce runs one one-to-one call: a calls b, b accepts, a offers, the
// media flows peer to peer; it returns accept → first audio packet at b.
func setupOnce(ctx context.Context, srv *server, api *webrtc.API, a, b *callWS, conv string) (time.Duration, error) {
	var started struct {
		Call struct {
			ID string `json:"id"`
		} `json:"call"`
	}
	if err := callJSON(ctx, srv, a.u.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"}, 201, &started); err != nil {
		return 0, err
	}
	id := started.Call.ID
	defer func() {
		call(ctx, srv, a.u.Token, "POST", "/api/v1/calls/"+id+"/leave", nil)
		call(ctx, srv, b.u.Token, "POST", "/api/v1/calls/"+id+"/leave", nil)
	}()
	if err := b.waitCall(ctx, id, "ringing"); err != nil {
		return 0, err
	}
	callee, err := newRTCPeer(api, b, id, a.u.ID)
	if err != nil {
		return 0, err
	}
	defer callee.close()
	t0 := time.Now()
	if err := callJSON(ctx, srv, b.u.Token, "POST", "/api/v1/calls/"+id+"/join", nil, 200, nil); err != nil {
		return 0, err
	}
	if err := a.waitCall(ctx, id, "active"); err != nil {
		return 0, err
	}
	caller, err := newRTCPeer(api, a, id, b.u.ID)
	if err != nil {
		return 0, err
	}
	defer caller.close()
	if err := caller.offer(); err != nil {
		return 0, err
	}
	caller.startSending()
	select {
	case at := <-callee.first:
		return at.Sub(t0), nil
	case <-time.After(30 * time.Second):
		return 0, errors.New("no audio within 30 s of the accept")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// benchRTCAPI is a WebRTC stack for loopback peers: UDP over IPv4, loopback
// candidates, no mDNS.
func benchRTCAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	se.LoggerFactory = lf
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// callWS is one person's WebSocket: call frames and signals for the call
// under way go to the peer registered for it.
type callWS struct {
	u     user
	c     *websocket.Conn
	mu    sync.Mutex
	peer  *rtcPeer
	calls chan wireCall
}

type wireCall struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

func dialCallWS(ctx context.Context, s *server, u user) (*callWS, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, s.ws+"?token="+u.Token, &websocket.DialOptions{HTTPClient: wsHTTP})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	if _, _, err := c.Read(dctx); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("read ready frame: %w", err)
	}
	w := &callWS{u: u, c: c, calls: make(chan wireCall, 64)}
	go w.read()
	return w, nil
}

func (w *callWS) read() {
	for {
		_, b, err := w.c.Read(context.Background())
		if err != nil {
			return
		}
		var f struct {
			Type   string          `json:"type"`
			Call   wireCall        `json:"call"`
			CallID string          `json:"call_id"`
			Signal json.RawMessage `json:"signal"`
		}
		if json.Unmarshal(b, &f) != nil {
			continue
		}
		switch f.Type {
		case "call":
			// Only this goroutine sends: when full, the oldest state goes.
			select {
			case w.calls <- f.Call:
			default:
				select {
				case <-w.calls:
				default:
				}
				w.calls <- f.Call
			}
		case "call_signal":
			w.mu.Lock()
			p := w.peer
			w.mu.Unlock()
			if p != nil && p.callID == f.CallID {
				p.onSignal(f.Signal)
			}
		}
	}
}

func (w *callWS) waitCall(ctx context.Context, id, state string) error {
	deadline := time.After(30 * time.Second)
	for {
		select {
		case c := <-w.calls:
			if c.ID == id && c.State == state {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("call %s not %s within 30 s", id, state)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *callWS) close() { w.c.CloseNow() }

// rtcPeer is one participant's media: one audio track sent, every track
// received counted.
type rtcPeer struct {
	ws     *callWS
	callID string
	to     string
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP
	work   chan json.RawMessage // signals, handled in order
	stop   chan struct{}

	received atomic.Int64
	heard    atomic.Int64 // tracks that delivered at least one packet
	first    chan time.Time
	once     sync.Once
}

func newRTCPeer(api *webrtc.API, ws *callWS, callID, to string) (*rtcPeer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", ws.u.ID)
	if err != nil {
		pc.Close()
		return nil, err
	}
	tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		pc.Close()
		return nil, err
	}
	p := &rtcPeer{ws: ws, callID: callID, to: to, pc: pc, track: track, work: make(chan json.RawMessage, 256), stop: make(chan struct{}), first: make(chan time.Time, 1)}
	go func() {
		for {
			if _, _, err := tr.Sender().ReadRTCP(); err != nil {
				return
			}
		}
	}()
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			init := c.ToJSON()
			p.send(map[string]any{"type": "candidate", "candidate": init})
		}
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		heard := false
		for {
			if _, _, err := remote.Read(buf); err != nil {
				return
			}
			p.received.Add(1)
			if !heard {
				heard = true
				p.heard.Add(1)
				p.once.Do(func() { p.first <- time.Now() })
			}
		}
	})
	ws.mu.Lock()
	ws.peer = p
	ws.mu.Unlock()
	go p.handle()
	return p, nil
}

func (p *rtcPeer) send(signal map[string]any) {
	b, _ := json.Marshal(map[string]any{"type": "call_signal", "call_id": p.callID, "to": p.to, "signal": signal})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.ws.c.Write(ctx, websocket.MessageText, b)
}

func (p *rtcPeer) onSignal(raw json.RawMessage) {
	select {
	case p.work <- raw:
	default:
	}
}

// handle answers offers, takes answers and candidates, in order; candidates
// before the remote description wait for it.
func (p *rtcPeer) handle() {
	var early []webrtc.ICECandidateInit
	for {
		var raw json.RawMessage
		select {
		case raw = <-p.work:
		case <-p.stop:
			return
		}
		var s struct {
			Type      string                   `json:"type"`
			SDP       string                   `json:"sdp"`
			Candidate *webrtc.ICECandidateInit `json:"candidate"`
		}
		if json.Unmarshal(raw, &s) != nil {
			continue
		}
		switch s.Type {
		case "offer":
			if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.SDP}); err != nil {
				continue
			}
			ans, err := p.pc.CreateAnswer(nil)
			if err != nil || p.pc.SetLocalDescription(ans) != nil {
				continue
			}
			p.send(map[string]any{"type": "answer", "sdp": ans.SDP})
		case "answer":
			p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP})
		case "candidate":
			if s.Candidate == nil {
				continue
			}
			if p.pc.RemoteDescription() == nil {
				early = append(early, *s.Candidate)
				continue
			}
			p.pc.AddICECandidate(*s.Candidate)
		}
		if p.pc.RemoteDescription() != nil {
			for _, c := range early {
				p.pc.AddICECandidate(c)
			}
			early = nil
		}
	}
}

// offer starts the negotiation (the caller of a one-to-one call).
func (p *rtcPeer) offer() error {
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := p.pc.SetLocalDescription(o); err != nil {
		return err
	}
	p.send(map[string]any{"type": "offer", "sdp": o.SDP})
	return nil
}

// startSending writes an 80-byte audio packet every 20 ms until close;
// packets before the connection is up go nowhere.
func (p *rtcPeer) startSending() {
	go func() {
		payload := make([]byte, 80)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var seq uint16
		var ts uint32
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			seq++
			ts += 960
			p.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: payload})
		}
	}()
}

func (p *rtcPeer) tracksHeard() int64 { return p.heard.Load() }

func (p *rtcPeer) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.pc.Close()
}
