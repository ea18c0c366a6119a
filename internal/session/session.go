// Package session holds the state MQTT keeps for a client identifier across
// connections: subscriptions, outbound messages in flight and queued, inbound
// QoS 2 messages awaiting PUBREL, the will and the expiry. It does no I/O:
// the broker's connection asks it what to send and tells it what arrived.
//
// A Session is not a connection. A persistent session outlives its
// connections; a clean one ends with its connection.
//
// Locking: Session.Mu guards every field below it. The broker holds it while
// deciding a delivery and encoding the resulting packet into the connection's
// outbound buffer (lock order Session.Mu -> connection write lock).
package session

import (
	"bytes"
	"sync"

	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/topic"
)

// Message is an application message as routed: immutable once created, shared
// by every subscriber it is delivered to.
type Message struct {
	Topic     string
	Payload   []byte
	QoS       byte
	Retain    bool
	Props     *packet.Properties // v5 properties to forward; nil if none
	Origin    string             // publisher's client id ("" for the broker)
	ExpiresAt int64              // unix seconds; 0 = never

	// Source is who published the message, opaque to this package: the
	// broker checks a retained message's source again (check_retain_source).
	// nil for the broker's own messages and messages restored from a store.
	Source any

	// RecvAt is when the broker received the client's PUBLISH, on the
	// broker's monotonic clock (nanoseconds); 0 for the broker's own
	// messages, wills and messages restored from a store. Not stored.
	RecvAt int64
}

// Same reports whether two messages carry the same content (used for the
// "Reused message ID" check on inbound QoS 2).
func (m *Message) Same(o *Message) bool {
	return m.Topic == o.Topic && m.QoS == o.QoS && m.Retain == o.Retain && bytes.Equal(m.Payload, o.Payload)
}

// Size is the payload size counted against byte limits.
func (m *Message) Size() int64 { return int64(len(m.Payload)) }

// State is where an outbound QoS 1/2 message is in its handshake.
type State byte

const (
	WaitPuback  State = iota // QoS 1 sent, waiting for PUBACK
	WaitPubrec               // QoS 2 sent, waiting for PUBREC
	WaitPubcomp              // PUBREL sent, waiting for PUBCOMP
)

// Outbound is one outbound message bound to this session.
type Outbound struct {
	Msg    *Message
	QoS    byte // delivery QoS
	Retain bool // retain flag as delivered
	Mid    uint16
	State  State
	Dup    bool // set when re-sent
	SubIDs []uint32
	// Seq is the key of this message in the broker's store (0 = not stored).
	Seq uint64
	// WriteSeq is the store sequence number of this message's latest record
	// write; the PUBLISH must not go out before it is durable (0 = none).
	WriteSeq uint64
}

// Limits are the Mosquitto limits that apply to one session.
type Limits struct {
	MaxInflight      int   // max_inflight_messages (0 = unlimited)
	MaxInflightBytes int64 // max_inflight_bytes (0 = unlimited)
	MaxQueued        int   // max_queued_messages (0 = unlimited)
	MaxQueuedBytes   int64 // max_queued_bytes (0 = unlimited)
	QueueQoS0        bool  // queue_qos0_messages
}

// Will is a stored will message.
type Will struct {
	Msg   *Message
	Delay uint32 // v5 will delay, seconds
	// Owner is who set the will, opaque to this package: the broker checks
	// the will's write access with it when the will is sent.
	Owner any
}

