//go:build linux

package broker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/logging"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
)

// parkServer serves TCP on a loopback port with idleAfter lowered, so that
// connections park after 20 ms of silence. Shutdown runs at cleanup.
func parkServer(t *testing.T, o Options) (*Server, *lockedBuf, string) {
	t.Helper()
	old := idleAfter
	idleAfter = 20 * time.Millisecond
	s, log := testServer(o)
	addr, err := s.Listen(Listener{Network: "tcp4", Addr: "127.0.0.1:0", MaxQoS: 2, MaxConnections: -1,
		Security: Security{AllowAnonymous: true, AllowZeroLengthClientID: true, AutoIDPrefix: "auto-"}})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); s.Serve() }()
	t.Cleanup(func() {
		s.Shutdown()
		<-served
		idleAfter = old
	})
	return s, log, addr.String()
}

func dialTCP(t *testing.T, addr string) *pipeClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &pipeClient{t: t, nc: nc, v: packet.V311}
}

// parkedConns is the number of connections in the poller's map (parked, or
// about to park).
func parkedConns(s *Server) int {
	p := s.park.p.Load()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func waitParked(t *testing.T, s *Server, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d parked connections", n), 5*time.Second, func() bool { return parkedConns(s) == n })
}

// expectClosed reads until the broker closes the socket.
func (p *pipeClient) expectClosed(d time.Duration) {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(d))
	var b [64]byte
	for {
		_, err := p.nc.Read(b[:])
		if errors.Is(err, os.ErrDeadlineExceeded) {
			p.t.Fatalf("still open after %v", d)
		}
		if err != nil {
			return
		}
	}
}

// watchWills connects a client subscribed to will/#.
func watchWills(t *testing.T, addr string) *pipeClient {
	t.Helper()
	watch := dialTCP(t, addr)
	watch.connect(&packet.Connect{ClientID: "watch", CleanStart: true})
	watch.subscribe("will/#", 0)
	return watch
}

// connectWithWill connects id with keepalive ka and a will on will/<id>.
func connectWithWill(t *testing.T, addr, id string, ka uint16) *pipeClient {
	t.Helper()
	c := dialTCP(t, addr)
	c.connect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: ka,
		WillFlag: true, WillTopic: "will/" + id, WillPayload: []byte("gone")})
	return c
}

func (p *pipeClient) expectWill(id string) {
	p.t.Helper()
	if m, ok := p.read().(*packet.Publish); !ok || m.Topic != "will/"+id {
		p.t.Fatalf("got %#v, want the will of %s", m, id)
	}
}

func (p *pipeClient) ping() {
	p.t.Helper()
	p.send(packet.AppendPingreq(nil))
	if _, ok := p.read().(*packet.Pingresp); !ok {
		p.t.Fatal("no PINGRESP")
	}
}

// TestParkIdleConnections: idle connections give up their goroutine, and a
// PINGREQ wakes each one.
func TestParkIdleConnections(t *testing.T) {
	s, _, addr := parkServer(t, DefaultOptions())
	before := runtime.NumGoroutine()
	const n = 100
	cs := make([]*pipeClient, n)
	for i := range cs {
		cs[i] = dialTCP(t, addr)
		cs[i].connect(&packet.Connect{ClientID: fmt.Sprint("idle", i), CleanStart: true, KeepAlive: uint16(i % 2 * 60)})
	}
	waitParked(t, s, n)
	// One goroutine per connection would be n more; parked, there are none
	// (the poller and the expiry loop's are the few left).
	waitFor(t, "the readers to exit", 5*time.Second, func() bool { return runtime.NumGoroutine() < before+10 })
	for _, c := range cs {
		c.ping()
	}
	waitParked(t, s, n)
	for _, c := range cs {
		c.ping()
	}
}

