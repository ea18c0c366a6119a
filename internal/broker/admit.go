package broker

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/midgemq/midge/internal/logcat"
)

// Admission counts the open sockets of a listener whose transport works on
// a socket before handing it to the broker (websockets: the TLS handshake
// and the HTTP upgrade). Mosquitto counts every socket against
// max_connections at accept time, whatever it is still waiting for
// (reference §6.13), so such a listener admits its raw sockets through
// Admission.Listener and passes the Admission in Listener.Admission; the
// broker then neither counts nor refuses its connections again. Other
// listeners (plain TCP, tlsx with its handshake on the first read, unix
// sockets) are counted by the broker's own accept.
type Admission struct {
	s   *Server
	max int
	n   atomic.Int64
}

// NewAdmission returns the counter of a listener with max_connections
// maxConnections (0 or -1: unlimited).
func (s *Server) NewAdmission(maxConnections int) *Admission {
	return &Admission{s: s, max: maxConnections}
}

// admit counts a socket just accepted. It reports false, after Mosquitto's
// "denied: max_connections exceeded" line, when the listener is full: the
// caller closes the socket. TCP_NODELAY stays on (as Go's accept leaves
// it) whatever set_tcp_nodelay says: Mosquitto's websockets sockets are
// libwebsockets', which always disables Nagle's algorithm.
func (a *Admission) admit(nc net.Conn) bool {
	if a.max > 0 && a.n.Load() >= int64(a.max) {
		ip, _ := splitHostPort(nc.RemoteAddr())
		a.s.log.Log(logcat.MaxConnections, ip)
		return false
	}
	a.n.Add(1)
	return true
}

// Listener wraps the raw listener: each accepted socket is admitted (or
// closed at once when the listener is full) and stops counting when it is
// closed, by the transport or, after the hand-over, by the broker.
func (a *Admission) Listener(ln net.Listener) net.Listener {
	return &admitListener{Listener: ln, a: a}
}

type admitListener struct {
	net.Listener
	a *Admission
}

func (l *admitListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.a.admit(nc) {
			return &admittedConn{Conn: nc, a: l.a}, nil
		}
		nc.Close()
	}
}

type admittedConn struct {
	net.Conn
	a    *Admission
	once sync.Once
}

func (c *admittedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.a.n.Add(-1) })
	return err
}

// NetConn returns the socket (setNoDelay and the like look through).
func (c *admittedConn) NetConn() net.Conn { return c.Conn }

// noDelayRaw applies set_tcp_nodelay to a socket accepted without Go's net
// (sock_linux.go), where nothing has turned TCP_NODELAY on: only true takes
// a call, and its failure is logged, as Mosquitto does.
func (s *Server) noDelayRaw(fd int) {
	if s.Options().SetTCPNoDelay && rawSetNoDelay(fd) != nil {
		s.log.Log(logcat.NoDelayFailed)
	}
}

// setNoDelay applies set_tcp_nodelay to a TCP socket, under any TLS layer
// (anything with NetConn). Mosquitto leaves Nagle's algorithm on unless
// set_tcp_nodelay is true. Go's accept has already turned TCP_NODELAY on
// (net.TCPConn's default), so only false takes a call: a second
// setsockopt for true was 4% of a connect storm's CPU. (A plain TCP
// listener on Linux accepts without Go's net and sets the option there,
// only when true: sock_linux.go.) Mosquitto's
// "Unable to set TCP_NODELAY." (logcat.NoDelayFailed) is therefore never
// logged here: Go ignores a failure of its own call, which TCP sockets do not
// have. Unix sockets have no such option and are left alone.
func (s *Server) setNoDelay(nc net.Conn) {
	if s.Options().SetTCPNoDelay {
		return // on since the accept
	}
	for {
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		nc = u.NetConn()
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	tc.SetNoDelay(false)
}
