//go:build linux

package broker

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// acceptServer listens on loopback with idleAfter set to an hour, so that
// no reader parks: a connection found parked was never given one (its
// CONNECT was handled on the accepting or the poller's goroutine,
// accept_linux.go). serve starts accepting, so that a test can queue
// sockets and bytes before the first accept.
func acceptServer(t *testing.T, o Options, sec Security) (s *Server, log *lockedBuf, addr string, serve func()) {
	t.Helper()
	old := idleAfter
	idleAfter = time.Hour
	s, log = testServer(o)
	a, err := s.Listen(Listener{Network: "tcp4", Addr: "127.0.0.1:0", MaxQoS: 2, MaxConnections: -1, Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	started := false
	t.Cleanup(func() {
		if !started {
			go s.Serve()
		}
		s.Shutdown()
		if started {
			<-served
		}
		idleAfter = old
	})
	return s, log, a.String(), func() {
		started = true
		go func() { defer close(served); s.Serve() }()
	}
}

var anonymous = Security{AllowAnonymous: true}

func connectBytes(id string) []byte {
	return packet.AppendConnect(nil, &packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
		Version: packet.V311, ProtocolLevel: packet.V311})
}

func (p *pipeClient) expectConnack(code packet.ReasonCode) {
	p.t.Helper()
	ack, ok := p.read().(*packet.Connack)
	if !ok || ack.Code != code {
		p.t.Fatalf("got %#v, want CONNACK %d", ack, code)
	}
}

// readPiece waits until the broker has read n bytes in all, so that what
// the client sends next arrives as a separate piece.
func readPiece(t *testing.T, s *Server, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprint(n, " bytes read"), 5*time.Second, func() bool { return s.Stats.BytesReceived.Load() >= n })
}

// shutdownWithin runs Shutdown and waits at most d for it and Serve
// (closing served) to return.
func shutdownWithin(t *testing.T, s *Server, served <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { s.Shutdown(); <-served; close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatal(what)
	}
}

// TestConnectOnAccept: a CONNECT already on the socket when it is accepted
// is answered without a reader goroutine, and so is one that comes after
// the accept (the socket waits in the poller for it); the connections are
// parked right after their CONNACK and read on when woken.
func TestConnectOnAccept(t *testing.T) {
	s, log, addr, serve := acceptServer(t, DefaultOptions(), anonymous)
	early := dialTCP(t, addr)
	early.send(connectBytes("early")) // queued before the first accept
	serve()
	early.expectConnack(0)
	waitParked(t, s, 1)
	if a, p := s.connectPaths.accept.Load(), s.connectPaths.poll.Load(); a != 1 || p != 0 {
		t.Fatalf("CONNECTs handled at accept %d, on the poller %d; want 1, 0", a, p)
	}

	late := dialTCP(t, addr)
	sendWhenParked(t, s, late, connectBytes("late")) // parked before its CONNECT
	late.expectConnack(0)
	waitParked(t, s, 2)
	if a, p := s.connectPaths.accept.Load(), s.connectPaths.poll.Load(); a != 1 || p != 1 {
		t.Fatalf("CONNECTs handled at accept %d, on the poller %d; want 1, 1", a, p)
	}

	// Woken by their next packets, they read on as usual.
	late.subscribe("t/#", 1)
	early.send(packet.AppendPublish(nil, early.v, &packet.Publish{Topic: "t/x", QoS: 1, PacketID: 3, Payload: []byte("p")}))
	early.expectAck(packet.PUBACK, 3)
	if p, ok := late.read().(*packet.Publish); !ok || p.Topic != "t/x" || string(p.Payload) != "p" {
		t.Fatalf("got %#v", p)
	}
	for _, id := range []string{"early", "late"} {
		if log.count("New client connected from 127.0.0.1:") == 0 || log.count(" as "+id+" (p2, c1, k60).\n") != 1 {
			t.Fatalf("no connect line for %s", id)
		}
	}
}

