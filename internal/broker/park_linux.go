//go:build linux

package broker

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// parking is what a connection keeps for parking and for the writes its
// reader makes itself (sendNow): made on the first of either, so a
// connection that has done neither does not carry it.
type parking struct {
	p     *poller
	rc    syscall.RawConn
	timer *time.Timer // the keepalive while parked; nil without keepalive
	id    uint64      // the park's key in p.conns; 0 when not parked
	added bool        // the socket is in the epoll set: EPOLL_CTL_MOD re-arms it
}

// canPark reports whether a connection's socket can be handed to the
// poller: a plain TCP or unix socket, not one under TLS or websockets (nor
// one wrapped by its listener, as midge's unix listener does: app).
func canPark(nc net.Conn) bool {
	switch nc.(type) {
	case *sock, *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// poller watches the sockets of parked connections: one epoll instance per
// server, waited on by one goroutine. The epoll descriptor is itself in Go's
// netpoller, so that goroutine holds no thread while it waits, and closing
// the descriptor ends it.
//
// Each socket is registered EPOLLIN|EPOLLRDHUP|EPOLLONESHOT, level
// triggered: bytes that arrived before the registration fire at once, and
// after one event the socket stays in the set, disarmed, until its next
// park re-arms it (or its close removes it). The event carries the park's
// id, not the descriptor: a stale event (for a park someone else already
// resumed) finds no entry and is ignored, and a descriptor number reused by
// another connection cannot resume the wrong one.
type poller struct {
	f    *os.File
	rc   syscall.RawConn
	epfd int
	done chan struct{} // closed when run returns

	mu     sync.Mutex
	conns  map[uint64]*conn // parked connections by park id
	nextID uint64
}

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "epoll")
	// A deadline can be set only on a descriptor in the netpoller.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &poller{f: f, rc: rc, epfd: fd, done: make(chan struct{}), conns: map[uint64]*conn{}}, nil
}

// run waits for events and wakes their connections until the poller is
// closed, then calls ended. Should epoll fail instead (it does not on a
// valid descriptor), ended retires the poller: nothing parks any more and
// every parked connection is woken, rather than left waiting for bytes no
// one would report.
func (p *poller) run(ended func()) {
	defer close(p.done)
	defer ended()
	events := make([]syscall.EpollEvent, 128)
	var ready []*conn
	for {
		n := 0
		var werr error
		err := p.rc.Read(func(fd uintptr) bool {
			n, werr = rawEpollPoll(int(fd), events)
			// Nothing ready (or EINTR): wait for the netpoller.
			return n > 0 || werr != nil && werr != syscall.EINTR && werr != syscall.EAGAIN
		})
		if err != nil || n <= 0 {
			return // closed by parkPoller.close, or failed: died tells which
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if c := p.conns[id]; c != nil {
				delete(p.conns, id)
				ready = append(ready, c)
			}
		}
		p.mu.Unlock()
		for i, c := range ready {
			c.pollReady()
			ready[i] = nil
		}
		ready = ready[:0]
	}
}

// add enters a connection about to park and returns its park id.
func (p *poller) add(c *conn) uint64 {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.conns[id] = c
	p.mu.Unlock()
	return id
}

func (p *poller) remove(id uint64) {
	p.mu.Lock()
	delete(p.conns, id)
	p.mu.Unlock()
}

