//go:build linux

package broker

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Plain TCP listeners accept without Go's net (Linux).
//
// Go's accept costs a connection four system calls (accept4, the
// netpoller's epoll_ctl, getsockname, setsockopt TCP_NODELAY), three
// allocations of addresses and a netFD, and, being an ordinary system call,
// it wakes the runtime's monitor thread whenever the broker was idle
// (rawsys_linux.go). midge accepts with a raw accept4 instead, waiting for
// the listener through Go's netpoller as net does, and keeps the socket as
// a bare descriptor (sock): a client whose CONNECT is handled at accept or
// by the poller (accept_linux.go) and that then parks never costs more.
// The descriptor is handed to Go's poller (os.NewFile, which takes it over:
// one fcntl and one epoll_ctl) the first time a goroutine has to wait on it:
// a read that finds nothing, a write that does not all go out at once.
//
// TCP_NODELAY is turned on at accept when set_tcp_nodelay is true, and left
// off otherwise, as Mosquitto does, which also logs a failure to turn it on
// (Server.noDelayRaw); Go's net turned it on for every socket, ignoring a
// failure, and midge turned it off again (admit.go).

// sock is an accepted TCP socket: a bare descriptor until first opened, then
// an *os.File in Go's poller. It is a net.Conn and a syscall.Conn; its
// LocalAddr is the listener's address (nothing in midge asks for more).
type sock struct {
	wmu sync.Mutex   // one Write (raw part and rest) or RawConn.Write at a time, as net's
	mu  sync.RWMutex // held for reading across any use of fd
	fd  int          // the descriptor, while raw
	// f is the file once opened (it owns the descriptor), set under mu
	// after frc; read without the lock once set, so that a read or write
	// of an opened socket takes no lock of the sock's.
	f      atomic.Pointer[os.File]
	frc    syscall.RawConn
	rw     *sockIO // set with f: its reads and writes
	closed bool
	rd, wd time.Time // deadlines set while raw, applied by open
	laddr  net.Addr
	raddr  *net.TCPAddr
}

