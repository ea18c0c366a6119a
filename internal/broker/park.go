package broker

import (
	"errors"
	"os"
	"time"
)

// Parking: an idle connection holds no goroutine.
//
// A reader that has read nothing for idleAfter, with no partial packet
// buffered, hands its socket to the server's poller (park_linux.go: one
// epoll instance and one goroutine for the whole server) and returns. An
// inbound byte, the peer's close, the keepalive expiring (a timer) or a
// close from outside the reader (fail: takeover, shutdown, a writer error,
// a reload that revokes the client) resumes it on a new goroutine, which
// reads on as before. Only plain sockets (canPark) park, and only on
// Linux; TLS and websockets connections keep their reader. A new plain
// socket parks before its CONNECT too, until the CONNECT comes (the poller
// handles it) or connect_timeout passes, and parks again right after the
// CONNACK (accept_linux.go).
//
// Idleness costs no timer work on the packet path: a parkable connection
// records the time of its last complete packet (lastRead) instead of moving
// its read deadline, and the deadline, set to the sooner of the keepalive
// expiry and the next idleness check, is moved only when it passes.
//
// state says who runs the reader: running, parked (no goroutine: exactly one
// waker may CAS it back to running and start one), or woken (a wake arrived
// while the reader was running, so an attempt to park fails and the reader
// looks again). See docs/DESIGN.md, "Goroutines".

// idleAfter is how long a connection reads nothing before it parks. Tests
// lower it before starting a server.
var idleAfter = time.Second

const (
	stateRunning int32 = iota
	stateParked
	stateWoken
)

// noPark is the pk of every connection that never parks.
var noPark = &parking{}

// parkable reports whether the connection may park when idle: a plain
// socket (canPark), on which parking has not failed.
func (c *conn) parkable() bool { return c.pk != noPark }

// monoTime turns a monoNow reading (stats.go) back into a time.Time.
func monoTime(t int64) time.Time { return clockBase.Add(time.Duration(t - 1)) }

// kaLimit is how long the connection may read nothing: 1.5 × keepalive
// [MQTT311-3.1.2-24] [MQTT5-3.1.2-22]; 0 for none.
func (c *conn) kaLimit() int64 { return int64(c.keepalive * 3 / 2) }

// connectLimit is when a connection that has not completed its CONNECT is
// closed (monoNow time; 0 for never): connect_timeout after the accept, or
// never with connect_timeout 0.
func (c *conn) connectLimit() int64 {
	if ct := c.srv.Options().ConnectTimeout; ct > 0 {
		return c.lastRead + int64(ct)
	}
	return 0
}

// connectDeadline is connectLimit as a read deadline (zero: none).
func (c *conn) connectDeadline() time.Time {
	if at := c.connectLimit(); at > 0 {
		return monoTime(at)
	}
	return time.Time{}
}

// parkLimit is when a parked connection must be woken although its socket
// is quiet (monoNow time; 0 for never): connectLimit for one waiting for
// its CONNECT, else the keepalive expiry.
func (c *conn) parkLimit() int64 {
	if !c.connected {
		return c.connectLimit()
	}
	if ka := c.kaLimit(); ka > 0 {
		return c.lastRead + ka
	}
	return 0
}

// touch restarts the keepalive period after inbound activity.
func (c *conn) touch() {
	if c.parkable() {
		c.lastRead = monoNow() // the deadline follows lazily (idleTimeout)
	} else if c.keepalive > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.keepalive * 3 / 2))
	}
}

// startKeepalive sets the read deadline once CONNECT is accepted.
func (c *conn) startKeepalive() {
	if c.parkable() {
		c.lastRead = monoNow()
		c.armFrom(c.lastRead)
	} else if c.keepalive > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.keepalive * 3 / 2))
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
}

// armFrom sets the read deadline of a parkable connection to the next
// idleness check, idleAfter from t, or the keepalive expiry if sooner.
func (c *conn) armFrom(t int64) {
	d := t + int64(idleAfter)
	if ka := c.kaLimit(); ka > 0 && c.lastRead+ka < d {
		d = c.lastRead + ka
	}
	c.nc.SetReadDeadline(monoTime(d))
}

// idleTimeout handles a read deadline passing on a connected parkable
// connection. empty is true when no partial packet is buffered. It returns
// true to read on, false when the connection must end (c.readErr set, or
// c.reason) or has parked (parked true: the goroutine must return without
// cleaning up).
func (c *conn) idleTimeout(err error, empty bool) (more, parked bool) {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.readErr = err
		return false, false
	}
	now := monoNow()
	if c.keepaliveExpired(now) {
		c.readErr = err // "has exceeded timeout" (classifyReadError)
		return false, false
	}
	switch {
	case now-c.lastRead < int64(idleAfter):
		// Packets arrived since the deadline was set.
		c.armFrom(c.lastRead)
	case !empty:
		// A packet is arriving slowly: the buffer is held, look again later.
		c.armFrom(now)
	default:
		parked, ok := c.park()
		if parked {
			return false, true
		}
		if ok {
			return c.awake(), false // woken while parking
		}
		// No poller: read on with the plain keepalive deadline.
		c.pk = noPark
		var d time.Time
		if ka := c.kaLimit(); ka > 0 {
			d = monoTime(c.lastRead + ka)
		}
		c.nc.SetReadDeadline(d)
	}
	return true, false
}

// awake readies a connection that was parked, or was woken while parking,
// to read again. It reports false when the connection must end instead.
func (c *conn) awake() bool {
	// Back to running first: a wake from now on only marks the state, and
	// what it could mean (a close, the keepalive) is checked below.
	c.state.Store(stateRunning)
	c.unpark()
	if c.reason.Load() != int32(reasonNone) {
		return false
	}
	if !c.connected {
		// Parked before its CONNECT (accept_linux.go): the reader waits for
		// it until connect_timeout from the accept, as serve sets.
		c.nc.SetReadDeadline(c.connectDeadline())
		return true
	}
	now := monoNow()
	if c.keepaliveExpired(now) {
		c.readErr = os.ErrDeadlineExceeded
		return false
	}
	c.armFrom(now)
	return true
}

// keepaliveExpired reports whether 1.5 x keepalive has passed since the
// last packet with nothing waiting to be read. Bytes already on the socket
// may have come in time, with this goroutine run late (a busy machine,
// thousands of wakes at once), and a read with the deadline passed would not
// return them: they count as activity now, and the reader reads them.
func (c *conn) keepaliveExpired(now int64) bool {
	ka := c.kaLimit()
	if ka == 0 || now-c.lastRead < ka {
		return false
	}
	if c.bytesWaiting() {
		c.lastRead = now
		return false
	}
	return true
}

// wake resumes a parked connection on a new goroutine, or marks a running
// one so that it does not park before looking again. Called by the poller,
// the keepalive timer and fail; at most one of them resumes a given park.
func (c *conn) wake() {
	for {
		switch c.state.Load() {
		case stateParked:
			if c.state.CompareAndSwap(stateParked, stateRunning) {
				go c.unparked()
				return
			}
		case stateRunning:
			if c.state.CompareAndSwap(stateRunning, stateWoken) {
				return
			}
		default:
			return
		}
	}
}

// unparked is the goroutine of a connection woken from its park.
func (c *conn) unparked() {
	if c.awake() {
		c.run()
		return
	}
	c.end()
}
