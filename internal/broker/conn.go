package broker

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/procs"
	"github.com/midgemq/midge/internal/session"
)

// closeReason is why a connection ended; it picks Mosquitto's disconnect line.
type closeReason int32

const (
	reasonNone            closeReason = iota
	reasonDisconnect                  // client sent DISCONNECT: "Client %s disconnected."
	reasonConnLost                    // EOF / reset without DISCONNECT: "closed its connection."
	reasonMalformed                   // "disconnected due to malformed packet."
	reasonProtocol                    // "disconnected due to protocol error."
	reasonNotAuthorised               // "disconnected, not authorised."
	reasonTimeout                     // keepalive or connect timeout
	reasonOversizePacket              // inbound packet over max_packet_size
	reasonOversizePayload             // will over message_size_limit
	reasonNotSupported                // QoS too high / retain unsupported in will
	reasonErrno                       // socket errno: "disconnected: %s."
	reasonBadSocket                   // "Bad socket read/write on client %s: %s"
	reasonTakenOver                   // session taken over: no line
	reasonShutdown                    // broker stopping: no line
	reasonRevoked                     // reload no longer admits the client: "Client %s disconnected." (authz.go)
)

var reasonEntries = [...]*logcat.Entry{
	reasonDisconnect:      logcat.Disconnected,
	reasonConnLost:        logcat.Closed,
	reasonMalformed:       logcat.Malformed,
	reasonProtocol:        logcat.ProtocolError,
	reasonNotAuthorised:   logcat.NotAuthorised,
	reasonTimeout:         logcat.Timeout,
	reasonOversizePacket:  logcat.OversizePacket,
	reasonOversizePayload: logcat.OversizePayload,
	reasonNotSupported:    logcat.NotSupported,
	reasonErrno:           logcat.SocketErrno,
	reasonBadSocket:       logcat.BadSocket,
	reasonRevoked:         logcat.Disconnected,
}

// v5 DISCONNECT reason sent before closing, by close reason.
var reasonV5Codes = [...]packet.ReasonCode{
	reasonMalformed:      packet.MalformedPacket,
	reasonProtocol:       packet.ProtocolError,
	reasonOversizePacket: packet.PacketTooLarge,
	reasonTakenOver:      packet.SessionTakenOver,
	reasonShutdown:       0,
}

// conn.onAccept values.
const (
	acceptNone   uint8 = iota // the reader handles the CONNECT
	acceptInline              // the accepting or the poller's goroutine does
	acceptRetry               // which must hand it to connectLater
)

const (
	readBufSize   = 4096
	maxConnectLen = 100000 // Mosquitto's cap on a CONNECT's remaining length
)

// bufPool holds *[readBufSize]byte: a buffer goes back as a pointer to its
// array, so putting it back allocates nothing (a *[]byte would need a new
// slice header per Put).
var bufPool = sync.Pool{New: func() any { return new([readBufSize]byte) }}

func getBuf() []byte { return bufPool.Get().(*[readBufSize]byte)[:0] }

// putBuf returns a buffer of one of the pooled sizes to its pool (others
// are left to the collector). Read buffers that grew to a pooled size go
// back too: nothing keeps a slice of a packet's body past its handling
// (handlers copy what they keep), as the next packet is read over it.
func putBuf(b []byte) {
	switch cap(b) {
	case readBufSize:
		bufPool.Put((*[readBufSize]byte)(b[:readBufSize]))
	case 16 << 10:
		bufPool16K.Put((*[16 << 10]byte)(b[:16<<10]))
	case 64 << 10:
		bufPool64K.Put((*[64 << 10]byte)(b[:64<<10]))
	case 256 << 10:
		bufPool256K.Put((*[256 << 10]byte)(b[:256<<10]))
	}
}

// Larger output buffers come in three more sizes, each with its pool: a
// subscriber sent more than 4 KiB between two writes of its writer moves to
// a larger buffer that an earlier burst left, instead of growing a new one
// by doubling each time (which was a third of the garbage of the fan-in
// case; docs/BENCHMARKS.md).
var (
	bufPool16K  = sync.Pool{New: func() any { return new([16 << 10]byte) }}
	bufPool64K  = sync.Pool{New: func() any { return new([64 << 10]byte) }}
	bufPool256K = sync.Pool{New: func() any { return new([256 << 10]byte) }}
)

