package broker

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/logging"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
)

// lockedBuf is a log sink the test can read while the broker writes.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func testServer(o Options) (*Server, *lockedBuf) {
	buf := &lockedBuf{}
	return New(logging.NewWriter(buf, logging.Options{Types: logcat.All, ConnectionMessages: true}), o), buf
}

// pipeClient is one end of a net.Pipe served by a broker connection.
type pipeClient struct {
	t  *testing.T
	nc net.Conn
	v  byte
}

func dialPipe(t *testing.T, s *Server) *pipeClient {
	t.Helper()
	return dialPipeSec(t, s, Security{AllowAnonymous: true, AllowZeroLengthClientID: true, AutoIDPrefix: "auto-"})
}

// dialPipeSec serves one end of a pipe as a connection on a listener with
// security sec, and returns a client on the other end.
func dialPipeSec(t *testing.T, s *Server, sec Security) *pipeClient {
	t.Helper()
	l := &listener{spec: Listener{MaxQoS: 2, MaxConnections: -1}}
	l.sec.Store(&sec)
	a, b := net.Pipe()
	c := newConn(s, l, a, "127.0.0.1", 1)
	s.conns.Add(1) // conn.end
	done := make(chan struct{})
	go func() { defer close(done); c.serve() }()
	t.Cleanup(func() { b.Close(); <-done })
	return &pipeClient{t: t, nc: b, v: packet.V311}
}

func (p *pipeClient) send(b []byte) {
	p.t.Helper()
	p.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *pipeClient) read() any {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr []byte
	var one [1]byte
	for {
		if _, err := io.ReadFull(p.nc, one[:]); err != nil {
			p.t.Fatalf("read: %v", err)
		}
		hdr = append(hdr, one[0])
		first, rem, n, err := packet.ParseFixedHeader(hdr)
		if err != nil {
			p.t.Fatal(err)
		}
		if n == 0 {
			continue
		}
		body := make([]byte, rem)
		if _, err := io.ReadFull(p.nc, body); err != nil {
			p.t.Fatalf("read: %v", err)
		}
		pk, err := packet.Decode(first, body, p.v)
		if err != nil {
			p.t.Fatal(err)
		}
		return pk
	}
}

func (p *pipeClient) connect(c *packet.Connect) {
	p.t.Helper()
	if c.Version == 0 {
		c.Version = packet.V311
	}
	c.ProtocolLevel = c.Version
	p.v = c.Version
	p.send(packet.AppendConnect(nil, c))
	if ack, ok := p.read().(*packet.Connack); !ok || ack.Code != 0 {
		p.t.Fatalf("CONNACK %#v", ack)
	}
}

func (p *pipeClient) subscribe(filter string, qos byte) {
	p.t.Helper()
	p.send(packet.AppendSubscribe(nil, p.v, &packet.Subscribe{PacketID: 1,
		Subscriptions: []packet.Subscription{{Filter: filter, Options: packet.SubOptions{QoS: qos}}}}))
	if _, ok := p.read().(*packet.Suback); !ok {
		p.t.Fatal("no SUBACK")
	}
}

func (p *pipeClient) expectAck(t packet.Type, mid uint16) *packet.Ack {
	p.t.Helper()
	a, ok := p.read().(*packet.Ack)
	if !ok || a.Type != t || a.PacketID != mid {
		p.t.Fatalf("expected %v %d, got %#v", t, mid, a)
	}
	return a
}

func drops(s *Server) [NumDropCauses]int64 {
	var d [NumDropCauses]int64
	for i := range d {
		d[i] = s.Stats.Dropped[i].Load()
	}
	return d
}

// TestDropCounterOfflineSession: the offline causes are counted per reason,
// and only the queue limit logs Mosquitto's NOTICE, once until the next
// CONNECT.
func TestDropCounterOfflineSession(t *testing.T) {
	o := DefaultOptions()
	o.Limits = session.Limits{MaxQueued: 1}
	s, log := testServer(o)
	ss := session.New("off", o.Limits)
	m := &session.Message{Topic: "t", Payload: []byte("x"), QoS: 1}
	s.deliver(ss, &session.Message{Topic: "t", Payload: []byte("x")}, 0, false, nil, 0)
	s.deliver(ss, m, 1, false, nil, 0) // queued
	s.deliver(ss, m, 1, false, nil, 0) // dropped
	s.deliver(ss, m, 2, false, nil, 0) // dropped
	d := drops(s)
	if d[DropQoS0Offline] != 1 || d[DropQueueFull] != 2 || s.Stats.DroppedTotal() != 3 {
		t.Fatalf("drops %v", d)
	}
	if n := log.count("Outgoing messages are being dropped for client off.\n"); n != 1 {
		t.Fatalf("drop line logged %d times, want 1", n)
	}
}

// TestDropCounterMessageTooLarge: message_size_limit drops are counted and
// the publisher still gets its PUBACK.
func TestDropCounterMessageTooLarge(t *testing.T) {
	o := DefaultOptions()
	o.MessageSizeLimit = 4
	s, log := testServer(o)
	c := dialPipe(t, s)
	c.connect(&packet.Connect{ClientID: "big", CleanStart: true})
	c.send(packet.AppendPublish(nil, c.v, &packet.Publish{Topic: "t", QoS: 1, PacketID: 3, Payload: []byte("12345")}))
	c.expectAck(packet.PUBACK, 3)
	if d := drops(s); d[DropMessageTooLarge] != 1 || s.Stats.DroppedTotal() != 1 {
		t.Fatalf("drops %v", d)
	}
	if log.count("Dropped too large PUBLISH from big (d0, q1, r0, m3, 't', ... (5 bytes))") != 1 {
		t.Fatal("no Dropped too large line")
	}
}