// open returns the socket's *os.File, making it on first use.
func (s *sock) open() (*os.File, error) {
	if f := s.f.Load(); f != nil {
		return f, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.f.Load(); f != nil {
		return f, nil
	}
	if s.closed {
		return nil, net.ErrClosed
	}
	f := os.NewFile(uintptr(s.fd), "tcp")
	// A deadline can be set only on a descriptor in Go's poller, which a
	// non-blocking socket always enters: an error here would mean reads
	// that cannot wait, so the socket is given up instead.
	if err := f.SetReadDeadline(s.rd); err != nil {
		f.Close()
		s.closed, s.fd = true, -1
		return nil, err
	}
	if !s.wd.IsZero() {
		f.SetWriteDeadline(s.wd)
	}
	rc, _ := f.SyscallConn() // no error for a valid *os.File
	s.frc, s.fd = rc, -1
	s.rw = newSockIO()
	s.f.Store(f)
	return f, nil
}

// sockIO is an opened socket's reads and writes while the broker runs on
// several cores (a busy broker: procs): raw system calls, with Go's poller
// only to wait. os.File's own Read and Write make ordinary system calls,
// which mark the thread as in a system call and keep the runtime's monitor
// thread awake (rawsys_linux.go); with raw calls a busy broker delivered
// 1.18-1.42 times the messages a second for 0.69-0.85 times the CPU per
// message (docs/BENCHMARKS.md, "Opened sockets: raw reads and writes when
// busy").
// On one core (a light load) they stay os.File's: there raw calls cut the
// CPU per message at 5,000 QoS 1 messages a second by a quarter, but the
// p99 latency was higher in most sets of rounds, most clearly with other
// processes taking the cores in bursts. The functions are method values
// made once, at open, so that a read or a write allocates nothing; an idle
// socket is never opened and carries none.
type sockIO struct {
	rb     []byte // the read's buffer (the reader's: one Read at a time)
	rn     int
	rerr   error
	readFn func(fd uintptr) bool

	wb      []byte // the write's bytes, under the sock's wmu
	wn      int
	werr    error
	writeFn func(fd uintptr) bool
}

func newSockIO() *sockIO {
	x := new(sockIO)
	x.readFn, x.writeFn = x.read, x.write
	return x
}

// read makes one raw read of at most rawIOMax; false (wait for the
// socket) when it would block.
func (x *sockIO) read(fd uintptr) bool {
	b := x.rb[:min(len(x.rb), rawIOMax)]
	for {
		x.rn, x.rerr = rawRecv(int(fd), b, syscall.MSG_DONTWAIT)
		if x.rerr != syscall.EINTR {
			return x.rerr != syscall.EAGAIN
		}
	}
}

// write writes wb[wn:] in raw calls of at most rawIOMax; false (wait
// until the socket takes more) when the socket is full.
func (x *sockIO) write(fd uintptr) bool {
	for x.wn < len(x.wb) {
		k, err := rawWrite(int(fd), x.wb[x.wn:min(len(x.wb), x.wn+rawIOMax)])
		switch {
		case k > 0:
			x.wn += k
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return false
		case err == nil: // nothing taken, no error: as os.File reports it
			x.werr = io.ErrUnexpectedEOF
			return true
		default:
			x.werr = err
			return true
		}
	}
	return true
}

// readOpened reads from an opened socket as os.File's Read would, with the
// same results: io.EOF at the peer's close, errors as *os.PathError.
func (s *sock) readOpened(b []byte) (int, error) {
	x := s.rw
	x.rb = b
	err := s.frc.Read(x.readFn)
	n, rerr := x.rn, x.rerr
	x.rb, x.rn, x.rerr = nil, 0, nil
	switch {
	case err != nil: // a deadline, or the socket closed
		return 0, s.netErr(pathErr("read", err))
	case rerr != nil:
		return 0, &os.PathError{Op: "read", Path: "tcp", Err: rerr}
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// writeOpened writes all of b to an opened socket (wmu held), waiting for
// room in Go's poller, as os.File's Write would.
func (s *sock) writeOpened(b []byte) (int, error) {
	x := s.rw
	x.wb = b
	err := s.frc.Write(x.writeFn)
	n, werr := x.wn, x.werr
	x.wb, x.wn, x.werr = nil, 0, nil
	switch {
	case err != nil:
		return n, s.netErr(pathErr("write", err))
	case werr != nil:
		return n, &os.PathError{Op: "write", Path: "tcp", Err: werr}
	}
	return n, nil
}

// pathErr wraps an error from the file's RawConn (a bare poll error: a
// deadline, the file closing) as os.File's Read or Write would have.
func pathErr(op string, err error) error {
	return &os.PathError{Op: op, Path: "tcp", Err: err}
}

// netErr gives os.File's errors the meaning net's have for the callers
// (isConnLost): a closed file is a closed connection. The RawConn of an
// os.File reports a close with an error of its own (internal/poll's
// ErrFileClosing, not os.ErrClosed), hence the check of closed.
func (s *sock) netErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return net.ErrClosed
	}
	return err
}

func (s *sock) Read(b []byte) (int, error) {
	if s.f.Load() == nil {
		if n, err, ok := s.readRaw(b); ok {
			return n, err
		}
	}
	f, err := s.open()
	if err != nil {
		return 0, err
	}
	if oneCore() {
		n, err := f.Read(b)
		return n, s.netErr(err)
	}
	return s.readOpened(b)
}

func (s *sock) Write(b []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var n int
	if s.f.Load() == nil {
		k, err, ok := s.writeRaw(b)
		if ok {
			return k, err
		}
		n = k
	}
	f, err := s.open()
	if err != nil {
		return n, err
	}
	var m int
	if oneCore() {
		m, err = f.Write(b[n:])
		err = s.netErr(err)
	} else {
		m, err = s.writeOpened(b[n:])
	}
	return n + m, err
}

// readRaw reads what is already on a raw socket without opening it, so a
// parked connection woken for a packet, or for its peer's close, need not
// enter Go's poller for that. ok false: the read would wait (or the read
// deadline has passed, which os.File reports), so it is Go's poller's.
func (s *sock) readRaw(b []byte) (n int, err error, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.f.Load() != nil || s.closed || len(b) == 0 || !s.rd.IsZero() && !time.Now().Before(s.rd) {
		return 0, nil, false
	}
	n, err = rawRecv(s.fd, b[:min(len(b), rawIOMax)], syscall.MSG_DONTWAIT)
	switch {
	case n > 0:
		return n, nil, true
	case n == 0:
		return 0, io.EOF, true
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return 0, nil, false
	}
	return 0, &os.PathError{Op: "read", Path: "tcp", Err: err}, true // as os.File reports it
}

// rawIOMax is the most a raw read or write moves in one system call (a
// read may return less anyway; a write goes on): a raw call holds
// its thread's P, out of reach of the scheduler and of a collection's
// stop, so it is kept to microseconds.
const rawIOMax = 64 << 10

// writeRaw writes to a raw socket what goes out at once, as readRaw reads.
// ok false: the rest, b[n:], would wait, so it is Go's poller's.
func (s *sock) writeRaw(b []byte) (n int, err error, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.f.Load() != nil || s.closed || !s.wd.IsZero() && !time.Now().Before(s.wd) {
		return 0, nil, false
	}
	for n < len(b) {
		k, err := rawWrite(s.fd, b[n:min(len(b), n+rawIOMax)])
		switch {
		case k > 0:
			n += k
		case err == syscall.EINTR:
		case err == nil || err == syscall.EAGAIN: // nothing taken: it would wait
			return n, nil, false
		default:
			return n, &os.PathError{Op: "write", Path: "tcp", Err: err}, true
		}
	}
	return n, nil, true
}

func (s *sock) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.closed = true
	if f := s.f.Load(); f != nil {
		return f.Close()
	}
	err := syscall.Close(s.fd)
	s.fd = -1
	return err
}