// getBufCap returns an empty buffer of at least n bytes: a pooled one up
// to 256 KiB.
func getBufCap(n int) []byte {
	switch {
	case n <= readBufSize:
		return getBuf()
	case n <= 16<<10:
		return bufPool16K.Get().(*[16 << 10]byte)[:0]
	case n <= 64<<10:
		return bufPool64K.Get().(*[64 << 10]byte)[:0]
	case n <= 256<<10:
		return bufPool256K.Get().(*[256 << 10]byte)[:0]
	}
	return make([]byte, 0, n)
}

// growOut makes room for n more bytes at the end of an output buffer: when
// they do not fit, its bytes move to a pooled buffer of at least twice the
// size, and it goes back to its pool. Past the largest pooled size it is
// left to append, which grows large slices by a quarter, not double (a
// stalled subscriber's buffer grows to max_outbound_bytes).
func growOut(b []byte, n int) []byte {
	if cap(b)-len(b) >= n || len(b)+n > 256<<10 {
		return b
	}
	nb := getBufCap(max(2*cap(b), len(b)+n))[:len(b)]
	copy(nb, b)
	putBuf(b)
	return nb
}

// conn is one network connection. Its reader goroutine (serve, or unparked
// after a park) owns the fields in the first block; the writer state is
// guarded by wmu. An idle connection holds no buffers and, on a plain socket
// on Linux, no goroutine (park.go); a writer goroutine exists only while
// there are bytes to write.
type conn struct {
	srv  *Server
	l    *listener
	nc   net.Conn
	ip   string
	port int
	// lastRead (monoNow) is the accept time until CONNECT, which starts
	// the connect timeout; then, on a parkable connection, the time of the
	// last inbound packet (park.go).
	lastRead int64

	// Reader-owned.
	sess      *session.Session
	id        string // client id once known
	owner     *owner // identity for authorisation, set by CONNECT (authz.go)
	keepalive time.Duration
	aliases   map[uint16]string
	qos2Dups  map[uint16]uint8
	readErr   error

	errText string // for reasonErrno / reasonBadSocket, set before reason

	// Writer state, under wmu. wcond is made only when cleanup has to wait
	// for a running writer: an idle connection does not carry one.
	wmu     sync.Mutex
	wcond   *sync.Cond
	flushFn func() // c.flush, made once: "go c.flush()" allocates a closure per start
	out     []byte
	outCap  int
	// hold (under wmu): PUBLISHes waiting for their store record to be
	// durable (walhold.go); nil until the first one.
	hold *walHold
	// latAt and latN (under wmu): the arrival time of the oldest message in
	// out that counts for the latency histogram, and how many there are.
	latAt int64
	latN  uint32

	reason    atomic.Int32
	maxOutPkt uint32 // v5 client Maximum Packet Size (0 = none); reader-owned

	state atomic.Int32 // stateRunning, stateParked or stateWoken (park.go)
	// replyDue (reader-owned): a reply to this client waits in out for the
	// reader to write it before its next read (endReply, flushReplies).
	replyDue bool
	// onAccept (reader-owned) is acceptInline while the accepting or the
	// poller's goroutine handles the CONNECT (accept_linux.go), and
	// acceptRetry once handleConnect has found it must be finished on a
	// goroutine of its own (a password to check, a refusal to delay, the
	// sessions' lock held).
	onAccept uint8
	// pk is made on the first park or the first reply the reader writes
	// itself (sendNow); noPark for a connection that never parks (park.go:
	// parkable). Reader-owned.
	pk *parking

	// Small fields last, together, so that they share one word. version,
	// connected, clean and bridge are reader-owned; ready is under the
	// session's Mu (below); the rest are under wmu.
	version   byte
	connected bool
	clean     bool
	bridge    bool
	// ready is set, under the session's Mu, just before the CONNACK is
	// written: deliveries to a connection that is not ready (or is closing)
	// are queued, so no PUBLISH precedes the CONNACK and a resumed session's
	// in-flight messages go out first.
	ready      bool
	writing    bool
	wclosed    bool
	closeAfter bool
}