// arm registers (or re-arms) the socket for one event carrying id. It runs
// under RawConn.Control, so the descriptor cannot be closed, and its number
// reused, meanwhile; a socket already closed gives net.ErrClosed.
func (p *poller) arm(pk *parking, id uint64) error {
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(id)),
		Pad:    int32(uint32(id >> 32)),
	}
	var err error
	cerr := pk.rc.Control(func(fd uintptr) {
		if pk.added {
			err = rawEpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
			if err != syscall.ENOENT {
				return
			}
		}
		err = rawEpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		pk.added = err == nil
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// parkPoller is a server's poller, started by the first park and stopped by
// Shutdown once every connection has ended.
type parkPoller struct {
	p      atomic.Pointer[poller]
	mu     sync.Mutex // for starting and closing
	failed bool       // epoll unavailable: nothing parks
	closed bool
}

func (pp *parkPoller) get() *poller {
	if p := pp.p.Load(); p != nil {
		return p
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if p := pp.p.Load(); p != nil || pp.failed || pp.closed {
		return p
	}
	p, err := newPoller()
	if err != nil {
		pp.failed = true
		return nil
	}
	pp.p.Store(p)
	go p.run(func() { pp.died(p) })
	return p
}

// died runs when a poller's wait loop ends. Unless close ended it, the wait
// failed: later parks find no poller (and read on with a plain deadline),
// and the connections parked on it are woken.
func (pp *parkPoller) died(p *poller) {
	pp.mu.Lock()
	if pp.closed {
		pp.mu.Unlock()
		return
	}
	pp.p.CompareAndSwap(p, nil)
	pp.failed = true
	pp.mu.Unlock()
	p.f.Close()
	p.mu.Lock()
	parked := make([]*conn, 0, len(p.conns))
	for id, c := range p.conns {
		delete(p.conns, id)
		parked = append(parked, c)
	}
	p.mu.Unlock()
	for _, c := range parked {
		c.wake()
	}
}

// close stops the poller; no connection may be parked.
func (pp *parkPoller) close() {
	pp.mu.Lock()
	p := pp.p.Swap(nil)
	pp.closed = true
	pp.mu.Unlock()
	if p != nil {
		p.f.Close()
		<-p.done
	}
}

// park hands an idle connection's socket and keepalive to the poller and a
// timer. parked true: the calling goroutine must return at once without
// touching c, which belongs to whoever wakes it. parked false, ok true: it
// was woken while parking (the caller calls awake and reads on). ok false:
// parking is unavailable for this connection, nothing was changed.
func (c *conn) park() (parked, ok bool) {
	p := c.srv.park.get()
	if p == nil {
		return false, false
	}
	pk := c.rawConn()
	if pk == nil {
		return false, false
	}
	pk.p = p
	// Into the map before the socket is armed: an event may come at once.
	pk.id = p.add(c)
	if err := p.arm(pk, pk.id); err != nil {
		p.remove(pk.id)
		pk.id = 0
		// A closed socket means a fail is under way (only the writer, after
		// fail, and cleanup close it): awake sees it.
		return false, errors.Is(err, net.ErrClosed)
	}
	if at := c.parkLimit(); at > 0 {
		d := time.Duration(at - monoNow())
		if pk.timer == nil {
			pk.timer = time.AfterFunc(d, c.wake)
		} else {
			pk.timer.Reset(d)
		}
	}
	return c.state.CompareAndSwap(stateRunning, stateParked), true
}

// pollReady resumes a connection whose socket the poller found readable.
// One parked before its CONNECT has it handled here, on the poller's
// goroutine (accept_linux.go); any other resumes on a goroutine of its own.
func (c *conn) pollReady() {
	if c.state.CompareAndSwap(stateParked, stateRunning) {
		if !c.connected { // owned now: connected is the reader's to read
			c.connectOnPoll()
		} else {
			go c.unparked()
		}
		return
	}
	c.wake()
}

// rawConn returns the connection's parking record, made on first use with
// the socket's syscall.RawConn (parkable connections only; nil if the
// socket has none).
func (c *conn) rawConn() *parking {
	if c.pk == nil {
		sc, ok := c.nc.(syscall.Conn)
		if !ok {
			return nil
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return nil
		}
		c.pk = &parking{rc: rc}
	}
	return c.pk
}

// sendNow makes one non-blocking write of b to a plain socket and returns
// how much it took (the rest waits for a writer goroutine, which may block).
// On a connection that is not a plain socket it writes nothing. Reader-owned,
// like pk.
func (c *conn) sendNow(b []byte) (n int, err error) {
	if c.pk == noPark {
		return 0, nil
	}
	pk := c.rawConn()
	if pk == nil {
		return 0, nil
	}
	op := sendOps.Get().(*sendOp)
	op.b = b
	cerr := pk.rc.Write(op.fn)
	n, werr := max(op.n, 0), op.err
	*op = sendOp{fn: op.fn}
	sendOps.Put(op)
	switch {
	case cerr != nil:
		return 0, cerr // closed
	case werr == syscall.EAGAIN:
		return n, nil
	case werr != nil:
		return n, os.NewSyscallError("write", werr)
	}
	return n, nil
}

// sendOp is one sendNow write: its bytes, its result, and the method value
// RawConn.Write calls, made once per pooled sendOp, so that a write
// allocates nothing (a closure over the arguments would, three times).
type sendOp struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

var sendOps = sync.Pool{New: func() any {
	op := new(sendOp)
	op.fn = op.write
	return op
}}

func (op *sendOp) write(fd uintptr) bool {
	for {
		op.n, op.err = rawWrite(int(fd), op.b)
		if op.err != syscall.EINTR {
			return true // done, or would block: never wait here
		}
	}
}

// bytesWaiting reports whether the socket of a connection that has parked
// holds bytes not yet read (a peek, which neither waits nor consumes).
func (c *conn) bytesWaiting() bool {
	pk := c.rawConn()
	if pk == nil || pk.rc == nil { // not a plain socket (noPark has no rc)
		return false
	}
	var b [1]byte
	n, _ := recvNow(pk, b[:], syscall.MSG_PEEK)
	return n > 0
}

// unpark undoes what park set up, on a connection running again.
func (c *conn) unpark() {
	pk := c.pk
	if pk == nil {
		return
	}
	if pk.timer != nil {
		pk.timer.Stop()
	}
	if pk.id != 0 {
		pk.p.remove(pk.id)
		pk.id = 0
	}
}
