package calls

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// SFUConfig places the forwarding unit's media sockets.
type SFUConfig struct {
	// PublicIP is announced in the SFU's candidates instead of the local
	// address (behind 1:1 NAT); empty announces local addresses.
	PublicIP string
	// MinPort and MaxPort bound its UDP ports; zero lets the system choose.
	MinPort, MaxPort uint16
	// Loopback offers loopback candidates too (tests, single-host setups).
	Loopback bool
}

// SFU forwards each group call participant's audio and video to the other
// participants (R-CAL-2). It keeps no media: every packet is written to the
// subscribers' tracks and dropped. The server is always the offerer, so
// renegotiation never collides: a participant says "hello", gets an offer
// with a receive slot for each of its media and a send track for each other
// participant, answers, and gets a new offer whenever someone's tracks come
// or go. Each receiver's video downlink is capped by asking publishers
// (REMB) for at most budget/(n-1) per stream.
type SFU struct {
	api      *webrtc.API
	send     func(callID, userID string, device []byte, signal json.RawMessage)
	gone     func(callID, userID string, device []byte)
	log      *slog.Logger
	budget   float64 // bits/s of video one receiver is sent in all
	interval time.Duration

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool

	forwarded atomic.Uint64
}

// room is one group call on this node.
type room struct {
	sfu   *SFU
	id    string
	media string
	work  chan func()   // signals, in order, on the room's goroutine
	done  chan struct{} // closed when the room ends

	mu    sync.Mutex
	peers map[string]*peer // by user id
}

// peer is one participant's connection to the SFU.
type peer struct {
	room   *room
	userID string
	device []byte
	pc     *webrtc.PeerConnection

	mu sync.Mutex
	// version is the newest call version known to have them in it: a
	// Keep from an older snapshot of the call never drops them.
	version        int64
	offers         int // offers sent; answers name the one they answer
	negotiating    bool
	pending        bool
	pendingRestart bool
	published      []*pubTrack
	senders        map[*pubTrack]*webrtc.RTPSender
	closing        atomic.Bool

	// sigMu orders what goes to the client: pion gathers candidates as soon
	// as an offer is set locally, so one could reach the client (across
	// nodes, over the bus) before the offer it belongs to, and a browser
	// refuses a candidate with no remote description. While holding, they
	// wait in held and follow the offer.
	sigMu   sync.Mutex
	holding bool
	held    [][]byte
}

// pubTrack is one incoming track and the local track it is copied to.
type pubTrack struct {
	owner  *peer
	remote *webrtc.TrackRemote
	local  *webrtc.TrackLocalStaticRTP
}

// NewSFU prepares a forwarding unit. send delivers a signal to a
// participant's device; gone reports a participant whose connection failed.
func NewSFU(cfg SFUConfig, send func(callID, userID string, device []byte, signal json.RawMessage), gone func(callID, userID string, device []byte), log *slog.Logger) (*SFU, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("sfu codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("sfu interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	se.LoggerFactory = lf
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	if cfg.PublicIP != "" {
		se.SetNAT1To1IPs([]string{cfg.PublicIP}, webrtc.ICECandidateTypeHost)
	}
	if cfg.MinPort != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.MinPort, cfg.MaxPort); err != nil {
			return nil, fmt.Errorf("sfu ports: %w", err)
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return &SFU{api: api, send: send, gone: gone, log: log, budget: 2_500_000, interval: 2 * time.Second, rooms: map[string]*room{}}, nil
}

// Stats reports the rooms open and the packets forwarded since start.
func (f *SFU) Stats() (rooms int, forwarded uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.rooms), f.forwarded.Load()
}

// Close ends every room.
func (f *SFU) Close() {
	f.mu.Lock()
	f.closed = true
	ids := make([]string, 0, len(f.rooms))
	for id := range f.rooms {
		ids = append(ids, id)
	}
	f.mu.Unlock()
	for _, id := range ids {
		f.End(id)
	}
}

// Open makes the room of a group call (it is also made by the first signal).
func (f *SFU) Open(callID, media string) { f.room(callID, media) }

func (f *SFU) room(callID, media string) *room {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if r, ok := f.rooms[callID]; ok {
		return r
	}
	r := &room{sfu: f, id: callID, media: media, work: make(chan func(), 256), done: make(chan struct{}), peers: map[string]*peer{}}
	f.rooms[callID] = r
	go r.run()
	return r
}

// End closes a room and every connection in it.
func (f *SFU) End(callID string) {
	f.mu.Lock()
	r, ok := f.rooms[callID]
	delete(f.rooms, callID)
	f.mu.Unlock()
	if !ok {
		return
	}
	close(r.done)
	r.mu.Lock()
	peers := r.peers
	r.peers = map[string]*peer{}
	r.mu.Unlock()
	for _, p := range peers {
		p.close()
	}
}

