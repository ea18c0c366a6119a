package broker

import "sync/atomic"

// Stats are the broker counters; they will feed $SYS and metrics.
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
	NumDropCauses
)

var dropCauseNames = [NumDropCauses]string{"queue_full", "qos0_offline", "outbound_full",
	"message_too_large", "packet_too_large", "expired", "inbound_quota"}

// String names the cause (used as a metrics label).
func (d DropCause) String() string { return dropCauseNames[d] }

// DroppedTotal is the sum over causes ($SYS/broker/publish/messages/dropped).
func (s *Stats) DroppedTotal() int64 {
	var n int64
	for i := range s.Dropped {
		n += s.Dropped[i].Load()
	}
	return n
}