// TestDropCounterInboundQuota: an inbound QoS 2 beyond the receive quota
// (max_inflight_messages) is acknowledged and dropped.
func TestDropCounterInboundQuota(t *testing.T) {
	o := DefaultOptions()
	o.Limits.MaxInflight = 1
	s, _ := testServer(o)
	c := dialPipe(t, s)
	c.connect(&packet.Connect{ClientID: "quota", CleanStart: true, Version: packet.V5})
	for mid := uint16(1); mid <= 2; mid++ {
		c.send(packet.AppendPublish(nil, c.v, &packet.Publish{Topic: "t", QoS: 2, PacketID: mid, Payload: []byte("x")}))
	}
	c.expectAck(packet.PUBREC, 1)
	if a := c.expectAck(packet.PUBREC, 2); a.Code != packet.QuotaExceeded {
		t.Fatalf("PUBREC code %#x, want 0x97", a.Code)
	}
	if d := drops(s); d[DropInboundQuota] != 1 || s.Stats.DroppedTotal() != 1 {
		t.Fatalf("drops %v", d)
	}
}

// TestDropCounterPacketTooLarge: a v5 client's Maximum Packet Size drops
// larger outbound publishes.
func TestDropCounterPacketTooLarge(t *testing.T) {
	s, log := testServer(DefaultOptions())
	c := dialPipe(t, s)
	c.connect(&packet.Connect{ClientID: "small", CleanStart: true, Version: packet.V5,
		Props: packet.Properties{MaximumPacketSize: 30, HasMaximumPacketSize: true}})
	c.subscribe("t", 1)
	s.Publish(&session.Message{Topic: "t", QoS: 1, Payload: make([]byte, 40)})
	if d := drops(s); d[DropPacketTooLarge] != 1 {
		t.Fatalf("drops %v", d)
	}
	if log.count("Dropping too large outgoing PUBLISH for small (") != 1 {
		t.Fatal("no Dropping too large outgoing line")
	}
	// The window slot was given back: a small message still goes out.
	s.Publish(&session.Message{Topic: "t", QoS: 1, Payload: []byte("ok")})
	if p, ok := c.read().(*packet.Publish); !ok || string(p.Payload) != "ok" {
		t.Fatalf("got %#v", p)
	}
}

// TestDropCounterOutboundFull: QoS 0 to a connection whose unsent bytes
// reached the bound is dropped and counted (the reader of the pipe is
// stalled, so nothing drains).
func TestDropCounterOutboundFull(t *testing.T) {
	o := DefaultOptions()
	o.MaxOutboundBytes = 64
	s, log := testServer(o)
	c := dialPipe(t, s)
	c.connect(&packet.Connect{ClientID: "slow", CleanStart: true})
	c.subscribe("t", 0)
	for i := 0; i < 20; i++ {
		s.Publish(&session.Message{Topic: "t", Payload: make([]byte, 40)})
	}
	if d := drops(s); d[DropOutboundFull] == 0 || d[DropOutboundFull] != s.Stats.DroppedTotal() {
		t.Fatalf("drops %v", d)
	}
	if n := log.count("Outgoing messages are being dropped for client slow.\n"); n != 1 {
		t.Fatalf("drop line logged %d times, want 1", n)
	}
}

// TestExpirySessions: persistent_client_expiration removes an offline
// persistent session with Mosquitto's NOTICE, and its subscriptions.
func TestExpirySessions(t *testing.T) {
	o := DefaultOptions()
	o.PersistentClientExpiry = time.Hour
	s, log := testServer(o)
	c := dialPipe(t, s)
	c.connect(&packet.Connect{ClientID: "pce", CleanStart: false})
	c.subscribe("x", 1)
	c.send(packet.AppendDisconnect(nil, c.v, &packet.Disconnect{}))
	deadline := time.Now().Add(5 * time.Second)
	for log.count("Client pce disconnected.") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no disconnect line")
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	now := time.Now().Unix()
	s.expireSessions(now + 3598)
	if s.SessionCount() != 1 {
		t.Fatal("expired before persistent_client_expiration")
	}
	s.expireSessions(now + 3601)
	if s.SessionCount() != 0 || s.Stats.ClientsExpired.Load() != 1 {
		t.Fatalf("sessions %d, expired %d", s.SessionCount(), s.Stats.ClientsExpired.Load())
	}
	if log.count("Expiring client pce due to timeout.\n") != 1 {
		t.Fatal("no expiry line")
	}
	if n, _ := s.subs.Count(); n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
}

func TestDropCauseNames(t *testing.T) {
	seen := map[string]bool{}
	for d := DropCause(0); d < NumDropCauses; d++ {
		n := d.String()
		if n == "" || seen[n] {
			t.Fatalf("cause %d name %q", d, n)
		}
		seen[n] = true
	}
}