// TestConnectPipelined: packets sent with the CONNECT, in the same write,
// are read and answered in order after the CONNACK.
func TestConnectPipelined(t *testing.T) {
	s, _, addr, serve := acceptServer(t, DefaultOptions(), anonymous)
	c := dialTCP(t, addr)
	b := connectBytes("pipelined")
	b = packet.AppendSubscribe(b, packet.V311, &packet.Subscribe{PacketID: 5,
		Subscriptions: []packet.Subscription{{Filter: "a/b", Options: packet.SubOptions{QoS: 1}}}})
	b = packet.AppendPingreq(b)
	c.send(b)
	serve()
	c.expectConnack(0)
	if sa, ok := c.read().(*packet.Suback); !ok || sa.PacketID != 5 {
		t.Fatalf("got %#v, want SUBACK 5", sa)
	}
	if _, ok := c.read().(*packet.Pingresp); !ok {
		t.Fatal("no PINGRESP")
	}
	if n := s.connectPaths.accept.Load(); n != 1 {
		t.Fatalf("%d CONNECTs handled at accept, want 1", n)
	}
}

// TestConnectInPieces: a CONNECT that arrives a few bytes at a time, or
// larger than the peek, is left to the reader, which answers it as before.
func TestConnectInPieces(t *testing.T) {
	s, _, addr, serve := acceptServer(t, DefaultOptions(), anonymous)
	serve()
	c := dialTCP(t, addr)
	b := connectBytes("pieces")
	c.send(b[:3])
	readPiece(t, s, 3)
	c.send(b[3:])
	c.expectConnack(0)

	big := dialTCP(t, addr)
	big.send(packet.AppendConnect(nil, &packet.Connect{ClientID: "big", CleanStart: true, Version: packet.V311,
		ProtocolLevel: packet.V311, UsernameFlag: true, Username: strings.Repeat("u", 2*connectPeek)}))
	big.expectConnack(0)
	if a, p, l := s.connectPaths.accept.Load(), s.connectPaths.poll.Load(), s.connectPaths.later.Load(); a+p+l != 0 {
		t.Fatalf("CONNECTs handled without their reader: %d at accept, %d on the poller, %d handed over", a, p, l)
	}
}

// TestConnectTimeoutWhileParked: a socket that sends nothing is closed at
// connect_timeout with the same line as one that sent half a CONNECT and
// kept its reader; one that sends something else first is a protocol error.
func TestConnectTimeoutWhileParked(t *testing.T) {
	o := DefaultOptions()
	o.ConnectTimeout = 300 * time.Millisecond
	s, log, addr, serve := acceptServer(t, o, anonymous)
	serve()
	start := time.Now()
	silent := dialTCP(t, addr)
	half := dialTCP(t, addr)
	half.send([]byte{0x10}) // a CONNECT's first byte
	waitFor(t, "the silent socket to park", 5*time.Second, func() bool { return parkedConns(s) >= 1 })
	silent.expectClosed(5 * time.Second)
	half.expectClosed(5 * time.Second)
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("closed after %v, before connect_timeout", el)
	}
	waitFor(t, "two timeout lines", 5*time.Second, func() bool {
		return log.count("Client <unknown> has exceeded timeout, disconnecting.\n") == 2
	})

	other := dialTCP(t, addr)
	other.send(packet.AppendPingreq(nil))
	other.expectClosed(5 * time.Second)
	waitFor(t, "the protocol error line", 5*time.Second, func() bool {
		return log.count("Client <unknown> disconnected due to protocol error.\n") == 1
	})
}

// denyBad refuses the username "bad" and counts its Login calls; with
// quick, it says its Login is cheap (QuickLogin), as one without a password
// file does.
type denyBad struct {
	quick bool
	calls *atomic.Int64
}

func (d denyBad) Login(c Client, _ []byte, _ bool) bool {
	d.calls.Add(1)
	return c.Username != "bad"
}
func (denyBad) Allow(Client, string, Access) bool { return true }

type quickDenyBad struct{ denyBad }

func (quickDenyBad) QuickLogin(Client) bool { return true }