// Session is the per client-id state. See the package doc for locking.
type Session struct {
	ID string

	Mu sync.Mutex
	// Version is the protocol version of the last connection (packet.V31...).
	Version byte
	// Clean is the clean session / clean start flag of the last connection.
	Clean bool
	// Expiry is the session expiry interval in seconds; ^uint32(0) = never.
	Expiry uint32
	// DisconnectedAt is the unix time the session went offline (0 = online).
	DisconnectedAt int64
	// Conn is the current connection (nil when offline). Opaque to this package.
	Conn any
	// Owner is the identity of the client the session belongs to, opaque to
	// this package: the broker checks read access with it per delivery,
	// also while the session is offline.
	Owner any
	// Subs maps each filter to its options; nil until the first
	// subscription (an idle client that never subscribes carries no map).
	Subs map[string]topic.Options
	// Will is the current connection's will (nil if none).
	Will *Will
	// Dropping is set once the "Outgoing messages are being dropped" line was
	// logged, and cleared by the next successful CONNECT.
	Dropping bool
	// Expired marks a session removed from the broker.
	Expired bool
	// Persisted is set while the broker's store holds a record of the session.
	Persisted bool

	lastMid  uint16 // next to the flags above: one word, not two
	lim      Limits
	inflight []*Outbound // in send order
	inBytes  int64
	queue    []*Outbound
	qBytes   int64
	inQoS2   map[uint16]*Message // inbound QoS 2 awaiting PUBREL
	sp       spill               // queued messages kept only in the broker's store (spill.go)
	// byMid indexes inflight by packet id once it holds midIndexMin or more
	// messages (nil below): with max_inflight_messages 0 a busy subscriber
	// can have thousands in flight, and a linear search per new packet id
	// and per ack cost tens of µs per message (docs/BENCHMARKS.md).
	byMid map[uint16]*Outbound
	// now0 is the Outbound that Deliver returns for a QoS 0 message sent at
	// once: reused, so that delivery allocates nothing; valid while Mu is held.
	now0 Outbound
}

// New returns an empty session.
func New(id string, lim Limits) *Session {
	return &Session{ID: id, lim: lim}
}

// ProtocolVersion returns Version, taking the lock.
func (s *Session) ProtocolVersion() byte {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	return s.Version
}

// SetLimits replaces the limits (e.g. a v5 Receive Maximum). Lock held.
func (s *Session) SetLimits(l Limits) { s.lim = l }

// Limits returns the limits. Lock held.
func (s *Session) Limits() Limits { return s.lim }

// nextMid allocates a packet id: sequential, skipping 0 and ids in flight.
func (s *Session) nextMid() uint16 {
	for {
		s.lastMid++
		if s.lastMid == 0 {
			s.lastMid = 1
		}
		if s.byMid != nil {
			if _, used := s.byMid[s.lastMid]; !used {
				return s.lastMid
			}
		} else if s.findInflight(s.lastMid) < 0 {
			return s.lastMid
		}
	}
}

// midIndexMin is the number of messages in flight from which byMid is kept.
const midIndexMin = 32

// maxMids is the number of packet ids (1..65535).
const maxMids = 65535

func (s *Session) findInflight(mid uint16) int {
	if s.byMid != nil {
		o, ok := s.byMid[mid]
		if !ok {
			return -1
		}
		// Acks mostly come in send order: o is near the front.
		for i, p := range s.inflight {
			if p == o {
				return i
			}
		}
		return -1
	}
	for i, o := range s.inflight {
		if o.Mid == mid {
			return i
		}
	}
	return -1
}

// lookup returns the message in flight with packet id mid, or nil. Unlike
// findInflight it needs no position, so with the index it does not scan:
// a PUBREC is for a message behind all those waiting for PUBCOMP.
func (s *Session) lookup(mid uint16) *Outbound {
	if s.byMid != nil {
		return s.byMid[mid]
	}
	if i := s.findInflight(mid); i >= 0 {
		return s.inflight[i]
	}
	return nil
}

// reindex rebuilds byMid after inflight was replaced or filtered.
func (s *Session) reindex() {
	s.byMid = nil
	if len(s.inflight) >= midIndexMin {
		s.byMid = make(map[uint16]*Outbound, len(s.inflight))
		for _, o := range s.inflight {
			s.byMid[o.Mid] = o
		}
	}
}

// Decision is what Deliver decided.
type Decision byte

const (
	SendNow Decision = iota // write the returned Outbound now
	Queued                  // kept for later
	Dropped                 // dropped by a limit
	// Spilled: queued, but only in the broker's store: the caller must write
	// it there and report its keys with NoteSpill (spill.go).
	Spilled
)

// DropReason says which limit dropped a message.
type DropReason byte