// TestParkedRouting: a PUBLISH from a parked publisher is routed, and
// deliveries are written to a parked subscriber without waking it.
func TestParkedRouting(t *testing.T) {
	s, _, addr := parkServer(t, DefaultOptions())
	sub := dialTCP(t, addr)
	sub.connect(&packet.Connect{ClientID: "sub", CleanStart: true})
	sub.subscribe("t/#", 1)
	pub := dialTCP(t, addr)
	pub.connect(&packet.Connect{ClientID: "pub", CleanStart: true, KeepAlive: 30})
	waitParked(t, s, 2)

	pub.send(packet.AppendPublish(nil, pub.v, &packet.Publish{Topic: "t/a", QoS: 1, PacketID: 7, Payload: []byte("hi")}))
	pub.expectAck(packet.PUBACK, 7)
	p, ok := sub.read().(*packet.Publish)
	if !ok || p.Topic != "t/a" || string(p.Payload) != "hi" || p.QoS != 1 {
		t.Fatalf("got %#v", p)
	}
	sub.send(packet.AppendAck(nil, sub.v, &packet.Ack{Type: packet.PUBACK, PacketID: p.PacketID}))
	sub.ping() // both are awake now: wait until they park again
	waitParked(t, s, 2)

	// From the broker side (a will, a bridge): written while parked.
	s.Publish(&session.Message{Topic: "t/b", Payload: []byte("x")})
	if p, ok := sub.read().(*packet.Publish); !ok || p.Topic != "t/b" {
		t.Fatalf("got %#v", p)
	}
	if n := parkedConns(s); n != 2 {
		t.Fatalf("%d parked after an outbound message, want 2", n)
	}
}

// TestParkedKeepalive: a parked connection is closed at 1.5 x keepalive
// with Mosquitto's line, and its will is published.
func TestParkedKeepalive(t *testing.T) {
	s, log, addr := parkServer(t, DefaultOptions())
	watch := watchWills(t, addr)
	c := connectWithWill(t, addr, "sleepy", 1)
	start := time.Now()
	waitParked(t, s, 2)
	c.expectClosed(5 * time.Second)
	if el := time.Since(start); el < 1400*time.Millisecond || el > 4500*time.Millisecond {
		t.Fatalf("closed after %v, want 1.5 s", el)
	}
	watch.expectWill("sleepy")
	waitFor(t, "the timeout line", 5*time.Second, func() bool {
		return log.count("Client sleepy has exceeded timeout, disconnecting.\n") == 1
	})
}

// TestParkedTakeover: a CONNECT with a parked connection's client id
// closes the parked one and takes its session over.
func TestParkedTakeover(t *testing.T) {
	s, log, addr := parkServer(t, DefaultOptions())
	old := dialTCP(t, addr)
	old.connect(&packet.Connect{ClientID: "dup", KeepAlive: 60})
	old.subscribe("take/#", 1)
	waitParked(t, s, 1)

	nw := dialTCP(t, addr)
	nw.send(packet.AppendConnect(nil, &packet.Connect{ClientID: "dup", KeepAlive: 60, Version: packet.V311, ProtocolLevel: packet.V311}))
	if ack, ok := nw.read().(*packet.Connack); !ok || ack.Code != 0 || !ack.SessionPresent {
		t.Fatalf("CONNACK %#v, want 0 with session present", ack)
	}
	old.expectClosed(5 * time.Second)
	if log.count("Client dup already connected, closing old connection.\n") != 1 {
		t.Fatal("no takeover line")
	}
	s.Publish(&session.Message{Topic: "take/x", QoS: 1, Payload: []byte("y")})
	if p, ok := nw.read().(*packet.Publish); !ok || p.Topic != "take/x" {
		t.Fatalf("got %#v", p)
	}
	// The old connection ended without a line of its own (reference §1.11).
	waitFor(t, "the old connection's end", 5*time.Second, func() bool { return parkedConns(s) <= 1 })
	if log.count("Client dup closed its connection.") != 0 || log.count("Client dup disconnected") != 0 {
		t.Fatal("a disconnect line for the taken-over connection")
	}
}

// TestParkedPeerClose: a client closing its socket while parked is logged
// as before and its will goes out.
func TestParkedPeerClose(t *testing.T) {
	s, log, addr := parkServer(t, DefaultOptions())
	watch := watchWills(t, addr)
	c := connectWithWill(t, addr, "gone", 0)
	waitParked(t, s, 2)
	c.nc.Close()
	watch.expectWill("gone")
	waitFor(t, "the close line", 5*time.Second, func() bool { return log.count("Client gone closed its connection.\n") == 1 })
}