// Keep drops the connections of people no longer in the call as of the
// call's version. Snapshots are read concurrently and may arrive out of
// order: a peer admitted by a newer version than the snapshot's stays (the
// snapshot was read before they joined).
func (f *SFU) Keep(callID string, version int64, in []Participant) {
	f.mu.Lock()
	r, ok := f.rooms[callID]
	f.mu.Unlock()
	if !ok {
		return
	}
	r.enqueue(func() {
		r.mu.Lock()
		var out []*peer
		for id, p := range r.peers {
			p.mu.Lock()
			keep := p.version > version
			p.mu.Unlock()
			for _, q := range in {
				if q.UserID == id && string(q.Device) == string(p.device) {
					keep = true
				}
			}
			if !keep {
				out = append(out, p)
			}
		}
		r.mu.Unlock()
		for _, p := range out {
			r.remove(p)
		}
	})
}

// Signal handles one signal from a participant, in order, off the caller's
// goroutine; version is the call's version that showed them a participant.
// A room whose queue is full drops the signal (bounded).
func (f *SFU) Signal(callID, media, userID string, device []byte, version int64, raw json.RawMessage) {
	r := f.room(callID, media)
	if r == nil {
		return
	}
	r.enqueue(func() { r.signal(userID, device, version, raw) })
}

func (r *room) enqueue(fn func()) {
	select {
	case r.work <- fn:
	case <-r.done:
	default:
		r.sfu.log.Warn("sfu: signal queue full, signal dropped", "call", r.id)
	}
}

func (r *room) run() {
	t := time.NewTicker(r.sfu.interval)
	defer t.Stop()
	for {
		select {
		case fn := <-r.work:
			fn()
		case <-t.C:
			r.capBitrates()
		case <-r.done:
			return
		}
	}
}

// sfuSignal is the JSON of signals between a participant and the SFU.
type sfuSignal struct {
	Type      string                   `json:"type"` // hello, offer, answer, candidate
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Restart   bool                     `json:"restart,omitempty"`
	// N numbers the SFU's offers; an answer that names an older offer
	// (one replaced by an ICE restart meanwhile) is ignored. Clients that
	// do not echo it are believed.
	N int `json:"n,omitempty"`
}

func (r *room) signal(userID string, device []byte, version int64, raw json.RawMessage) {
	var s sfuSignal
	if err := json.Unmarshal(raw, &s); err != nil {
		return
	}
	r.mu.Lock()
	p := r.peers[userID]
	r.mu.Unlock()
	if p != nil && string(p.device) != string(device) {
		r.remove(p)
		p = nil
	}
	if p != nil {
		p.mu.Lock()
		p.version = max(p.version, version)
		p.mu.Unlock()
	}
	switch s.Type {
	case "hello":
		if p != nil {
			if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
				// An offer is out, unanswered (pion cannot roll it back):
				// send it again, since it may have been lost with the
				// client's old socket, and restart once it is answered.
				p.mu.Lock()
				p.pending, p.pendingRestart = true, true
				n := p.offers
				p.mu.Unlock()
				if d := p.pc.PendingLocalDescription(); d != nil {
					b, _ := json.Marshal(sfuSignal{Type: "offer", SDP: d.SDP, N: n})
					r.sfu.send(r.id, userID, device, b)
				}
				return
			}
			p.mu.Lock()
			p.negotiating = false
			p.mu.Unlock()
			p.negotiate(true)
			return
		}
		if err := r.add(userID, device, version); err != nil {
			r.sfu.log.Warn("sfu: add participant", "call", r.id, "err", err.Error())
		}
	case "answer":
		if p == nil {
			return
		}
		p.mu.Lock()
		stale := s.N != 0 && s.N != p.offers
		p.mu.Unlock()
		if stale {
			return
		}
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP}); err != nil {
			r.sfu.log.Warn("sfu: answer", "call", r.id, "err", err.Error())
		}
		p.mu.Lock()
		p.negotiating = false
		again, restart := p.pending, p.pendingRestart
		p.pending, p.pendingRestart = false, false
		p.mu.Unlock()
		if again {
			p.negotiate(restart)
		}
	case "candidate":
		if p == nil || s.Candidate == nil {
			return
		}
		p.pc.AddICECandidate(*s.Candidate)
	}
}

// add connects a participant: receive slots for their media, a send track
// for each track already published, then the first offer.
func (r *room) add(userID string, device []byte, version int64) error {
	pc, err := r.sfu.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	p := &peer{room: r, userID: userID, device: device, pc: pc, version: version, senders: map[*pubTrack]*webrtc.RTPSender{}}
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}
	if r.media == MediaVideo {
		kinds = append(kinds, webrtc.RTPCodecTypeVideo)
	}
	for _, k := range kinds {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			pc.Close()
			return err
		}
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil || p.closing.Load() {
			return
		}
		init := c.ToJSON()
		b, _ := json.Marshal(sfuSignal{Type: "candidate", Candidate: &init})
		p.sigMu.Lock()
		defer p.sigMu.Unlock()
		if p.holding {
			p.held = append(p.held, b)
			return
		}
		r.sfu.send(r.id, userID, device, b)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed && !p.closing.Load() {
			go r.sfu.gone(r.id, userID, device)
		}
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { r.publish(p, remote) })
	r.mu.Lock()
	r.peers[userID] = p
	var existing []*pubTrack
	for _, o := range r.peers {
		if o != p {
			o.mu.Lock()
			existing = append(existing, o.published...)
			o.mu.Unlock()
		}
	}
	r.mu.Unlock()
	for _, t := range existing {
		p.subscribe(t)
	}
	p.negotiate(false)
	return nil
}

