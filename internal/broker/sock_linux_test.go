//go:build linux && !386 && !s390x

package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/midgemq/midge/internal/packet"
)

// sockOf returns the socket behind a connected client's session.
func sockOf(t *testing.T, s *Server, id string) *sock {
	t.Helper()
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil {
		t.Fatalf("no session %q", id)
	}
	ss.Mu.Lock()
	c, _ := ss.Conn.(*conn)
	ss.Mu.Unlock()
	if c == nil {
		t.Fatalf("session %q has no connection", id)
	}
	sk, ok := c.nc.(*sock)
	if !ok {
		t.Fatalf("connection of %q is a %T, want the raw accept's *sock", id, c.nc)
	}
	return sk
}

func (sk *sock) isRaw() bool {
	sk.mu.RLock()
	defer sk.mu.RUnlock()
	return sk.f.Load() == nil && !sk.closed
}

func sockOpt(t *testing.T, sk *sock, level, opt int) int {
	t.Helper()
	rc, _ := sk.SyscallConn()
	var v int
	var err error
	if cerr := rc.Control(func(fd uintptr) { v, err = syscall.GetsockoptInt(int(fd), level, opt) }); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRawAccept: a plain TCP listener accepts with rawAccept4. The socket
// has the peer's address, TCP_NODELAY as set_tcp_nodelay says (off by
// default, as in Mosquitto), and stays a bare descriptor through a CONNECT
// handled without a reader and the park after it; the next packet is
// served as ever.
func TestRawAccept(t *testing.T) {
	for _, nodelay := range []bool{false, true} {
		t.Run(fmt.Sprintf("set_tcp_nodelay=%v", nodelay), func(t *testing.T) { testRawAccept(t, nodelay) })
	}
}

func testRawAccept(t *testing.T, nodelay bool) {
	o := DefaultOptions()
	o.SetTCPNoDelay = nodelay
	s, _, addr := parkServer(t, o)
	p := dialTCP(t, addr)
	p.connect(&packet.Connect{ClientID: "raw", CleanStart: true, KeepAlive: 60})
	sk := sockOf(t, s, "raw")
	if got, want := sk.RemoteAddr().String(), p.nc.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr %s, want the client's %s", got, want)
	}
	if on := sockOpt(t, sk, syscall.IPPROTO_TCP, syscall.TCP_NODELAY) != 0; on != nodelay {
		t.Errorf("set_tcp_nodelay %v: TCP_NODELAY is %v", nodelay, on)
	}
	waitFor(t, "the connection parked", 5*time.Second, func() bool { return parkedConns(s) == 1 })
	if !sk.isRaw() {
		t.Error("a client parked after its CONNECT has had its socket opened for Go's poller")
	}
	p.ping()
	p.subscribe("a/#", 1)
	p.send(packet.AppendPublish(nil, packet.V311, &packet.Publish{QoS: 1, PacketID: 7, Topic: "a/b", Payload: []byte("x")}))
	got := 0
	for i := 0; i < 2; i++ { // the PUBACK and the delivery, in either order
		switch m := p.read().(type) {
		case *packet.Ack:
			if m.Type == packet.PUBACK && m.PacketID == 7 {
				got++
			}
		case *packet.Publish:
			if m.Topic == "a/b" && string(m.Payload) == "x" {
				got++
			}
		}
	}
	if got != 2 {
		t.Fatal("no PUBACK and delivery for a QoS 1 PUBLISH")
	}
}

