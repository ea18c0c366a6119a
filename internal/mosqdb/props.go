package mosqdb

import (
	"encoding/binary"

	"github.com/midgemq/midge/internal/packet"
)

// Mosquitto writes the MQTT 5 properties of a stored message after its
// payload (MSG_STORE) and the outgoing properties of a delivery after the
// client id (CLIENT_MSG), each as on the wire: a variable byte integer
// length, then (identifier, value) pairs (MQTT 5 §2.2.2). The import keeps
// what midge forwards with a message (payload format, content type,
// response topic, correlation data, user properties; the message expiry is
// in the chunk's expiry_time already) and, for a delivery, its
// subscription identifiers. Other properties are skipped.

// props is what readProps keeps.
type props struct {
	msg    packet.Properties
	subIDs []uint32
}

// uvarint reads an MQTT variable byte integer.
func uvarint(b []byte, off *int) (uint32, bool) {
	var v uint32
	for i := 0; i < 4; i++ {
		if *off >= len(b) {
			return 0, false
		}
		c := b[*off]
		*off++
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, true
		}
	}
	return 0, false
}

// readProps reads a property block at b[*off:]. An absent block (the chunk
// ends before it, as for v3 messages) is empty. ok is false for a block that
// does not parse.
func readProps(b []byte, off *int) (p props, ok bool) {
	if *off >= len(b) {
		return p, true
	}
	n, ok := uvarint(b, off)
	if !ok || *off+int(n) > len(b) {
		return p, false
	}
	end := *off + int(n)
	bin := func() ([]byte, bool) {
		if *off+2 > end {
			return nil, false
		}
		l := int(binary.BigEndian.Uint16(b[*off:]))
		*off += 2
		if *off+l > end {
			return nil, false
		}
		v := append([]byte{}, b[*off:*off+l]...)
		*off += l
		return v, true
	}
	fixed := func(l int) bool {
		*off += l
		return *off <= end
	}
	for *off < end {
		id := b[*off]
		*off++
		switch id {
		case 0x01: // payload format indicator
			if *off >= end {
				return p, false
			}
			p.msg.PayloadFormat, p.msg.HasPayloadFormat = b[*off], true
			*off++
		case 0x03, 0x08, 0x09: // content type, response topic, correlation data
			v, ok := bin()
			if !ok {
				return p, false
			}
			switch id {
			case 0x03:
				p.msg.ContentType, p.msg.HasContentType = string(v), true
			case 0x08:
				p.msg.ResponseTopic, p.msg.HasResponseTopic = string(v), true
			default:
				p.msg.CorrelationData, p.msg.HasCorrelation = v, true
			}
		case 0x26: // user property
			k, ok1 := bin()
			v, ok2 := bin()
			if !ok1 || !ok2 {
				return p, false
			}
			p.msg.User = append(p.msg.User, packet.UserProperty{Key: string(k), Value: string(v)})
		case 0x0B: // subscription identifier
			v, ok := uvarint(b, off)
			if !ok || *off > end {
				return p, false
			}
			p.subIDs = append(p.subIDs, v)
		case 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A: // byte
			if !fixed(1) {
				return p, false
			}
		case 0x13, 0x21, 0x22, 0x23: // two-byte integer
			if !fixed(2) {
				return p, false
			}
		case 0x02, 0x11, 0x18, 0x27: // four-byte integer (0x02 message expiry: in expiry_time)
			if !fixed(4) {
				return p, false
			}
		case 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F: // string or binary data
			if _, ok := bin(); !ok {
				return p, false
			}
		default:
			return p, false
		}
	}
	return p, true
}

// forwarded returns the message properties to keep, or nil if none.
func (p *props) forwarded() *packet.Properties {
	m := p.msg
	if !m.HasPayloadFormat && !m.HasContentType && !m.HasResponseTopic && !m.HasCorrelation && len(m.User) == 0 {
		return nil
	}
	return &m
}