func newConn(s *Server, l *listener, nc net.Conn, ip string, port int) *conn {
	c := &conn{srv: s, l: l, nc: nc, ip: ip, port: port, lastRead: monoNow()}
	c.flushFn = c.flush
	c.outCap = s.Options().MaxOutboundBytes
	return c
}

// live reports whether deliveries may be written to c now: its CONNACK went
// out and it is not closing. The session's Mu is held.
func (c *conn) live() bool {
	return c != nil && c.ready && c.reason.Load() == int32(reasonNone)
}

// liveConn returns the session's current connection if deliveries may be
// written to it (see live), else nil. ss.Mu held.
func liveConn(ss *session.Session) *conn {
	if c, _ := ss.Conn.(*conn); c.live() {
		return c
	}
	return nil
}

// name is the client id for log lines, or <unknown> before CONNECT.
func (c *conn) name() string {
	if c.id == "" {
		return "<unknown>"
	}
	return c.id
}

// fail records why the connection ends (the first reason wins) and closes it
// once pending output (such as a v5 DISCONNECT) has been flushed.
func (c *conn) fail(r closeReason) { c.failText(r, "") }

func (c *conn) failText(r closeReason, text string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.reason.Load() != int32(reasonNone) {
		return
	}
	c.errText = text
	c.reason.Store(int32(r))
	c.wake() // a parked reader must run its cleanup
	// connected first: it is written under wmu after version, which orders
	// the read of version against a CONNECT still running (Shutdown fails
	// connections that have none yet).
	if c.connected && c.version == packet.V5 && int(r) < len(reasonV5Codes) && reasonV5Codes[r] != 0 && !c.wclosed {
		c.out = packet.AppendDisconnect(c.outBuf(), packet.V5, &packet.Disconnect{Code: reasonV5Codes[r]})
	}
	c.closeAfter = true
	if !c.writing {
		c.writing = true
		go c.flushFn()
	}
}

func (c *conn) outBuf() []byte {
	if c.out == nil {
		c.out = getBuf()
	}
	return c.out
}

// beginWrite locks the writer and returns the buffer to append packets to;
// endWrite stores it back and starts a flush if needed. ok is false when the
// connection is closing (nothing is written).
func (c *conn) beginWrite() ([]byte, bool) {
	c.wmu.Lock()
	if c.wclosed || c.closeAfter {
		c.wmu.Unlock()
		return nil, false
	}
	return c.outBuf(), true
}

func (c *conn) endWrite(b []byte) {
	c.out = b
	if !c.writing && len(c.out) > 0 {
		c.writing = true
		go c.flushFn()
	}
	c.wmu.Unlock()
}

// oneCore is procs.Single; tests replace it to take either path.
var oneCore = procs.Single

// endReply is endWrite for an ack the reader makes to its own client
// (PUBACK, PUBREC, PUBREL, PUBCOMP) or a DISCONNECT (endControl for the
// other replies). While the broker runs on one core (procs.Single: a light
// load), rather than start a writer goroutine it leaves the bytes for the
// reader to write once it has handled everything its last read returned
// (flushReplies): no goroutine is started per reply, and the replies to
// one read leave in one write. On several cores a writer
// goroutine writes them in parallel with the reader's next read, and
// coalesces more under load: there, writing them on the reader cut QoS 1
// throughput by a tenth (docs/BENCHMARKS.md). Only the reader calls it, or
// CONNECT's goroutine while the reader waits for it.
func (c *conn) endReply(b []byte) { c.endReplyOn(b, oneCore()) }

// endControl is endReply for a reply that comes once per request a client
// makes rarely (CONNACK, SUBACK, UNSUBACK, PINGRESP): the reader writes it
// whatever the number of cores. A writer goroutine started for it would
// cost a goroutine and a thread wake-up per reply and gain nothing, as
// there is no stream of them to write in parallel with reading.
func (c *conn) endControl(b []byte) { c.endReplyOn(b, true) }