// TestParkedShutdown: Shutdown closes parked connections, waits for their
// cleanup and stops the poller: no goroutine is left behind.
func TestParkedShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	old := idleAfter
	idleAfter = 20 * time.Millisecond
	defer func() { idleAfter = old }()
	s, _ := testServer(DefaultOptions())
	addr, err := s.Listen(Listener{Network: "tcp4", Addr: "127.0.0.1:0", MaxQoS: 2, MaxConnections: -1,
		Security: Security{AllowAnonymous: true}})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); s.Serve() }()
	var cs []*pipeClient
	for i := 0; i < 20; i++ {
		c := dialTCP(t, addr.String())
		c.connect(&packet.Connect{ClientID: fmt.Sprint("down", i), KeepAlive: uint16(i % 2 * 60)})
		cs = append(cs, c)
	}
	waitParked(t, s, 20)
	shutdownWithin(t, s, served, 10*time.Second, "Shutdown did not return")
	if s.park.p.Load() != nil {
		t.Fatal("poller still set")
	}
	for _, c := range cs {
		c.expectClosed(5 * time.Second)
		c.nc.Close()
	}
	waitFor(t, "goroutines to end", 5*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}

// TestSlowPacketDoesNotPark: a connection with half a packet read keeps
// reading; the rest completes it.
func TestSlowPacketDoesNotPark(t *testing.T) {
	s, _, addr := parkServer(t, DefaultOptions())
	c := dialTCP(t, addr)
	c.connect(&packet.Connect{ClientID: "slow", CleanStart: true, KeepAlive: 60})
	b := packet.AppendPublish(nil, c.v, &packet.Publish{Topic: "t", QoS: 1, PacketID: 9, Payload: []byte("payload")})
	c.send(b[:5])
	// The client's pace: a pause of several idleAfter in mid-packet.
	time.Sleep(10 * idleAfter)
	if n := parkedConns(s); n != 0 {
		t.Fatalf("%d parked with a packet half read", n)
	}
	c.send(b[5:])
	c.expectAck(packet.PUBACK, 9)
	waitParked(t, s, 1)
}

