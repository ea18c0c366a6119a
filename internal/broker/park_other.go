//go:build !linux

package broker

import "net"

// Elsewhere than Linux nothing parks: every connection keeps its reader
// goroutine (park.go).

type parking struct{}

type parkPoller struct{}

func (*parkPoller) close() {}

func canPark(net.Conn) bool { return false }

func (c *conn) park() (parked, ok bool) { return false, false }

func (c *conn) unpark() {}

func (c *conn) bytesWaiting() bool { return false }

// sendNow is not available: replies go through a writer goroutine.
func (c *conn) sendNow([]byte) (int, error) { return 0, nil }

// connectOnAccept: the reader handles every CONNECT (accept_linux.go).
func (c *conn) connectOnAccept() bool { return false }

// sockAccepter: listeners accept with Go's net (sock_linux.go).
type sockAccepter struct{}

func newSockAccepter(net.Listener, func(int)) *sockAccepter { return nil }

func (*sockAccepter) Accept() (net.Conn, error) { return nil, net.ErrClosed }

func (*sockAccepter) Close() {}

// rawSetNoDelay is not called: nothing accepts raw (noDelayRaw).
func rawSetNoDelay(int) error { return nil }