// TestRefusedLoginOnAccept: a refused login still waits loginFailDelay
// before its CONNACK, on a goroutine of its own: a client connecting
// meanwhile is answered at once. A login that hashes a password is never
// made on the accepting goroutine (each CONNECT calls Login once); a quick
// one is, and only a refusal is handed over.
func TestRefusedLoginOnAccept(t *testing.T) {
	old := loginFailDelay
	loginFailDelay = 500 * time.Millisecond
	defer func() { loginFailDelay = old }()
	for _, quick := range []bool{false, true} {
		t.Run(fmt.Sprint("quick=", quick), func(t *testing.T) {
			var calls atomic.Int64
			var au Auth = denyBad{calls: &calls}
			if quick {
				au = quickDenyBad{denyBad{calls: &calls}}
			}
			s, log, addr, serve := acceptServer(t, DefaultOptions(), Security{Auth: au})
			bad := dialTCP(t, addr)
			bad.send(packet.AppendConnect(nil, &packet.Connect{ClientID: "b", CleanStart: true, Version: packet.V311,
				ProtocolLevel: packet.V311, UsernameFlag: true, Username: "bad"}))
			start := time.Now()
			serve()
			good := dialTCP(t, addr)
			good.send(packet.AppendConnect(nil, &packet.Connect{ClientID: "g", CleanStart: true, Version: packet.V311,
				ProtocolLevel: packet.V311, UsernameFlag: true, Username: "good"}))
			good.expectConnack(0)
			if el := time.Since(start); el >= loginFailDelay {
				t.Fatalf("the good client waited %v, behind the refused one", el)
			}
			bad.expectConnack(packet.ConnRefusedNotAuth)
			if el := time.Since(start); el < loginFailDelay {
				t.Fatalf("refused after %v, want at least %v", el, loginFailDelay)
			}
			bad.expectClosed(5 * time.Second)
			waitFor(t, "the refusal's lines", 5*time.Second, func() bool {
				return log.count("Client b disconnected, not authorised.\n") == 1
			})
			inline := s.connectPaths.accept.Load() + s.connectPaths.poll.Load()
			later := s.connectPaths.later.Load()
			if quick {
				if inline != 1 || later != 1 {
					t.Fatalf("quick login: %d CONNECTs handled inline, %d handed over; want 1, 1", inline, later)
				}
			} else if inline != 0 || later != 2 || calls.Load() != 2 {
				t.Fatalf("password login: %d inline, %d handed over, %d Login calls; want 0, 2, 2", inline, later, calls.Load())
			}
		})
	}
}

// blockingAuth holds the Login of username "slow" until release is closed.
type blockingAuth struct{ entered, release chan struct{} }

func (b blockingAuth) Login(c Client, _ []byte, _ bool) bool {
	if c.Username == "slow" {
		close(b.entered)
		<-b.release
	}
	return true
}
func (blockingAuth) Allow(Client, string, Access) bool { return true }

// QuickLogin: all but "slow" (whose login stands for a password hash).
func (blockingAuth) QuickLogin(c Client) bool { return c.Username != "slow" }

// sendWhenParked sends b (a CONNECT) once the broker has parked p's
// connection to wait for it, so that the poller's goroutine handles it.
// Sent earlier, it could arrive while the connection is being parked, and
// a reader goroutine would take it instead: correct too, but not the path
// these tests are about (a CONNECT handled without a reader, a slow one
// handed over), and with idleAfter an hour that reader does not park.
func sendWhenParked(t *testing.T, s *Server, p *pipeClient, b []byte) {
	t.Helper()
	port := p.nc.LocalAddr().(*net.TCPAddr).Port
	waitFor(t, "the connection parked", 5*time.Second, func() bool {
		s.acceptedMu.Lock()
		defer s.acceptedMu.Unlock()
		for c := range s.accepted {
			if c.port == port && c.state.Load() == stateParked {
				return true
			}
		}
		return false
	})
	p.send(b)
}

// TestSlowConnectHoldsNoOneUp: a CONNECT whose login takes long, or that
// finds the sessions' lock held, is finished on its own goroutine: a
// parked client is served and new clients are answered meanwhile.
func TestSlowConnectHoldsNoOneUp(t *testing.T) {
	au := blockingAuth{entered: make(chan struct{}), release: make(chan struct{})}
	released := false
	defer func() {
		if !released { // a failure below: let the login end, for Shutdown
			close(au.release)
		}
	}()
	s, _, addr, serve := acceptServer(t, DefaultOptions(), Security{AllowAnonymous: true, Auth: au})
	serve()
	idle := dialTCP(t, addr)
	sendWhenParked(t, s, idle, connectBytes("idle"))
	idle.expectConnack(0)
	waitParked(t, s, 1)

	slow := dialTCP(t, addr)
	sendWhenParked(t, s, slow, packet.AppendConnect(nil, &packet.Connect{ClientID: "s", CleanStart: true, Version: packet.V311,
		ProtocolLevel: packet.V311, UsernameFlag: true, Username: "slow"}))
	<-au.entered
	idle.ping() // woken by the poller and answered while the login waits
	quick := dialTCP(t, addr)
	quick.connect(&packet.Connect{ClientID: "q", CleanStart: true})
	released = true
	close(au.release)
	slow.expectConnack(0)

	// The sessions' lock held: the CONNECT is handed over, not waited for.
	s.mu.Lock()
	held := true
	defer func() {
		if held { // a failure below: Shutdown needs the lock
			s.mu.Unlock()
		}
	}()
	locked := dialTCP(t, addr)
	sendWhenParked(t, s, locked, connectBytes("locked"))
	waitFor(t, "the CONNECT handed over", 5*time.Second, func() bool { return s.connectPaths.later.Load() == 2 })
	idle.ping()
	held = false
	s.mu.Unlock()
	locked.expectConnack(0)
}

