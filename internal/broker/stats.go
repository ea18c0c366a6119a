package broker

import (
	"sync/atomic"
	"time"
)

// Stats are the broker's counters: the one set that $SYS (sys.go) and the
// Prometheus endpoint (internal/metrics) both read. Gauges (sessions,
// retained messages, connected clients) are not kept here; they are computed
// from the broker's state when read (figures.go).
type Stats struct {
	SocketsAccepted  atomic.Int64
	Connects         atomic.Int64
	ClientsExpired   atomic.Int64
	MessagesReceived atomic.Int64 // packets of any type
	MessagesSent     atomic.Int64
	PublishReceived  atomic.Int64
	PublishSent      atomic.Int64
	PublishBytesIn   atomic.Int64 // payload bytes of PUBLISH received
	PublishBytesOut  atomic.Int64 // payload bytes of PUBLISH sent
	BytesReceived    atomic.Int64
	BytesSent        atomic.Int64

	// Dropped counts messages dropped by a limit, per reason.
	Dropped [NumDropCauses]atomic.Int64

	// Disconnects counts ended connections by reason, whether or not their
	// CONNECT was accepted; DisconnectReason names each index.
	Disconnects [NumDisconnectReasons]atomic.Int64

	// Latency is the time from a client's PUBLISH arriving to each copy of
	// it being written to a subscriber's socket (conn.flush), for copies
	// routed to a connected subscriber; see conn.noteLatency.
	Latency Histogram
}

// DropCause says why a message was not delivered.
type DropCause int

const (
	DropQueueFull       DropCause = iota // max_queued_messages / max_queued_bytes
	DropQoS0Offline                      // QoS 0 to an offline session (queue_qos0_messages false)
	DropOutboundFull                     // QoS 0 to a connection whose unsent bytes reached the bound
	DropMessageTooLarge                  // inbound payload over message_size_limit
	DropPacketTooLarge                   // outbound packet over the client's Maximum Packet Size
	DropExpired                          // v5 message expired before delivery
	DropInboundQuota                     // inbound QoS 2 over the receive quota
	DropACLWrite                         // inbound PUBLISH or will refused by the WRITE check
	DropACLRead                          // one delivery refused by the subscriber's READ check
	NumDropCauses
)

var dropCauseNames = [NumDropCauses]string{"queue_full", "qos0_offline", "outbound_full",
	"message_too_large", "packet_too_large", "expired", "inbound_quota", "acl_write_denied", "acl_read_denied"}

// String names the cause (used as a metrics label).
func (d DropCause) String() string { return dropCauseNames[d] }

// DroppedTotal is the sum over causes.
func (s *Stats) DroppedTotal() int64 {
	var n int64
	for i := range s.Dropped {
		n += s.Dropped[i].Load()
	}
	return n
}

// closeReasonNames label Stats.Disconnects; the index is the closeReason.
var closeReasonNames = [...]string{
	reasonNone:            "",
	reasonDisconnect:      "disconnect",
	reasonConnLost:        "connection_lost",
	reasonMalformed:       "malformed_packet",
	reasonProtocol:        "protocol_error",
	reasonNotAuthorised:   "not_authorised",
	reasonTimeout:         "timeout",
	reasonOversizePacket:  "oversize_packet",
	reasonOversizePayload: "oversize_payload",
	reasonNotSupported:    "not_supported",
	reasonErrno:           "socket_error",
	reasonBadSocket:       "bad_socket",
	reasonTakenOver:       "session_taken_over",
	reasonShutdown:        "shutdown",
	reasonRevoked:         "revoked",
}

// NumDisconnectReasons is the size of Stats.Disconnects.
const NumDisconnectReasons = len(closeReasonNames)

// DisconnectReason names the i-th counter of Stats.Disconnects; "" marks an
// index that is never counted.
func DisconnectReason(i int) string { return closeReasonNames[i] }

// noteClosed counts a connection that ended (called once, from cleanup).
func (s *Server) noteClosed(c *conn, r closeReason) {
	if int(r) < NumDisconnectReasons {
		s.Stats.Disconnects[r].Add(1)
	}
	if c.connected {
		c.l.countClient(c.version, -1)
	}
}

// countClient moves the listener's count of connected clients of protocol
// version v (3, 4 or 5): +1 once a CONNECT is accepted, -1 when that
// connection ends, so the count never goes below zero.
func (l *listener) countClient(v byte, d int64) {
	if i := int(v) - 3; i >= 0 && i < len(l.clients) {
		l.clients[i].Add(d)
	}
}

// LatencyBuckets are the upper bounds of the Latency histogram's buckets.
var LatencyBuckets = [...]time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
	30 * time.Second, time.Minute,
}

// Histogram counts durations into LatencyBuckets without locks or
// allocation; the last slot counts what is above the largest bound.
type Histogram struct {
	counts [len(LatencyBuckets) + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// Observe adds one duration.
func (h *Histogram) Observe(d time.Duration) { h.ObserveN(d, 1) }

// ObserveN adds n observations of the same duration (a write of n messages
// of which d is the oldest's age).
func (h *Histogram) ObserveN(d time.Duration, n uint32) {
	i := 0
	for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(uint64(n))
	h.sum.Add(int64(d) * int64(n))
}

// Snapshot returns the count, the sum and the count per bucket (not
// cumulative; the last element is the overflow bucket). Concurrent
// observations may make the sum lag the counts by a few.
func (h *Histogram) Snapshot() (count uint64, sum time.Duration, buckets [len(LatencyBuckets) + 1]uint64) {
	for i := range h.counts {
		buckets[i] = h.counts[i].Load()
		count += buckets[i]
	}
	return count, time.Duration(h.sum.Load()), buckets
}

// clockBase anchors the broker's monotonic clock: message arrival times are
// kept as nanoseconds since it (plus one, so that 0 can mean "unknown"),
// and no time.Time is stored per message.
var clockBase = time.Now()

func monoNow() int64 { return int64(time.Since(clockBase)) + 1 }
