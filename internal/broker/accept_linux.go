package broker

import (
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/midgemq/midge/internal/packet"
)

// CONNECT without a goroutine of its own.
//
// A new plain socket's CONNECT is handled by whichever goroutine finds it
// complete on the socket: the accepting goroutine, when it is there at
// accept (about half the time on loopback), or else the poller's (park.go),
// with which the socket parks until its first bytes come, as an idle
// connection parks. That goroutine writes the CONNACK and parks the
// connection again: a client that connects and then waits, or subscribes a
// moment later, costs no goroutine creation, no thread wake-up and no stack
// growth until its next packet. In a storm of 5,000 connects a second that
// was most of the runtime's work per connection (docs/BENCHMARKS.md,
// "Connect storms").
//
// Everything else starts the reader as before, with nothing consumed: a
// CONNECT not yet complete, another packet type first, a CONNECT larger
// than connectPeek, the peer's close, a socket that is not plain TCP or
// unix. Both goroutines serve everyone, so what could take long is not
// done there: a login that hashes a password (QuickLogin), a refused
// login's delay (authz.go) and a wait for the sessions' lock (handle.go).
// handleConnect then returns before it has sent or logged anything, and
// the CONNECT is handed to a goroutine of its own (connectLater), which
// runs it again from the start.

// connectPeek is the largest CONNECT handled without a reader goroutine.
const connectPeek = 512

// connectOnAccept runs on the accepting goroutine. It reports false when
// the caller must start the reader (nothing was consumed).
func (c *conn) connectOnAccept() bool {
	if !canPark(c.nc) || c.srv.park.get() == nil || c.rawConn() == nil {
		return false
	}
	switch c.connectNow(&c.srv.connectPaths.accept) {
	case connectHandled:
		return true
	case connectNothing:
		parked, ok := c.park() // until the first bytes come, or connect_timeout
		if parked {
			return true
		}
		if ok {
			go c.unparked() // a close came while parking
			return true
		}
	}
	return false
}

// connectOnPoll runs on the poller's goroutine for a connection parked
// before its CONNECT that the poller has resumed (it owns it).
func (c *conn) connectOnPoll() {
	c.unpark()
	if c.reason.Load() != int32(reasonNone) {
		go c.end()
		return
	}
	if c.connectNow(&c.srv.connectPaths.poll) != connectHandled {
		// The peer closed, or sent something else first: the reader
		// finds out which, as it would have.
		go c.serve()
	}
}

type connectResult int

const (
	connectHandled connectResult = iota // the CONNECT was consumed and handled
	connectNothing                      // no bytes yet
	connectOther                        // bytes, but not a complete CONNECT
)

// connectNow handles a CONNECT already complete on the socket, and then
// parks the connection, hands it to a goroutine that reads on, or ends it.
// A caller other than the reader runs it, on a connection it owns; handled
// counts the CONNECTs it handles there.
func (c *conn) connectNow(handled *atomic.Int64) connectResult {
	buf := getBuf()
	defer putBuf(buf)
	n, err := recvNow(c.pk, buf[:connectPeek], syscall.MSG_PEEK)
	if n <= 0 {
		if err == syscall.EAGAIN {
			return connectNothing
		}
		return connectOther // closed, or an error: the reader reads it
	}
	b := buf[:n]
	if packet.Type(b[0]>>4) != packet.CONNECT {
		return connectOther // the reader fails it, as for any first byte
	}
	first, rem, hn, err := packet.ParseFixedHeader(b)
	if err != nil || hn == 0 || hn+rem > len(b) || rem > maxConnectLen {
		return connectOther // incomplete, or refused by checkLength
	}
	if max := c.srv.Options().MaxPacketSize; max > 0 && uint32(rem)+1 > max {
		return connectOther
	}
	// Consume exactly the CONNECT: anything after it stays on the socket,
	// and the park below wakes at once for it.
	pkt := buf[:hn+rem]
	if n, _ := recvNow(c.pk, pkt, 0); n != len(pkt) {
		// Not for bytes just peeked; the reader must never be given a
		// stream with a hole in it.
		c.readErr = syscall.EIO
		go c.end()
		return connectHandled
	}
	c.srv.Stats.BytesReceived.Add(int64(len(pkt)))
	c.srv.Stats.MessagesReceived.Add(1)
	c.onAccept = acceptInline
	ok := c.handle(first, pkt[hn:])
	retry := c.onAccept == acceptRetry
	c.onAccept = acceptNone
	if retry {
		c.srv.connectPaths.later.Add(1)
	} else {
		handled.Add(1)
	}
	switch {
	case retry:
		go c.connectLater(append([]byte(nil), pkt...))
	case !ok:
		go c.end() // cleanup waits for the writer sending the refusal
	default:
		c.touch()
		c.flushReplies()
		parked, ok := c.park()
		switch {
		case parked:
		case ok:
			go c.unparked() // woken while parking
		default:
			go c.run() // no poller: it parks (or not) when idle, as usual
		}
	}
	return connectHandled
}

// connectLater handles on its own goroutine a CONNECT that connectNow read
// but could not finish, then reads on.
func (c *conn) connectLater(pkt []byte) {
	first, _, hn, _ := packet.ParseFixedHeader(pkt)
	if c.handle(first, pkt[hn:]) {
		c.touch()
		c.run()
		return
	}
	c.end()
}

// recvNow makes one non-blocking receive (MSG_DONTWAIT added to flags) on
// a plain socket: n > 0 bytes came, 0 the peer closed, or -1 with err
// (EAGAIN: nothing there yet).
func recvNow(pk *parking, b []byte, flags int) (n int, err error) {
	op := recvOps.Get().(*recvOp)
	op.b, op.flags = b, flags|syscall.MSG_DONTWAIT
	if cerr := pk.rc.Control(op.fn); cerr != nil {
		op.n, op.err = -1, cerr
	}
	n, err = op.n, op.err
	*op = recvOp{fn: op.fn}
	recvOps.Put(op)
	return n, err
}

// recvOp is one recvNow, pooled with its method value like sendOp, so that
// a receive allocates nothing.
type recvOp struct {
	b     []byte
	flags int
	n     int
	err   error
	fn    func(fd uintptr)
}

var recvOps = sync.Pool{New: func() any {
	op := new(recvOp)
	op.fn = op.do
	return op
}}

func (op *recvOp) do(fd uintptr) {
	for {
		op.n, op.err = rawRecv(int(fd), op.b, op.flags)
		if op.err != syscall.EINTR {
			return
		}
	}
}