// TestShutdownBeforeConnect: Shutdown closes sockets that have not sent
// their CONNECT, parked or held by a reader, rather than waiting for
// connect_timeout (90 s by default).
func TestShutdownBeforeConnect(t *testing.T) {
	s, _ := testServer(DefaultOptions())
	addr, err := s.Listen(Listener{Network: "tcp4", Addr: "127.0.0.1:0", MaxQoS: 2, MaxConnections: -1, Security: anonymous})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); s.Serve() }()
	silent := dialTCP(t, addr.String())
	half := dialTCP(t, addr.String())
	half.send([]byte{0x10}) // keeps a reader waiting for the rest
	waitFor(t, "both sockets accepted", 5*time.Second, func() bool {
		s.acceptedMu.Lock()
		defer s.acceptedMu.Unlock()
		return len(s.accepted) == 2
	})
	shutdownWithin(t, s, served, 5*time.Second, "Shutdown waited for sockets that sent no CONNECT")
	silent.expectClosed(5 * time.Second)
	half.expectClosed(5 * time.Second)
}

// TestConnectTimeoutZero: connect_timeout 0 is no limit, for a CONNECT that
// comes in pieces (the reader's path) as for a socket parked before it.
func TestConnectTimeoutZero(t *testing.T) {
	o := DefaultOptions()
	o.ConnectTimeout = 0
	s, _, addr, serve := acceptServer(t, o, anonymous)
	serve()
	silent := dialTCP(t, addr)
	waitParked(t, s, 1) // parked before its CONNECT, with no timer
	c := dialTCP(t, addr)
	b := connectBytes("zero")
	c.send(b[:3])
	readPiece(t, s, 3) // past the accept time the old deadline was set to
	c.send(b[3:])
	c.expectConnack(0)
	silent.send(connectBytes("silent"))
	silent.expectConnack(0)
}

// TestShutdownDuringConnect: Shutdown fails a connection whose CONNECT is
// still being handled (here waiting in a password check on its own
// goroutine); run with -race, this caught fail reading the protocol
// version unordered against the CONNECT writing it.
func TestShutdownDuringConnect(t *testing.T) {
	au := blockingAuth{entered: make(chan struct{}), release: make(chan struct{})}
	released := false
	defer func() {
		if !released {
			close(au.release)
		}
	}()
	s, _, addr, serve := acceptServer(t, DefaultOptions(), Security{AllowAnonymous: true, Auth: au})
	serve()
	slow := dialTCP(t, addr)
	sendWhenParked(t, s, slow, packet.AppendConnect(nil, &packet.Connect{ClientID: "s", CleanStart: true, Version: packet.V5,
		ProtocolLevel: packet.V5, UsernameFlag: true, Username: "slow"}))
	// Not <-au.entered: that would order the CONNECT's work before
	// Shutdown, which is what the race detector must see unordered.
	waitFor(t, "the CONNECT handed over", 5*time.Second, func() bool { return s.connectPaths.later.Load() == 1 })
	done := make(chan struct{})
	go func() { s.Shutdown(); close(done) }()
	waitFor(t, "Shutdown to fail the connection", 5*time.Second, func() bool {
		s.acceptedMu.Lock()
		defer s.acceptedMu.Unlock()
		for c := range s.accepted {
			if c.reason.Load() == int32(reasonShutdown) {
				return true
			}
		}
		return false
	})
	released = true
	close(au.release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return once the login ended")
	}
	slow.expectClosed(5 * time.Second)
}