// rawPair accepts one connection with a sockAccepter and returns it with
// its client end.
func rawPair(t *testing.T) (*sock, net.Conn) {
	t.Helper()
	sk, cl, err := rawPairOn(t, "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return sk, cl
}

// rawPairOn is rawPair on a given network; err: it cannot listen there.
func rawPairOn(t *testing.T, network, addr string) (*sock, net.Conn, error) {
	t.Helper()
	ln, err := ListenSocket(network, addr)
	if err != nil {
		return nil, nil, err
	}
	a := newSockAccepter(ln, rawSetNoDelayIgnore)
	if a == nil {
		t.Fatal("no raw accept for a TCP listener")
	}
	t.Cleanup(func() { ln.Close(); a.Close() })
	cl, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	nc, err := a.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc.(*sock), cl, nil
}

// TestSockRawIO: what is already there is read, and what goes out at
// once written, without opening the socket; the peer's close reads as
// io.EOF, raw too.
func TestSockRawIO(t *testing.T) {
	sk, cl := rawPair(t)
	cl.Write([]byte("ping"))
	waitFor(t, "the bytes on the socket", 5*time.Second, func() bool {
		var b [1]byte
		rc, _ := sk.SyscallConn()
		n := 0
		rc.Control(func(fd uintptr) { n, _ = rawRecv(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT) })
		return n > 0
	})
	var b [8]byte
	if n, err := sk.Read(b[:]); err != nil || string(b[:n]) != "ping" {
		t.Fatalf("read %q, %v", b[:n], err)
	}
	if _, err := sk.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.ReadFull(cl, b[:4]); err != nil || string(b[:n]) != "pong" {
		t.Fatalf("client read %q, %v", b[:n], err)
	}
	cl.Close()
	waitFor(t, "the peer's close", 5*time.Second, func() bool {
		_, err, ok := sk.readRaw(b[:])
		return ok && err == io.EOF
	})
	if !sk.isRaw() {
		t.Fatal("reads and writes that did not wait opened the socket")
	}
}

// TestSockOpen: a read that must wait opens the socket for Go's poller; a
// deadline set while the socket was raw takes effect then; reads and
// writes work through the poller after.
func TestSockOpen(t *testing.T) {
	sk, cl := rawPair(t)
	sk.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var w [1]byte
	if _, err := sk.Read(w[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with nothing sent: %v, want the deadline", err)
	}
	if sk.isRaw() {
		t.Fatal("a read that waited did not open the socket")
	}
	sk, cl = rawPair(t)
	if err := sk.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if !sk.isRaw() {
		t.Fatal("a deadline opened the socket")
	}
	var b [4]byte
	if _, err := sk.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline set while raw: %v", err)
	}
	if sk.isRaw() {
		t.Fatal("a read did not open the socket")
	}
	sk.SetReadDeadline(time.Now().Add(5 * time.Second))
	cl.Write([]byte("ping"))
	if n, err := sk.Read(b[:]); err != nil || string(b[:n]) != "ping" {
		t.Fatalf("read %q, %v", b[:n], err)
	}
	if _, err := sk.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := cl.Read(b[:]); err != nil || string(b[:n]) != "pong" {
		t.Fatalf("client read %q, %v", b[:n], err)
	}
}

// openedPair is rawPair with the socket opened (in Go's poller), as a
// read that found nothing leaves it.
func openedPair(t *testing.T) (*sock, net.Conn) {
	t.Helper()
	sk, cl := rawPair(t)
	sk.SetReadDeadline(time.Now().Add(-time.Second))
	var b [1]byte
	_, err := sk.Read(b[:])
	var pe *os.PathError
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &pe) || pe.Op != "read" {
		t.Fatalf("read past its deadline: %v; want a read error, the deadline", err)
	}
	sk.SetReadDeadline(time.Time{})
	if sk.isRaw() {
		t.Fatal("a read past its deadline did not open the socket")
	}
	return sk, cl
}

// waitIOWait waits until a goroutine whose stack names every one of fns
// waits in the netpoller.
func waitIOWait(t *testing.T, fns ...string) {
	t.Helper()
	waitFor(t, strings.Join(fns, " in ")+" waiting in the netpoller", 5*time.Second, func() bool {
		return goroutineIn(append([]string{"[IO wait"}, fns...)...)
	})
}

// TestSockOpenedIO: an opened socket's reads and writes give the same
// results on one core (os.File's) and on several (raw calls, with Go's
// poller to wait), and each waits where it should: a read waits for the
// bytes; the peer's close reads as io.EOF and its reset as ECONNRESET
// (both lost connections for isConnLost, and "Connection reset by peer"
// in the log line), and a write after the reset fails as a lost
// connection; a write larger than the socket takes waits for the peer and
// arrives whole, in order; one to a socket the peer does not read waits
// until its deadline, which it reports as a "write" error; Close ends a
// waiting read with net.ErrClosed.
func TestSockOpenedIO(t *testing.T) {
	for _, one := range []bool{true, false} {
		t.Run(fmt.Sprintf("oneCore=%v", one), func(t *testing.T) {
			setOneCore(t, one)
			testSockOpenedIO(t, one)
		})
	}
}

