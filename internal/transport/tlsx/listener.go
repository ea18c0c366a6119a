package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
)

// Listener serves TLS over an accepted-socket listener. Accept returns at
// once; the handshake runs on the connection's first Read, so it is bounded
// by the read deadline the broker sets for CONNECT (connect_timeout) and never
// holds up the accept loop.
type Listener struct {
	net.Listener
	Config *tls.Config
	// OnError is told of a failed handshake (peer address, OpenSSL-style text).
	OnError func(remote net.Addr, text string)
	// Username, when set, gives the username for use_identity_as_username /
	// use_subject_as_username from the verified peer; ok false refuses.
	Username func(peer *x509.Certificate) (string, bool)
}

// Accept returns the next connection, its handshake still to come.
func (l *Listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: tls.Server(nc, l.Config), l: l}, nil
}

// Conn is a server-side TLS connection whose handshake failure is reported
// once, as Mosquitto reports it: an OpenSSL error line, then the read fails
// with EPROTO ("Client <unknown> disconnected: Protocol error.").
type Conn struct {
	*tls.Conn
	l    *Listener
	once sync.Once
	herr error
}

func (c *Conn) handshake() error {
	c.once.Do(func() {
		err := c.Conn.Handshake()
		if err == nil {
			return
		}
		if text, quiet := OpenSSLText(err); !quiet {
			if c.l.OnError != nil {
				c.l.OnError(c.RemoteAddr(), text)
			}
			c.herr = &net.OpError{Op: "read", Net: "tcp", Err: syscall.EPROTO}
			return
		}
		c.herr = err
	})
	return c.herr
}

// Read runs the handshake first.
func (c *Conn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// Write runs the handshake first (the broker never writes before reading).
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// TLSUsername gives the username the broker must use instead of the
// CONNECT one; active false when the listener does not take usernames from
// certificates. ok false means the identity is missing (CONNACK 4 / 0x86).
func (c *Conn) TLSUsername() (name string, ok, active bool) {
	if c.l.Username == nil {
		return "", false, false
	}
	cs := c.Conn.ConnectionState()
	if len(cs.PeerCertificates) == 0 {
		return "", false, true
	}
	name, ok = c.l.Username(cs.PeerCertificates[0])
	return name, ok, true
}

// OpenSSLText renders a handshake error the way OpenSSL 3 (Debian 12's)
// prints it in Mosquitto's "OpenSSL Error[0]: %s" line. quiet is true for a
// peer that went away or timed out before a TLS error occurred: the broker
// reports those as it reports any lost or idle socket.
func OpenSSLText(err error) (text string, quiet bool) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed):
		return "", true
	case errors.As(err, &ne) && ne.Timeout():
		return "", true
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return alertText(uint8(alert)), false
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		// OpenSSL's first-record check (ssl3_get_record) names an HTTP
		// request or proxy CONNECT before calling anything else that is not
		// TLS a wrong version number.
		h := string(rh.RecordHeader[:])
		for _, m := range []string{"GET ", "POST ", "HEAD ", "PUT "} {
			if strings.HasPrefix(h, m) {
				return "error:0A00009C:SSL routines::http request", false
			}
		}
		if h == "CONNE" {
			return "error:0A00009B:SSL routines::https proxy request", false
		}
		return "error:0A00010B:SSL routines::wrong version number", false
	}
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) {
		return "error:0A000086:SSL routines::certificate verify failed", false
	}
	if errors.Is(err, ErrRevoked) || errors.Is(err, ErrNoCRL) || errors.Is(err, ErrCRLExpired) {
		return "error:0A000086:SSL routines::certificate verify failed", false
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "didn't provide a certificate"):
		return "error:0A0000C7:SSL routines::peer did not return a certificate", false
	case strings.Contains(msg, "unsupported versions"):
		return "error:0A000102:SSL routines::unsupported protocol", false
	case strings.Contains(msg, "no cipher suite supported"):
		return "error:0A0000C1:SSL routines::no shared cipher", false
	case strings.Contains(msg, "unexpected EOF"):
		return "error:0A000126:SSL routines::unexpected eof while reading", false
	}
	return "midge: " + msg, false
}

func alertText(a uint8) string {
	names := map[uint8]string{
		10: "sslv3 alert unexpected message", 20: "sslv3 alert bad record mac", 40: "sslv3 alert handshake failure",
		42: "sslv3 alert bad certificate", 43: "sslv3 alert unsupported certificate",
		44: "sslv3 alert certificate revoked", 45: "sslv3 alert certificate expired",
		46: "sslv3 alert certificate unknown", 47: "sslv3 alert illegal parameter", 48: "tlsv1 alert unknown ca",
		49: "tlsv1 alert access denied", 50: "tlsv1 alert decode error", 51: "tlsv1 alert decrypt error",
		70: "tlsv1 alert protocol version", 71: "tlsv1 alert insufficient security",
		80: "tlsv1 alert internal error", 90: "tlsv1 alert user cancelled", 109: "tls alert missing extension",
		112: "tlsv1 unrecognized name", 116: "tlsv13 alert certificate required",
	}
	n, ok := names[a]
	if !ok {
		n = fmt.Sprintf("unknown alert %d", a)
	}
	return fmt.Sprintf("error:0A%06X:SSL routines::%s", 1000+int(a), n)
}