// TestParkWakeRaces: clients pinging at about the idle period, so that
// parks race with wakes, and a shutdown at the end; run with -race.
func TestParkWakeRaces(t *testing.T) {
	s, _, addr := parkServer(t, DefaultOptions())
	const n = 20
	parksBefore := parkedConns(s)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		c := dialTCP(t, addr)
		c.connect(&packet.Connect{ClientID: fmt.Sprint("race", i), CleanStart: true, KeepAlive: uint16(i % 2 * 60)})
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 30; j++ {
				// Client behaviour: ping at intervals around idleAfter.
				time.Sleep(idleAfter - 5*time.Millisecond + time.Duration((i+j)%10)*time.Millisecond)
				if _, err := c.nc.Write(packet.AppendPingreq(nil)); err != nil {
					errs <- err
					return
				}
				c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				var resp [2]byte
				if _, err := io.ReadFull(c.nc, resp[:]); err != nil || resp[0] != 0xD0 {
					errs <- fmt.Errorf("client %d ping %d: %v %x", i, j, err, resp)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitParked(t, s, parksBefore+n)
}

// TestParkUnavailable: without a poller nothing parks, and the keepalive
// works from the read deadline alone.
func TestParkUnavailable(t *testing.T) {
	s, log, addr := parkServer(t, DefaultOptions())
	s.park.mu.Lock()
	s.park.failed = true
	s.park.mu.Unlock()
	forever := dialTCP(t, addr)
	forever.connect(&packet.Connect{ClientID: "forever", CleanStart: true})
	c := dialTCP(t, addr)
	c.connect(&packet.Connect{ClientID: "sleepy", CleanStart: true, KeepAlive: 1})
	start := time.Now()
	c.expectClosed(5 * time.Second)
	if el := time.Since(start); el < 1400*time.Millisecond || el > 4500*time.Millisecond {
		t.Fatalf("closed after %v, want 1.5 s", el)
	}
	waitFor(t, "the timeout line", 5*time.Second, func() bool {
		return log.count("Client sleepy has exceeded timeout, disconnecting.\n") == 1
	})
	forever.ping()
	if s.park.p.Load() != nil {
		t.Fatal("a poller was started")
	}
}

// TestPollerDeath: should the poller's wait fail, the connections parked on
// it are woken and served with a plain read, and nothing parks any more.
func TestPollerDeath(t *testing.T) {
	s, _, addr := parkServer(t, DefaultOptions())
	c := dialTCP(t, addr)
	c.connect(&packet.Connect{ClientID: "orphan", CleanStart: true})
	waitParked(t, s, 1)
	p := s.park.p.Load()
	p.f.Close() // not through parkPoller.close: the wait fails
	<-p.done
	if s.park.p.Load() != nil {
		t.Fatal("the dead poller is still the server's")
	}
	c.ping() // woken and reading on
	d := dialTCP(t, addr)
	d.connect(&packet.Connect{ClientID: "later", CleanStart: true})
	time.Sleep(100 * time.Millisecond) // five idle periods: it must not park
	d.ping()
	c.ping()
}

// TestAwakeLateWithBytes: a parked connection woken after its keepalive
// passed is kept when bytes are already waiting on its socket (its wake was
// late, not the client), and dropped when there are none.
func TestAwakeLateWithBytes(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	rc, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{nc: server, keepalive: time.Second, pk: &parking{rc: rc}, connected: true}
	late := func() { c.lastRead = monoNow() - int64(2*time.Second) } // past 1.5 x 1 s

	late()
	if c.bytesWaiting() {
		t.Fatal("bytes reported on a socket nothing was written to")
	}
	if c.awake() {
		t.Fatal("kept after the keepalive with nothing waiting")
	}
	if !errors.Is(c.readErr, os.ErrDeadlineExceeded) {
		t.Fatalf("readErr %v, want the deadline", c.readErr)
	}

	c.readErr = nil
	client.Write(packet.AppendPingreq(nil))
	waitFor(t, "the PINGREQ on the socket", 5*time.Second, c.bytesWaiting)
	late()
	if !c.awake() {
		t.Fatalf("dropped with a packet waiting (readErr %v)", c.readErr)
	}
	var b [2]byte
	if n, err := io.ReadFull(server, b[:]); err != nil || n != 2 {
		t.Fatalf("read %d, %v: the waiting packet must be readable", n, err)
	}
}

// setOneCore makes oneCore report one for the rest of the test.
func setOneCore(t *testing.T, one bool) {
	old := oneCore
	oneCore = func() bool { return one }
	t.Cleanup(func() { oneCore = old })
}

// TestOwnRepliesInOrder: a client pipelines 20,000 QoS 1 PUBLISHes and
// reads nothing until all are sent, with small socket buffers on both
// sides. The PUBACKs fill the sockets, so the reader's own writes
// (flushReplies, on one core) come back short and hand the rest to a writer
// goroutine that blocks; the reader must read on regardless (or the
// client's write times out), and every PUBACK must arrive once, in order.
// Both ways of writing replies: the reader's (one core) and the writer's.
func TestOwnRepliesInOrder(t *testing.T) {
	for _, one := range []bool{true, false} {
		t.Run(fmt.Sprintf("oneCore=%v", one), func(t *testing.T) {
			setOneCore(t, one)
			s, _, addr := parkServer(t, DefaultOptions())
			s.log.Configure(logging.Options{}) // no destination: 40,000 lines not formatted
			p := dialTCP(t, addr)
			p.nc.(*net.TCPConn).SetReadBuffer(4096)
			p.connect(&packet.Connect{ClientID: "flood", CleanStart: true})
			s.mu.Lock()
			ss := s.sessions["flood"]
			s.mu.Unlock()
			ss.Mu.Lock()
			c := ss.Conn.(*conn)
			ss.Mu.Unlock()
			// A fixed send buffer: no autotuning to hold all the PUBACKs.
			rc, err := c.nc.(syscall.Conn).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096) })

			const n = 20000
			id := func(i int) uint16 { return uint16(i%65535 + 1) }
			var out, want []byte
			for i := 0; i < n; i++ {
				out = packet.AppendPublish(out, packet.V311, &packet.Publish{QoS: 1, PacketID: id(i), Topic: "t"})
				want = append(want, 0x40, 2, byte(id(i)>>8), byte(id(i)))
			}
			p.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := p.nc.Write(out); err != nil {
				t.Fatalf("the broker stopped reading while its replies waited: %v", err)
			}
			got := make([]byte, len(want))
			p.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			if k, err := io.ReadFull(p.nc, got); err != nil {
				t.Fatalf("read %d of %d PUBACK bytes: %v", k, len(want), err)
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("PUBACK %d: got % x, want % x", i/4, got[i/4*4:i/4*4+4], want[i/4*4:i/4*4+4])
			}
			if !p.quietFor(50 * time.Millisecond) {
				t.Fatal("bytes after the last PUBACK")
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