func testSockOpenedIO(t *testing.T, one bool) {
	// Where a read or a write waits: os.File's, or the raw calls'.
	waitsIn := map[bool][2]string{true: {"os.(*File).Read", "os.(*File).Write"}, false: {"readOpened", "writeOpened"}}[one]
	sk, cl := openedPair(t)
	sk.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [8]byte
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() { n, err := sk.Read(b[:]); done <- result{n, err} }()
	waitIOWait(t, "(*sock).Read", waitsIn[0])
	cl.Write([]byte("late"))
	if r := <-done; r.err != nil || string(b[:r.n]) != "late" {
		t.Fatalf("read %q, %v", b[:r.n], r.err)
	}
	cl.Close()
	if n, err := sk.Read(b[:]); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer's close: %d, %v; want io.EOF", n, err)
	}

	sk, cl = openedPair(t)
	cl.(*net.TCPConn).SetLinger(0) // close with a reset
	cl.Close()
	sk.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := sk.Read(b[:])
	var pe *os.PathError
	if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &pe) || pe.Op != "read" || !isConnLost(err) {
		t.Fatalf("read after the peer's reset: %v; want a read error ECONNRESET", err)
	}
	if got := ErrorText(err); got != "Connection reset by peer" {
		t.Fatalf("ErrorText %q", got)
	}
	if _, err := sk.Write([]byte("x")); !errors.As(err, &pe) || pe.Op != "write" || !isConnLost(err) {
		t.Fatalf("write after the peer's reset: %v; want a write error of a lost connection", err)
	}

	// A write that must wait for the peer to read: all of it arrives, in order.
	sk, cl = openedPair(t)
	rc, _ := sk.SyscallConn()
	rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096) })
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i * 13)
	}
	wrote := make(chan error, 1)
	go func() { _, err := sk.Write(big); wrote <- err }()
	waitIOWait(t, "(*sock).Write", waitsIn[1])
	cl.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, _ := io.ReadAll(io.LimitReader(cl, int64(len(big))))
	if err := <-wrote; err != nil || !bytes.Equal(got, big) {
		t.Fatalf("write that waited: %v; the peer read %d of %d bytes (in order: %v)", err, len(got), len(big), bytes.Equal(got, big))
	}

	sk, _ = openedPair(t)
	rc, _ = sk.SyscallConn()
	rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096) })
	sk.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	out := make([]byte, 8<<20) // more than the peer's receive buffer and ours
	n, err := sk.Write(out)
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &pe) || pe.Op != "write" || n == 0 || n >= len(out) {
		t.Fatalf("write to a full socket: %d of %d, %v; want some, then the deadline", n, len(out), err)
	}

	sk, _ = openedPair(t)
	errc := make(chan error, 1)
	go func() { _, err := sk.Read(b[:]); errc <- err }()
	waitIOWait(t, "(*sock).Read", waitsIn[0])
	sk.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read ended by Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still waiting after Close")
	}
}

// TestSockClose: after Close, raw or opened, every use reports
// net.ErrClosed (what isConnLost expects), and no function runs on the
// descriptor, whose number may already be another socket's.
func TestSockClose(t *testing.T) {
	for _, opened := range []bool{false, true} {
		sk, cl := rawPair(t)
		if opened {
			sk.SetReadDeadline(time.Now().Add(-time.Second))
			var b [1]byte
			sk.Read(b[:])
		}
		if err := sk.Close(); err != nil {
			t.Fatal(err)
		}
		rc, _ := sk.SyscallConn()
		ran := false
		if err := rc.Control(func(uintptr) { ran = true }); !errors.Is(err, net.ErrClosed) || ran {
			t.Errorf("opened %v: Control after Close: %v (ran %v)", opened, err, ran)
		}
		if err := rc.Write(func(uintptr) bool { ran = true; return true }); !errors.Is(err, net.ErrClosed) || ran {
			t.Errorf("opened %v: RawConn.Write after Close: %v (ran %v)", opened, err, ran)
		}
		var b [1]byte
		if _, err := sk.Read(b[:]); !errors.Is(err, net.ErrClosed) {
			t.Errorf("opened %v: Read after Close: %v", opened, err)
		}
		if err := sk.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("opened %v: second Close: %v", opened, err)
		}
		cl.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := cl.Read(b[:]); err == nil {
			t.Errorf("opened %v: the peer still reads from a closed socket", opened)
		}
	}
}

// TestSockAccepterClose: Close ends an Accept that is waiting in the
// netpoller.
func TestSockAccepterClose(t *testing.T) {
	ln, err := ListenSocket("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := newSockAccepter(ln, func(int) {})
	errc := make(chan error, 1)
	go func() { _, err := a.Accept(); errc <- err }()
	waitIOWait(t, "(*sockAccepter).Accept")
	a.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still waiting after Close")
	}
}