func (s *sock) LocalAddr() net.Addr  { return s.laddr }
func (s *sock) RemoteAddr() net.Addr { return s.raddr }

func (s *sock) SetDeadline(t time.Time) error {
	if err := s.SetReadDeadline(t); err != nil {
		return err
	}
	return s.SetWriteDeadline(t)
}

func (s *sock) SetReadDeadline(t time.Time) error {
	return s.setDeadline(t, &s.rd, (*os.File).SetReadDeadline)
}

func (s *sock) SetWriteDeadline(t time.Time) error {
	return s.setDeadline(t, &s.wd, (*os.File).SetWriteDeadline)
}

// setDeadline sets a deadline on the file, or keeps it for open while the
// socket is raw: a raw socket is read and written only by calls that do
// not wait, which a deadline concerns only once it has passed (readRaw and
// writeRaw then leave the call to the file, which reports it).
func (s *sock) setDeadline(t time.Time, keep *time.Time, set func(*os.File, time.Time) error) error {
	s.mu.Lock()
	f := s.f.Load()
	if f == nil {
		closed := s.closed
		if !closed {
			*keep = t
		}
		s.mu.Unlock()
		if closed {
			return net.ErrClosed
		}
		return nil
	}
	s.mu.Unlock()
	return s.netErr(set(f, t))
}

func (s *sock) SyscallConn() (syscall.RawConn, error) { return sockRaw{s}, nil }

// sockRaw is a sock's syscall.RawConn. Control, and a Write whose function
// does not ask to wait, run on the raw descriptor under the read lock, so
// that Close cannot close it (and its number be reused) meanwhile; waiting
// needs Go's poller, so it opens the socket. The functions given must make
// system calls only: one that used the sock itself (a deadline, a Close, a
// Read) would wait for the lock it runs under.
type sockRaw struct{ s *sock }

// onRaw runs fn on the raw descriptor under the read lock, or reports that
// the socket is in Go's poller (opened: fn did not run) or closed.
func (s *sock) onRaw(fn func(fd uintptr)) (opened bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case s.f.Load() != nil:
		return true, nil
	case s.closed:
		return false, net.ErrClosed
	}
	fn(uintptr(s.fd))
	return false, nil
}

func (r sockRaw) Control(fn func(fd uintptr)) error {
	if opened, err := r.s.onRaw(fn); !opened {
		return err
	}
	return r.s.netErr(r.s.frc.Control(fn))
}

func (r sockRaw) Read(fn func(fd uintptr) bool) error {
	if _, err := r.s.open(); err != nil {
		return err
	}
	return r.s.netErr(r.s.frc.Read(fn))
}

func (r sockRaw) Write(fn func(fd uintptr) bool) error {
	r.s.wmu.Lock()
	defer r.s.wmu.Unlock()
	done := false
	opened, err := r.s.onRaw(func(fd uintptr) { done = fn(fd) })
	switch {
	case err != nil:
		return err
	case done:
		return nil
	case !opened: // it must wait: in Go's poller
		if _, err := r.s.open(); err != nil {
			return err
		}
	}
	return r.s.netErr(r.s.frc.Write(fn))
}

