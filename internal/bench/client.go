package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// client is one raw MQTT connection. Packets are encoded with midge's codec
// into reusable buffers, and the hot ones (PUBLISH and its acks) are parsed
// in place, so the generator costs little per message.
type client struct {
	nc      net.Conn
	version byte
	rbuf    []byte
	r, w    int // unread bytes are rbuf[r:w]
	closed  bool
}

// loopbackSources is how many source addresses (127.0.0.2 and up) the
// generator's connections to a loopback broker are spread over. From one
// source address Linux gives connect() about 14,000 ports (the even half of
// 32768-60999) and then searches the odd half for each new one, and the
// ports of the previous run wait in TIME_WAIT for a minute: the last
// thousand connects of a 15,000-connection run took 0.3-0.7 s to dial,
// whichever broker was listening, which made the generator, not the
// broker, the 99th percentile of CONNACK latency.
const loopbackSources = 16

var (
	dialSeq      atomic.Uint32
	noSpreadDial atomic.Bool // binding a 127.0.0.x source failed once (e.g. not Linux)
)

// dial connects to addr. Its connection closes with a reset (SO_LINGER 0),
// so that a run leaves no TIME_WAIT ports for the next one to search past.
func dial(addr string, timeout time.Duration) (*client, error) {
	d := net.Dialer{Timeout: timeout}
	spread := false
	if host, _, err := net.SplitHostPort(addr); err == nil && !noSpreadDial.Load() {
		if ip := net.ParseIP(host); ip != nil && ip.To4() != nil && ip.IsLoopback() {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+dialSeq.Add(1)%loopbackSources))}
			spread = true
		}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil && spread && errors.Is(err, syscall.EADDRNOTAVAIL) {
		noSpreadDial.Store(true)
		d.LocalAddr = nil
		nc, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return &client{nc: nc, rbuf: make([]byte, 512)}, nil
}

// grow makes the read buffer at least n bytes, keeping unread bytes.
func (c *client) grow(n int) {
	if len(c.rbuf) >= n {
		return
	}
	nb := make([]byte, n)
	c.w = copy(nb, c.rbuf[c.r:c.w])
	c.r = 0
	c.rbuf = nb
}

// connect sends CONNECT and waits for a successful CONNACK.
func (c *client) connect(id string, version byte, timeout time.Duration) error {
	c.version = version
	b := packet.AppendConnect(nil, &packet.Connect{Version: version, CleanStart: true, ClientID: id})
	c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := c.nc.Write(b); err != nil {
		return err
	}
	first, body, err := c.next()
	if err != nil {
		return err
	}
	if packet.Type(first>>4) != packet.CONNACK {
		return fmt.Errorf("expected CONNACK, got %s", packet.Type(first>>4))
	}
	p, err := packet.Decode(first, body, version)
	if err != nil {
		return err
	}
	if code := p.(*packet.Connack).Code; code != 0 {
		return fmt.Errorf("CONNACK code %d", code)
	}
	return nil
}

// subscribe subscribes to filter and waits for a SUBACK granting it.
func (c *client) subscribe(filter string, qos byte, timeout time.Duration) error {
	b := packet.AppendSubscribe(nil, c.version, &packet.Subscribe{PacketID: 1,
		Subscriptions: []packet.Subscription{{Filter: filter, Options: packet.SubOptions{QoS: qos}}}})
	c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := c.nc.Write(b); err != nil {
		return err
	}
	for {
		first, body, err := c.next()
		if err != nil {
			return err
		}
		if packet.Type(first>>4) != packet.SUBACK {
			continue
		}
		p, err := packet.Decode(first, body, c.version)
		if err != nil {
			return err
		}
		s := p.(*packet.Suback)
		if len(s.Codes) != 1 || s.Codes[0] >= 0x80 {
			return fmt.Errorf("subscription to %q refused: %v", filter, s.Codes)
		}
		return nil
	}
}

// fill reads more bytes into rbuf, compacting or growing it as needed.
func (c *client) fill() error {
	if c.r > 0 && c.r == c.w {
		c.r, c.w = 0, 0
	}
	if c.w == len(c.rbuf) {
		if c.r > 0 {
			c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
			c.r = 0
		} else {
			nb := make([]byte, 2*len(c.rbuf))
			copy(nb, c.rbuf[:c.w])
			c.rbuf = nb
		}
	}
	n, err := c.nc.Read(c.rbuf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// parse returns the next whole packet already in rbuf, ok false when more
// bytes are needed. body aliases rbuf until the next fill.
func (c *client) parse() (first byte, body []byte, ok bool, err error) {
	first, rem, n, err := packet.ParseFixedHeader(c.rbuf[c.r:c.w])
	if err != nil || n == 0 || c.w-c.r < n+rem {
		return 0, nil, false, err
	}
	body = c.rbuf[c.r+n : c.r+n+rem]
	c.r += n + rem
	return first, body, true, nil
}

// next blocks for the next whole packet.
func (c *client) next() (byte, []byte, error) {
	for {
		first, body, ok, err := c.parse()
		if err != nil {
			return 0, nil, err
		}
		if ok {
			return first, body, nil
		}
		if err := c.fill(); err != nil {
			return 0, nil, err
		}
	}
}

func (c *client) close() {
	if c.closed {
		return
	}
	c.closed = true
	c.nc.Write(packet.AppendDisconnect(nil, c.version, &packet.Disconnect{}))
	c.nc.Close()
}

var errShort = errors.New("bench: short packet")

// pubView is an in-place parse of a PUBLISH body.
type pubView struct {
	qos     byte
	id      uint16
	topic   []byte
	payload []byte
}

func parsePublish(first byte, body []byte, version byte) (pubView, error) {
	v := pubView{qos: first >> 1 & 3}
	if len(body) < 2 {
		return v, errShort
	}
	tl := int(binary.BigEndian.Uint16(body))
	i := 2 + tl
	if len(body) < i {
		return v, errShort
	}
	v.topic = body[2:i]
	if v.qos > 0 {
		if len(body) < i+2 {
			return v, errShort
		}
		v.id = binary.BigEndian.Uint16(body[i:])
		i += 2
	}
	if version == packet.V5 {
		pl, n := uvarint(body[i:])
		if n == 0 || len(body) < i+n+pl {
			return v, errShort
		}
		i += n + pl
	}
	v.payload = body[i:]
	return v, nil
}

// uvarint decodes an MQTT variable byte integer, n == 0 on failure.
func uvarint(b []byte) (v, n int) {
	for i := 0; i < 4 && i < len(b); i++ {
		v |= int(b[i]&0x7F) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// ackID is the packet id of a PUBACK/PUBREC/PUBREL/PUBCOMP body.
func ackID(body []byte) uint16 {
	if len(body) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(body)
}

func appendAck(dst []byte, version byte, t packet.Type, id uint16) []byte {
	return packet.AppendAck(dst, version, &packet.Ack{Type: t, PacketID: id})
}