const (
	NotDropped      DropReason = iota
	DropQueueFull              // max_queued_messages / max_queued_bytes
	DropQoS0Offline            // QoS 0 for an offline session without queue_qos0_messages
	numDropReasons
)

// NumDropReasons is the number of DropReason values (for counters).
const NumDropReasons = int(numDropReasons)

func (s *Session) windowOpen() bool {
	if s.lim.MaxInflight > 0 && len(s.inflight) >= s.lim.MaxInflight {
		return false
	}
	// Whatever the limits (max_inflight_messages 0 is unlimited), there are
	// 65535 packet ids: with all of them in flight nextMid would never
	// return, holding the session lock.
	if len(s.inflight) >= maxMids {
		return false
	}
	// Like Mosquitto's db__ready_for_flight: the bytes already in flight
	// must be below the limit; the new message may take them past it.
	if s.lim.MaxInflightBytes > 0 && s.inBytes >= s.lim.MaxInflightBytes {
		return false
	}
	return true
}

// queueAllows follows Mosquitto's db__ready_for_queue: the messages and
// bytes already queued must be below the limits, less the window (count and
// max_inflight_bytes) for a connected client.
func (s *Session) queueAllows(online bool) bool {
	n, nb := len(s.queue)+s.sp.n, s.qBytes+s.sp.bytes
	if online {
		// Mosquitto lets a connected client queue max_queued_messages beyond the window.
		n -= s.lim.MaxInflight
		nb -= s.lim.MaxInflightBytes
	}
	if s.lim.MaxQueued > 0 && n >= s.lim.MaxQueued {
		return false
	}
	if s.lim.MaxQueuedBytes > 0 && nb >= s.lim.MaxQueuedBytes {
		return false
	}
	return true
}

// Deliver decides what happens to a message for this session at delivery
// QoS qos. online says whether a connection is attached. For SendNow with
// qos > 0 the returned Outbound is already in flight with a packet id; for
// qos 0 it has Mid 0 and is not tracked. Lock held.
func (s *Session) Deliver(m *Message, qos byte, retain bool, subIDs []uint32, online bool) (*Outbound, Decision, DropReason) {
	if qos == 0 && online {
		s.now0 = Outbound{Msg: m, Retain: retain, SubIDs: subIDs}
		return &s.now0, SendNow, NotDropped
	}
	o := &Outbound{Msg: m, QoS: qos, Retain: retain, SubIDs: subIDs}
	if qos == 0 {
		if !s.lim.QueueQoS0 {
			return nil, Dropped, DropQoS0Offline
		}
		if !s.queueAllows(false) {
			return nil, Dropped, DropQueueFull
		}
		return o, s.push(o), NotDropped
	}
	if online && len(s.queue) == 0 && s.sp.n == 0 && s.windowOpen() {
		s.track(o)
		return o, SendNow, NotDropped
	}
	if !s.queueAllows(online) {
		return nil, Dropped, DropQueueFull
	}
	return o, s.push(o), NotDropped
}

// push queues o in memory, or spills it when the in-memory bound is
// reached or earlier messages are spilled already (FIFO order).
func (s *Session) push(o *Outbound) Decision {
	if s.sp.max > 0 && (s.sp.n > 0 || len(s.queue) >= s.sp.max) {
		s.sp.n++
		s.sp.bytes += o.Msg.Size()
		return Spilled
	}
	s.queue = append(s.queue, o)
	s.qBytes += o.Msg.Size()
	return Queued
}

func (s *Session) track(o *Outbound) {
	o.Mid = s.nextMid()
	if o.QoS == 2 {
		o.State = WaitPubrec
	} else {
		o.State = WaitPuback
	}
	s.inflight = append(s.inflight, o)
	s.inBytes += o.Msg.Size()
	if s.byMid != nil {
		s.byMid[o.Mid] = o
	} else if len(s.inflight) >= midIndexMin {
		s.reindex()
	}
}