func (c *conn) endReplyOn(b []byte, onReader bool) {
	if !onReader {
		c.endWrite(b)
		return
	}
	c.out = b
	if !c.writing && len(c.out) > 0 {
		c.replyDue = true
	}
	c.wmu.Unlock()
}

// flushReplies writes what endReply left, from the reader's goroutine; it is
// called before every blocking read. A writer started meanwhile (for a
// delivery, a close) has taken the bytes along, or will.
func (c *conn) flushReplies() {
	if !c.replyDue {
		return
	}
	c.replyDue = false
	c.wmu.Lock()
	if c.writing || len(c.out) == 0 {
		c.wmu.Unlock()
		return
	}
	c.writing = true
	if c.wclosed || c.closeAfter || c.pk == noPark {
		// Closing: the writer closes the socket as a close requires. Not a
		// plain socket (TLS, websockets): sendNow cannot write to it.
		go c.flushFn()
		c.wmu.Unlock()
		return
	}
	buf := c.out
	c.out = nil
	latAt, latN := c.latAt, c.latN
	c.latAt, c.latN = 0, 0
	c.wmu.Unlock()

	n, err := c.sendNow(buf)
	if n > 0 {
		c.srv.Stats.BytesSent.Add(int64(n))
		if latN > 0 && n == len(buf) {
			c.srv.Stats.Latency.ObserveN(time.Duration(monoNow()-latAt), latN)
		}
	}
	c.wmu.Lock()
	switch {
	case err != nil:
		c.writeFailed(err)
		putBuf(buf)
	case n < len(buf):
		// The socket is full, or is not one sendNow writes to: the rest
		// goes first, then whatever was appended meanwhile.
		rest := append(getBufCap(len(buf)-n+len(c.out)), buf[n:]...)
		if c.out != nil {
			rest = append(rest, c.out...)
			putBuf(c.out)
		}
		putBuf(buf)
		c.out = rest
		if latN > 0 && (c.latN == 0 || latAt < c.latAt) {
			c.latAt = latAt
		}
		c.latN += latN
	default:
		putBuf(buf)
	}
	if len(c.out) > 0 || c.closeAfter || c.wclosed {
		go c.flushFn() // writing stays set: the writer goroutine has it
	} else {
		if c.out != nil {
			putBuf(c.out)
			c.out = nil
		}
		c.writing = false
		if c.wcond != nil {
			c.wcond.Broadcast()
		}
	}
	c.wmu.Unlock()
}

// writeFailed records a write error (wmu held): the connection closes, with
// the error as its reason unless it already had one.
func (c *conn) writeFailed(err error) {
	c.wclosed = true
	if c.reason.Load() == int32(reasonNone) {
		c.errText = ErrorText(err)
		c.reason.Store(int32(reasonErrno))
		if isConnLost(err) {
			c.reason.Store(int32(reasonConnLost))
		}
		c.wake()
	}
	c.closeAfter = true
}

// noteLatency counts a message being appended to out for the latency
// histogram (wmu held); flush observes it once the bytes are written.
func (c *conn) noteLatency(recvAt int64) {
	if c.latN == 0 || recvAt < c.latAt {
		c.latAt = recvAt
	}
	c.latN++
}

// pending reports the unsent bytes (wmu held).
func (c *conn) full() bool { return c.outCap > 0 && len(c.out) >= c.outCap }

// flush writes out the buffer until it is empty, coalescing everything queued
// while a write was in progress into the next write.
func (c *conn) flush() {
	c.wmu.Lock()
	for len(c.out) > 0 && !c.wclosed {
		buf := c.out
		c.out = nil
		latAt, latN := c.latAt, c.latN
		c.latAt, c.latN = 0, 0
		closing := c.closeAfter
		c.wmu.Unlock()
		if closing {
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		}
		n, err := c.nc.Write(buf)
		c.srv.Stats.BytesSent.Add(int64(n))
		if latN > 0 && err == nil {
			// One clock read per write: every counted message in it is
			// given the oldest one's age, an upper bound for the others.
			c.srv.Stats.Latency.ObserveN(time.Duration(monoNow()-latAt), latN)
		}
		putBuf(buf)
		c.wmu.Lock()
		if err != nil {
			c.writeFailed(err)
		}
	}
	if c.out != nil && len(c.out) == 0 {
		putBuf(c.out)
		c.out = nil
	}
	c.writing = false
	if c.closeAfter && !c.wclosed {
		c.wclosed = true
	}
	if c.wclosed {
		c.nc.Close()
	}
	if c.wcond != nil {
		c.wcond.Broadcast()
	}
	c.wmu.Unlock()
}