// TestSockCloseRace: Close racing every other use (run it with -race): each
// use either runs on the live descriptor or reports net.ErrClosed, and
// nothing hangs.
func TestSockCloseRace(t *testing.T) {
	for round := 0; round < 200; round++ {
		t.Run(fmt.Sprint(round), testSockCloseRace)
	}
}

func testSockCloseRace(t *testing.T) {
	sk, cl := rawPair(t)
	cl.Write([]byte("x"))
	rc, _ := sk.SyscallConn()
	var wg sync.WaitGroup
	uses := []func(){
		func() { var b [1]byte; sk.Read(b[:]) },
		func() { sk.Write([]byte("y")) },
		func() { sk.SetReadDeadline(time.Now().Add(time.Millisecond)) },
		func() { sk.SetWriteDeadline(time.Now().Add(time.Second)) },
		func() {
			rc.Control(func(fd uintptr) { syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TYPE) })
		},
		func() { rc.Write(func(fd uintptr) bool { rawWrite(int(fd), []byte("z")); return true }) },
	}
	for _, use := range uses {
		wg.Add(1)
		go func() { defer wg.Done(); use() }()
	}
	sk.Close()
	wg.Wait()
	var b [1]byte
	if _, err := sk.Read(b[:]); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

// TestSockPartialWrite: a write larger than the socket takes goes out in
// full and in order, the rest through Go's poller once the raw part would
// wait.
func TestSockPartialWrite(t *testing.T) {
	sk, cl := rawPair(t)
	rc, _ := sk.SyscallConn()
	rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096) })
	out := make([]byte, 1<<20)
	for i := range out {
		out[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		cl.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, _ := io.ReadAll(io.LimitReader(cl, int64(len(out))))
		got <- b
	}()
	if n, err := sk.Write(out); err != nil || n != len(out) {
		t.Fatalf("Write: %d of %d, %v", n, len(out), err)
	}
	if b := <-got; !bytes.Equal(b, out) {
		t.Fatalf("the peer read %d bytes, not the %d written in order", len(b), len(out))
	}
	if sk.isRaw() {
		t.Fatal("a write that had to wait did not open the socket")
	}
}

// TestSockIPv6Addr: a peer's IPv6 address and port come out of the raw
// sockaddr as Go's net gives them.
func TestSockIPv6Addr(t *testing.T) {
	sk, cl, err := rawPairOn(t, "tcp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	if got, want := sk.RemoteAddr().String(), cl.LocalAddr().String(); got != want {
		t.Fatalf("RemoteAddr %s, want %s", got, want)
	}
}

func rawSetNoDelayIgnore(fd int) { rawSetNoDelay(fd) }

// TestTCPAddrZone: an accepted IPv6 peer with a scope id (a link-local
// address) gets its interface's name as the zone, or the number if there is
// no such interface, as Go's net gives it; the names are read from the
// kernel once and again only after a minute.
func TestTCPAddrZone(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no loopback interface named lo:", err)
	}
	peer := func(scope uint32) *net.TCPAddr {
		var rsa syscall.RawSockaddrAny
		p := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		p.Family = syscall.AF_INET6
		p.Addr = [16]byte{0xfe, 0x80, 15: 1}
		port := (*[2]byte)(unsafe.Pointer(&p.Port)) // network byte order
		port[0], port[1] = 1883>>8, 1883&0xff
		p.Scope_id = scope
		return tcpAddr(&rsa)
	}
	if a := peer(0); a.String() != "[fe80::1]:1883" {
		t.Errorf("no scope: got %v", a)
	}
	if a := peer(uint32(lo.Index)); a.String() != "[fe80::1%lo]:1883" {
		t.Errorf("scope %d: got %v, want zone lo", lo.Index, a)
	}
	if a := peer(1 << 30); a.Zone != "1073741824" {
		t.Errorf("unknown scope: got zone %q, want the number", a.Zone)
	}

	// Within a minute the cached name is used, after it the kernel's.
	zones.Lock()
	zones.names[lo.Index], zones.at = "cached", time.Now()
	zones.Unlock()
	if a := peer(uint32(lo.Index)); a.Zone != "cached" {
		t.Errorf("fresh cache: got zone %q, want the cached name", a.Zone)
	}
	zones.Lock()
	zones.names[lo.Index], zones.at = "cached", time.Now().Add(-2*time.Minute)
	zones.Unlock()
	if a := peer(uint32(lo.Index)); a.Zone != "lo" {
		t.Errorf("stale cache: got zone %q, want lo", a.Zone)
	}
}
