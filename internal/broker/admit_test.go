package broker

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"syscall"
	"testing"
)

func tcpNoDelay(t *testing.T, tc *net.TCPConn) bool {
	t.Helper()
	raw, err := tc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	raw.Control(func(fd uintptr) { v, err = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY) })
	if err != nil {
		t.Fatal(err)
	}
	return v != 0
}

// TestSetNoDelayUnderTLS: set_tcp_nodelay (on or off) holds for the TCP
// socket, as accepted, under a TLS layer and under the websockets
// admission wrapper; a unix socket is left alone without a warning.
func TestSetNoDelayUnderTLS(t *testing.T) {
	t.Parallel()
	ln, err := ListenSocket("tcp", "127.0.0.1:0") // as the broker listens
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, on := range []bool{false, true} {
		o := DefaultOptions()
		o.SetTCPNoDelay = on
		s, buf := testServer(o)
		cl, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		tc := sc.(*net.TCPConn)
		// setNoDelay relies on Go's accept having turned TCP_NODELAY on.
		if !tcpNoDelay(t, tc) {
			t.Fatal("an accepted socket has TCP_NODELAY off: setNoDelay must set it for set_tcp_nodelay true")
		}
		for name, wrap := range map[string]net.Conn{
			"tls":             tls.Server(sc, &tls.Config{}),
			"admitted":        &admittedConn{Conn: sc},
			"tls on admitted": tls.Server(&admittedConn{Conn: sc}, &tls.Config{}),
		} {
			tc.SetNoDelay(true) // as accepted
			s.setNoDelay(wrap)
			if got := tcpNoDelay(t, tc); got != on {
				t.Errorf("set_tcp_nodelay %v, %s: TCP_NODELAY %v", on, name, got)
			}
		}
		ul, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
		if err != nil {
			t.Fatal(err)
		}
		defer ul.Close()
		uc, err := net.Dial("unix", ul.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer uc.Close()
		s.setNoDelay(tls.Server(uc, &tls.Config{}))
		if buf.count("TCP_NODELAY") != 0 {
			t.Errorf("warning logged for a unix socket")
		}
	}
}