func isConnLost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

// serve is the reader goroutine: it reads packets until the connection
// ends, then cleans up, unless the connection parks first (park.go). Read
// buffers come from a pool and go back whenever the buffer is empty, so an
// idle connection waits in a one-byte read, or is parked, with no buffer.
func (c *conn) serve() {
	c.nc.SetReadDeadline(c.connectDeadline()) // connect_timeout 0: none
	if !canPark(c.nc) {
		c.pk = noPark
	}
	c.run()
}

// run reads until the connection ends or parks.
func (c *conn) run() {
	if c.readLoop() {
		return // parked: whoever wakes it runs it again
	}
	c.end()
}

// end cleans up a connection whose reading has ended and releases its place
// in the listener's count and in Shutdown's wait.
func (c *conn) end() {
	c.cleanup()
	c.srv.acceptedMu.Lock()
	delete(c.srv.accepted, c)
	c.srv.acceptedMu.Unlock()
	c.l.count.Add(-1)
	c.srv.conns.Done()
}

// readLoop reads and handles packets. It returns when the connection must
// end (parked false) or has parked (parked true).
func (c *conn) readLoop() (parked bool) {
	var one [1]byte
	var buf []byte
	// hot: this reader has handled a packet other than CONNECT and has not
	// been quiet for idleAfter since; on a parkable connection it keeps its
	// buffer between reads. A connection waiting for its CONNECT holds no
	// buffer: a socket that sends nothing costs none until connect_timeout.
	hot := false
	for {
		if len(buf) == 0 && hot && c.parkable() {
			// A busy connection reads straight into a buffer: one read for
			// what arrived, where a one-byte read and the rest take two.
			// Parkable sockets only: they give the buffer back when they
			// go quiet (and park). A buffer grown for a large packet goes
			// back now.
			if cap(buf) != readBufSize {
				putBuf(buf)
				buf = getBuf()
			}
			c.flushReplies()
			n, err := c.nc.Read(buf[:cap(buf)])
			if n == 0 {
				putBuf(buf)
				buf = nil
				if c.connected && errors.Is(err, os.ErrDeadlineExceeded) {
					// Quiet: the one-byte read below sees the deadline
					// passed at once and checks idleness (idleTimeout).
					hot = false
					continue
				}
				c.readErr = err
				return false
			}
			buf = buf[:n]
			c.srv.Stats.BytesReceived.Add(int64(n))
		}
		if len(buf) == 0 {
			if buf != nil {
				putBuf(buf)
				buf = nil
			}
			c.flushReplies()
			n, err := c.nc.Read(one[:])
			if n == 0 {
				if c.connected && c.parkable() {
					more, parked := c.idleTimeout(err, true)
					if more {
						continue
					}
					return parked
				}
				c.readErr = err
				return false
			}
			c.srv.Stats.BytesReceived.Add(1)
			if !c.connected && packet.Type(one[0]>>4) != packet.CONNECT {
				// [MQTT-3.1.0-1] the first packet must be CONNECT; Mosquitto
				// fails as soon as the first byte arrives.
				c.fail(reasonProtocol)
				return false
			}
			buf = append(getBuf(), one[0])
		}
		// Consume whole packets.
		off := 0
		progressed := false
		for c.reason.Load() == int32(reasonNone) {
			first, rem, hn, err := packet.ParseFixedHeader(buf[off:])
			if err != nil {
				c.fail(reasonMalformed)
				return false
			}
			if hn == 0 {
				break
			}
			if !c.checkLength(first, rem) {
				return false
			}
			if len(buf)-off < hn+rem {
				break // the buffer grows below as the bytes arrive
			}
			body := buf[off+hn : off+hn+rem]
			off += hn + rem
			progressed = true
			if packet.Type(first>>4) != packet.CONNECT && c.parkable() {
				hot = true
			}
			c.srv.Stats.MessagesReceived.Add(1)
			if !c.handle(first, body) {
				return false
			}
		}
		if c.reason.Load() != int32(reasonNone) {
			return false
		}
		if off > 0 {
			n := copy(buf, buf[off:])
			buf = buf[:n]
		}
		if progressed {
			c.touch()
		}
		if len(buf) == 0 {
			continue
		}
		// buf now starts with the incomplete packet; total is its size once
		// its fixed header is complete.
		total := 0
		if _, rem, hn, err := packet.ParseFixedHeader(buf); err == nil && hn > 0 {
			total = hn + rem
		}
		if len(buf) == cap(buf) {
			// Grow by doubling, never past the packet, so a header claiming
			// 256 MB costs memory only as the bytes really arrive.
			size := 2 * cap(buf)
			if total > cap(buf) && total < size {
				size = total
			}
			nb := make([]byte, len(buf), size)
			copy(nb, buf)
			putBuf(buf)
			buf = nb
		}
		c.flushReplies()
		n, err := c.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		c.srv.Stats.BytesReceived.Add(int64(n))
		if n > 0 && c.keepalive > 0 && total-len(buf) > 1000 && c.connected {
			// Mosquitto counts a large packet still arriving as activity
			// while more than 1000 of its bytes are outstanding.
			c.touch()
		}
		if err != nil && n == 0 {
			if c.connected && c.parkable() {
				if more, _ := c.idleTimeout(err, false); more {
					continue
				}
			} else {
				c.readErr = err
			}
			putBuf(buf)
			return false
		}
	}
}

