package store

import (
	"encoding/binary"
	"errors"

	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/topic"
)

// Values are versioned binary records: a first byte (the record version,
// 1), then fields in a fixed order. Strings and byte slices are a uvarint
// length then the bytes; integers are uvarints (signed ones zig-zag).

const recordVersion = 1

// ErrCorrupt is returned for a value that does not decode.
var ErrCorrupt = errors.New("corrupt record")

type enc struct{ b []byte }

func (e *enc) u(v uint64)     { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i(v int64)      { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) bytes(v []byte) { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) str(v string)   { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) byte1(v byte)   { e.b = append(e.b, v) }
func (e *enc) flag(v bool)    { e.byte1(b2b(v)) }
func b2b(v bool) byte {
	if v {
		return 1
	}
	return 0
}

type dec struct {
	b   []byte
	err bool
}

func (d *dec) u() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) i() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) bytes() []byte {
	n := d.u()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string { return string(d.bytes()) }

func (d *dec) byte1() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) flag() bool { return d.byte1() != 0 }

func (e *enc) message(m *session.Message) {
	e.str(m.Topic)
	e.bytes(m.Payload)
	e.byte1(m.QoS)
	e.flag(m.Retain)
	e.str(m.Origin)
	e.i(m.ExpiresAt)
	p := m.Props
	if p == nil {
		e.byte1(0)
		return
	}
	e.byte1(1)
	e.flag(p.HasPayloadFormat)
	e.byte1(p.PayloadFormat)
	e.flag(p.HasContentType)
	e.str(p.ContentType)
	e.flag(p.HasResponseTopic)
	e.str(p.ResponseTopic)
	e.flag(p.HasCorrelation)
	e.bytes(p.CorrelationData)
	e.u(uint64(len(p.User)))
	for _, u := range p.User {
		e.str(u.Key)
		e.str(u.Value)
	}
}

func (d *dec) message() *session.Message {
	m := &session.Message{}
	m.Topic = d.str()
	m.Payload = d.bytes()
	if m.Payload == nil {
		m.Payload = []byte{}
	}
	m.QoS = d.byte1()
	m.Retain = d.flag()
	m.Origin = d.str()
	m.ExpiresAt = d.i()
	if d.byte1() == 1 {
		p := &packet.Properties{}
		p.HasPayloadFormat = d.flag()
		p.PayloadFormat = d.byte1()
		p.HasContentType = d.flag()
		p.ContentType = d.str()
		p.HasResponseTopic = d.flag()
		p.ResponseTopic = d.str()
		p.HasCorrelation = d.flag()
		p.CorrelationData = d.bytes()
		n := d.u()
		if n > uint64(len(d.b)) {
			d.err = true
			return m
		}
		for j := uint64(0); j < n && !d.err; j++ {
			p.User = append(p.User, packet.UserProperty{Key: d.str(), Value: d.str()})
		}
		m.Props = p
	}
	return m
}

// EncodeMessage encodes a message (retained, inbound QoS 2).
func EncodeMessage(m *session.Message) []byte {
	e := enc{b: []byte{recordVersion}}
	e.message(m)
	return e.b
}

// DecodeMessage decodes EncodeMessage's output.
func DecodeMessage(v []byte) (*session.Message, error) {
	if len(v) == 0 || v[0] != recordVersion {
		return nil, ErrCorrupt
	}
	d := dec{b: v[1:]}
	m := d.message()
	if d.err {
		return nil, ErrCorrupt
	}
	return m, nil
}

// EncodeOutbound encodes an outbound message with its delivery state.
func EncodeOutbound(o *session.Outbound) []byte {
	e := enc{b: []byte{recordVersion}}
	e.byte1(o.QoS)
	e.flag(o.Retain)
	e.u(uint64(o.Mid))
	e.byte1(byte(o.State))
	e.flag(o.Dup)
	e.u(uint64(len(o.SubIDs)))
	for _, id := range o.SubIDs {
		e.u(uint64(id))
	}
	e.message(o.Msg)
	return e.b
}

// DecodeOutbound decodes EncodeOutbound's output.
func DecodeOutbound(v []byte) (*session.Outbound, error) {
	if len(v) == 0 || v[0] != recordVersion {
		return nil, ErrCorrupt
	}
	d := dec{b: v[1:]}
	o := &session.Outbound{}
	o.QoS = d.byte1()
	o.Retain = d.flag()
	o.Mid = uint16(d.u())
	o.State = session.State(d.byte1())
	o.Dup = d.flag()
	n := d.u()
	if n > uint64(len(d.b)) {
		return nil, ErrCorrupt
	}
	for j := uint64(0); j < n; j++ {
		o.SubIDs = append(o.SubIDs, uint32(d.u()))
	}
	o.Msg = d.message()
	if d.err {
		return nil, ErrCorrupt
	}
	return o, nil
}

// Session is the stored part of a persistent session.
type Session struct {
	Version        byte
	Expiry         uint32 // seconds; ^uint32(0) = never
	DisconnectedAt int64  // unix seconds; 0 = was online
	Username       string
	// Will is the will held for a delayed publication (nil if none).
	Will      *session.Message
	WillDelay uint32
}

// EncodeSession encodes a session record.
func EncodeSession(s *Session) []byte {
	e := enc{b: []byte{recordVersion}}
	e.byte1(s.Version)
	e.u(uint64(s.Expiry))
	e.i(s.DisconnectedAt)
	e.str(s.Username)
	e.flag(s.Will != nil)
	if s.Will != nil {
		e.message(s.Will)
		e.u(uint64(s.WillDelay))
	}
	return e.b
}

// DecodeSession decodes EncodeSession's output.
func DecodeSession(v []byte) (*Session, error) {
	if len(v) == 0 || v[0] != recordVersion {
		return nil, ErrCorrupt
	}
	d := dec{b: v[1:]}
	s := &Session{Version: d.byte1(), Expiry: uint32(d.u()), DisconnectedAt: d.i(), Username: d.str()}
	if d.flag() {
		s.Will = d.message()
		s.WillDelay = uint32(d.u())
	}
	if d.err {
		return nil, ErrCorrupt
	}
	return s, nil
}

// EncodeSub encodes subscription options.
func EncodeSub(o topic.Options) []byte {
	e := enc{b: []byte{recordVersion}}
	e.byte1(o.QoS)
	e.flag(o.NoLocal)
	e.flag(o.RetainAsPublished)
	e.byte1(o.RetainHandling)
	e.u(uint64(o.ID))
	return e.b
}

// DecodeSub decodes EncodeSub's output.
func DecodeSub(v []byte) (topic.Options, error) {
	if len(v) == 0 || v[0] != recordVersion {
		return topic.Options{}, ErrCorrupt
	}
	d := dec{b: v[1:]}
	o := topic.Options{QoS: d.byte1(), NoLocal: d.flag(), RetainAsPublished: d.flag(), RetainHandling: d.byte1(), ID: uint32(d.u())}
	if d.err {
		return topic.Options{}, ErrCorrupt
	}
	return o, nil
}