// sockAccepter accepts from a plain TCP listener with rawAccept4. Go's
// listener does not wait for readiness through its RawConn, so it waits on
// a duplicate of the listening descriptor (an *os.File in Go's poller),
// which Close closes with the listener.
type sockAccepter struct {
	f       *os.File
	rc      syscall.RawConn
	laddr   net.Addr
	nodelay func(fd int) // applies set_tcp_nodelay to each accepted socket

	closed atomic.Bool

	fd  int
	rsa syscall.RawSockaddrAny
	err error
	fn  func(fd uintptr) bool
}

// newSockAccepter returns nil where raw accept is not available: the
// caller uses Go's Accept.
func newSockAccepter(ln net.Listener, nodelay func(fd int)) *sockAccepter {
	tl, ok := ln.(*net.TCPListener)
	if !rawAccept || !ok {
		return nil
	}
	f, err := tl.File() // a duplicate, non-blocking, in the poller
	if err != nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	a := &sockAccepter{f: f, rc: rc, laddr: tl.Addr(), nodelay: nodelay}
	a.fn = a.accept
	return a
}

// Close ends a wait in Accept and releases the duplicate descriptor.
func (a *sockAccepter) Close() {
	a.closed.Store(true)
	a.f.Close()
}

func (a *sockAccepter) accept(fd uintptr) bool {
	for {
		a.fd, a.err = rawAccept4(int(fd), &a.rsa)
		switch a.err {
		case syscall.EINTR, syscall.ECONNABORTED:
			continue // as Go's accept does: the next one
		case syscall.EAGAIN:
			return false // wait in the netpoller
		}
		return true
	}
}

// Accept waits for and returns the next connection; its errors are
// net.Errors (the caller's retry), or net.ErrClosed once the listener is.
func (a *sockAccepter) Accept() (net.Conn, error) {
	if err := a.rc.Read(a.fn); err != nil {
		if a.closed.Load() {
			return nil, net.ErrClosed
		}
		return nil, err
	}
	if a.err != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: a.laddr, Err: os.NewSyscallError("accept4", a.err)}
	}
	a.nodelay(a.fd)
	return &sock{fd: a.fd, laddr: a.laddr, raddr: tcpAddr(&a.rsa)}, nil
}

// tcpAddr converts an accepted peer's address as Go's net does: an IPv4
// peer of an IPv6 socket keeps its 16-byte mapped form, and a scope id
// becomes the zone, the interface's name (its number if it has none).
func tcpAddr(rsa *syscall.RawSockaddrAny) *net.TCPAddr {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		p := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		ip := make(net.IP, net.IPv4len)
		copy(ip, p.Addr[:])
		return &net.TCPAddr{IP: ip, Port: port(p.Port)}
	case syscall.AF_INET6:
		p := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		ip := make(net.IP, net.IPv6len)
		copy(ip, p.Addr[:])
		a := &net.TCPAddr{IP: ip, Port: port(p.Port)}
		if p.Scope_id != 0 {
			a.Zone = zoneName(int(p.Scope_id))
		}
		return a
	}
	return &net.TCPAddr{}
}

// zones caches interface names by index for the zones of link-local
// peers: net.InterfaceByIndex reads the kernel's whole link table, a
// netlink round trip per accept otherwise. The table is read again once it
// is a minute old (as Go's own resolver does), so a renamed or new
// interface shows within a minute.
var zones struct {
	sync.Mutex
	at    time.Time
	names map[int]string
}

// zoneName is the zone of a scope id: its interface's name, or its number
// if it has none.
func zoneName(idx int) string {
	zones.Lock()
	defer zones.Unlock()
	if n, ok := zones.names[idx]; ok && time.Since(zones.at) < time.Minute {
		return n
	}
	names := map[int]string{}
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifi := range ifs {
			names[ifi.Index] = ifi.Name
		}
	}
	if _, ok := names[idx]; !ok {
		// Unknown: the number, kept until the next reading of the table
		// so that each such peer does not read it again.
		names[idx] = strconv.Itoa(idx)
	}
	zones.names, zones.at = names, time.Now()
	return names[idx]
}

// port reads a port in network byte order, as the kernel stored it.
func port(p uint16) int {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return int(b[0])<<8 | int(b[1])
}