// publish starts forwarding a participant's new track to everyone else.
func (r *room) publish(owner *peer, remote *webrtc.TrackRemote) {
	local, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, remote.Kind().String()+"-"+owner.userID, owner.userID)
	if err != nil {
		return
	}
	t := &pubTrack{owner: owner, remote: remote, local: local}
	owner.mu.Lock()
	owner.published = append(owner.published, t)
	owner.mu.Unlock()
	r.enqueue(func() {
		r.mu.Lock()
		var others []*peer
		for _, o := range r.peers {
			if o != owner {
				others = append(others, o)
			}
		}
		r.mu.Unlock()
		for _, o := range others {
			o.subscribe(t)
			o.negotiate(false)
		}
	})
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := remote.Read(buf)
			if err != nil {
				return
			}
			if _, err := local.Write(buf[:n]); err == nil {
				r.sfu.forwarded.Add(1)
			}
		}
	}()
}

// subscribe adds t to p's connection and relays p's picture-loss reports for
// it to the publisher, so a new viewer gets a key frame at once.
func (p *peer) subscribe(t *pubTrack) {
	p.mu.Lock()
	_, dup := p.senders[t]
	p.mu.Unlock()
	if dup {
		return
	}
	// A transceiver of its own, never one of the participant's receive
	// slots (AddTrack would reuse those, and the browser sends on them).
	tr, err := p.pc.AddTransceiverFromTrack(t.local, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return
	}
	sender := tr.Sender()
	p.mu.Lock()
	p.senders[t] = sender
	p.mu.Unlock()
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				switch pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					t.owner.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.remote.SSRC())}})
				}
			}
		}
	}()
	if t.remote.Kind() == webrtc.RTPCodecTypeVideo {
		t.owner.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.remote.SSRC())}})
	}
}

// negotiate sends p a new offer, or marks one pending while an offer waits
// for its answer.
func (p *peer) negotiate(restart bool) {
	if p.closing.Load() {
		return
	}
	p.mu.Lock()
	if p.negotiating {
		p.pending, p.pendingRestart = true, p.pendingRestart || restart
		p.mu.Unlock()
		return
	}
	p.negotiating = true
	n := p.offers + 1
	p.mu.Unlock()
	p.sigMu.Lock()
	p.holding = true
	p.sigMu.Unlock()
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.room.sfu.log.Warn("sfu: offer", "call", p.room.id, "err", err.Error())
		p.sigMu.Lock()
		p.holding, p.held = false, nil
		p.sigMu.Unlock()
		p.mu.Lock()
		p.negotiating = false
		p.mu.Unlock()
		return
	}
	// Numbered only once made: a failed offer leaves the last one's
	// answer welcome.
	p.mu.Lock()
	p.offers = n
	p.mu.Unlock()
	b, _ := json.Marshal(sfuSignal{Type: "offer", SDP: offer.SDP, N: n})
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	p.room.sfu.send(p.room.id, p.userID, p.device, b)
	for _, c := range p.held {
		p.room.sfu.send(p.room.id, p.userID, p.device, c)
	}
	p.holding, p.held = false, nil
}

// remove disconnects p and takes its tracks from everyone else.
func (r *room) remove(p *peer) {
	r.mu.Lock()
	if r.peers[p.userID] == p {
		delete(r.peers, p.userID)
	}
	others := make([]*peer, 0, len(r.peers))
	for _, o := range r.peers {
		others = append(others, o)
	}
	r.mu.Unlock()
	p.close()
	p.mu.Lock()
	gone := p.published
	p.mu.Unlock()
	for _, o := range others {
		changed := false
		for _, t := range gone {
			o.mu.Lock()
			s, ok := o.senders[t]
			delete(o.senders, t)
			o.mu.Unlock()
			if ok {
				o.pc.RemoveTrack(s)
				changed = true
			}
		}
		if changed {
			o.negotiate(false)
		}
	}
}

func (p *peer) close() {
	if p.closing.Swap(true) {
		return
	}
	p.pc.Close()
}

// capBitrates asks each video publisher for at most the per-receiver budget
// shared by the streams each receiver gets.
func (r *room) capBitrates() {
	r.mu.Lock()
	n := len(r.peers)
	var tracks []*pubTrack
	for _, p := range r.peers {
		p.mu.Lock()
		tracks = append(tracks, p.published...)
		p.mu.Unlock()
	}
	r.mu.Unlock()
	if n < 2 {
		return
	}
	limit := min(1_500_000, max(150_000, r.sfu.budget/float64(n-1)))
	for _, t := range tracks {
		if t.remote.Kind() != webrtc.RTPCodecTypeVideo {
			continue
		}
		t.owner.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(limit), SSRCs: []uint32{uint32(t.remote.SSRC())}}})
	}
}