// Promote moves queued messages into the window, in FIFO order, and returns
// those to send now. QoS 0 messages queued while offline are returned too
// (untracked). Messages whose expiry has passed by now are discarded and
// counted in expired. Lock held.
func (s *Session) Promote(now int64) (out []*Outbound, expired int) {
	i := 0
	for ; i < len(s.queue); i++ {
		o := s.queue[i]
		if o.Msg.ExpiresAt > 0 && o.Msg.ExpiresAt <= now {
			s.qBytes -= o.Msg.Size()
			expired++
			continue
		}
		if o.QoS > 0 {
			if !s.windowOpen() {
				break
			}
			s.track(o)
		}
		s.qBytes -= o.Msg.Size()
		out = append(out, o)
	}
	s.queue = append(s.queue[:0], s.queue[i:]...)
	return out, expired
}

func (s *Session) remove(i int) *Outbound {
	o := s.inflight[i]
	if i == 0 {
		// The usual case (acks in order): no copy of the rest.
		s.inflight[0] = nil
		s.inflight = s.inflight[1:]
	} else {
		s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
		s.inflight[len(s.inflight):cap(s.inflight)][0] = nil
	}
	s.inBytes -= o.Msg.Size()
	if s.byMid != nil {
		delete(s.byMid, o.Mid)
		if len(s.inflight) == 0 {
			s.byMid = nil
		}
	}
	return o
}

// Puback completes a QoS 1 delivery. ok is false for an unknown id. Lock held.
func (s *Session) Puback(mid uint16) bool {
	i := s.findInflight(mid)
	if i < 0 || s.inflight[i].State != WaitPuback {
		return false
	}
	s.remove(i)
	return true
}

// Pubrec advances a QoS 2 delivery to the PUBREL step. ok is false for an
// unknown id. Lock held.
func (s *Session) Pubrec(mid uint16) bool {
	o := s.lookup(mid)
	if o == nil || o.State == WaitPuback {
		return false
	}
	o.State = WaitPubcomp
	return true
}

// Pubcomp completes a QoS 2 delivery. Lock held.
func (s *Session) Pubcomp(mid uint16) bool {
	i := s.findInflight(mid)
	if i < 0 || s.inflight[i].State != WaitPubcomp {
		return false
	}
	s.remove(i)
	return true
}

// Inflight returns the messages in flight in send order, for re-sending on
// reconnect (marked Dup). Lock held.
func (s *Session) Inflight() []*Outbound { return s.inflight }

// Counts returns the number of messages in flight and queued. Lock held.
// Queued counts spilled messages too.
func (s *Session) Counts() (inflight, queued int) { return len(s.inflight), len(s.queue) + s.sp.n }

// Bytes returns the payload bytes of the messages Counts counts: the ones
// max_inflight_bytes and max_queued_bytes limit. Lock held.
func (s *Session) Bytes() (inflight, queued int64) { return s.inBytes, s.qBytes + s.sp.bytes }

// InboundQoS2 returns the stored inbound QoS 2 message for mid.
func (s *Session) InboundQoS2(mid uint16) (*Message, bool) {
	m, ok := s.inQoS2[mid]
	return m, ok
}

// InboundCount is the number of inbound QoS 2 messages awaiting PUBREL.
func (s *Session) InboundCount() int { return len(s.inQoS2) }

// StoreInbound keeps an inbound QoS 2 message until PUBREL. Lock held.
func (s *Session) StoreInbound(mid uint16, m *Message) {
	if s.inQoS2 == nil {
		s.inQoS2 = map[uint16]*Message{}
	}
	s.inQoS2[mid] = m
}

// ReleaseInbound removes and returns the inbound QoS 2 message for mid.
func (s *Session) ReleaseInbound(mid uint16) (*Message, bool) {
	m, ok := s.inQoS2[mid]
	if ok {
		delete(s.inQoS2, mid)
	}
	return m, ok
}

// Reset discards all messages and subscriptions (clean start). Lock held.
func (s *Session) Reset() {
	s.inflight, s.queue, s.inQoS2, s.byMid = nil, nil, nil, nil
	s.inBytes, s.qBytes = 0, 0
	s.sp = spill{max: s.sp.max}
	s.Subs = nil
	s.lastMid = 0
}
