package broker

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/logging"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/topic"
)

// discardConn is a net.Conn whose writes vanish: the publish path without
// the kernel.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (discardConn) Read(b []byte) (int, error)       { return 0, io.EOF }

// benchServer has n connected v3.1.1 subscribers to filter at qos.
func benchServer(b *testing.B, n int, filter string, qos byte) *Server {
	o := DefaultOptions()
	o.Limits = session.Limits{}
	s := New(logging.NewWriter(io.Discard, logging.Options{}), o)
	l := &listener{spec: Listener{MaxQoS: 2, MaxConnections: -1}}
	for i := 0; i < n; i++ {
		c := newConn(s, l, discardConn{}, "127.0.0.1", 0)
		c.version, c.connected, c.ready, c.id = packet.V311, true, true, "sub"+strconv.Itoa(i)
		ss, _ := s.attach(c, c.id, true, 0, o.Limits)
		c.sess = ss
		s.subs.Subscribe(filter, ss, topic.Options{QoS: qos})
	}
	return s
}

// BenchmarkPublishQoS0 routes one 64-byte QoS 0 message to N subscribers
// (literal filter) through matching, the session and the connection's
// output buffer. allocs/op must not grow with N: no allocation per
// delivered message in steady state.
func BenchmarkPublishQoS0(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run("subs="+strconv.Itoa(n), func(b *testing.B) {
			s := benchServer(b, n, "bench/t", 0)
			m := &session.Message{Topic: "bench/t", Payload: make([]byte, 64), RecvAt: monoNow()} // a client message: latency is observed
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Publish(m)
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
			// allocs/op is rounded down to an integer; this is not.
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/delivery")
		})
	}
}

// BenchmarkPublishQoS0Wildcard is the same through a '+' and a '#' filter.
func BenchmarkPublishQoS0Wildcard(b *testing.B) {
	for _, f := range []string{"bench/+", "bench/#"} {
		b.Run(f, func(b *testing.B) {
			s := benchServer(b, 10, f, 0)
			m := &session.Message{Topic: "bench/t", Payload: make([]byte, 64), RecvAt: monoNow()} // a client message: latency is observed
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Publish(m)
			}
		})
	}
}

// replayConn feeds the same packets to the reader until n bytes were read.
type replayConn struct {
	discardConn
	chunk []byte
	off   int
	left  int
}

func (r *replayConn) Read(b []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && r.left > 0 {
		k := copy(b[n:min(len(b), n+r.left)], r.chunk[r.off:])
		n += k
		r.left -= k
		r.off = (r.off + k) % len(r.chunk)
	}
	return n, nil
}

// BenchmarkReadPublishQoS0 is the reader's side of the packet path: 64-byte
// QoS 0 PUBLISHes to a topic nobody subscribes to, read in 4 KiB batches,
// with keepalive 60, on a connection that may park (its deadline moves
// lazily) and on one that may not (the deadline moves after every batch).
// allocs/op is what one inbound message costs.
func BenchmarkReadPublishQoS0(b *testing.B) {
	for _, parkable := range []bool{false, true} {
		b.Run(fmt.Sprintf("parkable=%v", parkable), func(b *testing.B) {
			s := New(logging.NewWriter(io.Discard, logging.Options{}), DefaultOptions())
			l := &listener{spec: Listener{MaxQoS: 2, MaxConnections: -1}}
			l.sec.Store(&Security{AllowAnonymous: true})
			pk := packet.AppendPublish(nil, packet.V311, &packet.Publish{Topic: "bench/in", Payload: make([]byte, 64)})
			rc := &replayConn{chunk: pk, left: b.N * len(pk)}
			c := newConn(s, l, rc, "127.0.0.1", 0)
			c.version, c.connected, c.ready, c.id = packet.V311, true, true, "pub"
			c.keepalive = 60 * time.Second
			if !parkable {
				c.pk = noPark
			}
			c.owner = &owner{client: Client{ID: c.id}, l: l}
			c.owner.src = c.owner
			c.sess, _ = s.attach(c, c.id, true, 0, DefaultOptions().Limits)
			b.ReportAllocs()
			b.ResetTimer()
			c.readLoop()
			b.StopTimer()
			if got := s.Stats.MessagesReceived.Load(); got != int64(b.N) {
				b.Fatalf("%d messages read, want %d", got, b.N)
			}
		})
	}
}