// checkLength applies max_packet_size and the CONNECT cap before the body is
// read. It reports false when the connection must close.
func (c *conn) checkLength(first byte, rem int) bool {
	// Mosquitto checks every CONNECT by type, a second one included.
	if packet.Type(first>>4) == packet.CONNECT && rem > maxConnectLen {
		c.fail(reasonMalformed)
		return false
	}
	if max := c.srv.Options().MaxPacketSize; max > 0 && uint32(rem)+1 > max {
		// Refused before the body arrives.
		c.fail(reasonOversizePacket)
		return false
	}
	return true
}

// cleanup runs when the reader stops: it logs the disconnect line, detaches
// the session and publishes the will where the close was not clean.
func (c *conn) cleanup() {
	r := closeReason(c.reason.Load())
	if r == reasonNone {
		r, text := c.classifyReadError()
		c.failText(r, text)
	}
	r = closeReason(c.reason.Load())
	// Wait for the writer to finish (it closes the socket).
	c.wmu.Lock()
	for c.writing {
		if c.wcond == nil {
			c.wcond = sync.NewCond(&c.wmu)
		}
		c.wcond.Wait()
	}
	if !c.wclosed {
		c.wclosed = true
		c.nc.Close()
	}
	if c.out != nil {
		putBuf(c.out)
		c.out = nil
	}
	text := c.errText
	c.wmu.Unlock()

	// The session goes offline before the line is logged, so whoever sees
	// the line also sees the session offline (Mosquitto is single-threaded);
	// the will follows the line, as in Mosquitto.
	var will *session.Will
	if c.sess != nil {
		will = c.srv.detach(c, r)
	}
	// Counted once the session is detached (and a clean one's
	// subscriptions dropped), so a figure read after the count sees them gone.
	c.srv.noteClosed(c, r) // stats.go: disconnects by reason, connected clients
	log := c.srv.log
	if int(r) < len(reasonEntries) && reasonEntries[r] != nil && log.On(reasonEntries[r]) {
		switch r {
		case reasonErrno, reasonBadSocket:
			log.Log(reasonEntries[r], c.name(), text)
		default:
			log.Log(reasonEntries[r], c.name())
		}
	}
	if will != nil {
		c.srv.publishWill(will)
	}
}

func (c *conn) classifyReadError() (closeReason, string) {
	err := c.readErr
	var ne net.Error
	switch {
	case err == nil:
		return reasonConnLost, ""
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return reasonTimeout, ""
	case isConnLost(err):
		return reasonConnLost, ""
	}
	return reasonErrno, ErrorText(err)
}
