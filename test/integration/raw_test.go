package integration

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// rawClient speaks MQTT with hand-built packets, for what real clients
// never send and for exact control over timing.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	v  byte
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, v: packet.V311}
}

func (r *rawClient) send(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// connect sends CONNECT and returns the CONNACK.
func (r *rawClient) connect(c *packet.Connect) *packet.Connack {
	r.t.Helper()
	if c.ProtocolName == "" {
		c.ProtocolName, c.ProtocolLevel, c.Version = "MQTT", 4, 4
	}
	r.v = c.ProtocolLevel & 0x7F
	r.send(packet.AppendConnect(nil, c))
	p := r.read(5 * time.Second)
	ack, ok := p.(*packet.Connack)
	if !ok {
		r.t.Fatalf("expected CONNACK, got %T", p)
	}
	return ack
}

// read reads one packet.
func (r *rawClient) read(d time.Duration) any {
	r.t.Helper()
	p, err := r.tryRead(d)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return p
}

func (r *rawClient) tryRead(d time.Duration) (any, error) {
	r.nc.SetReadDeadline(time.Now().Add(d))
	hdr := make([]byte, 0, 5)
	var one [1]byte
	for {
		if _, err := io.ReadFull(r.nc, one[:]); err != nil {
			return nil, err
		}
		hdr = append(hdr, one[0])
		first, rem, n, err := packet.ParseFixedHeader(hdr)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		body := make([]byte, rem)
		if _, err := io.ReadFull(r.nc, body); err != nil {
			return nil, err
		}
		return packet.Decode(first, body, r.v)
	}
}

// expectClosed waits for the broker to close the connection.
func (r *rawClient) expectClosed(d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		p, err := r.tryRead(time.Until(deadline))
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatalf("connection still open after %v", d)
			}
			return
		}
		_ = p // packets sent before the close (e.g. CONNACK, DISCONNECT) are fine
	}
}

// connectPacket is a clean-session 3.1.1 CONNECT with keepalive 60.
func connectPacket(id string) *packet.Connect {
	return &packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, Version: 4, ClientID: id, KeepAlive: 60, CleanStart: true}
}
