package packet

import (
	"fmt"
	"testing"
)

// raw builds a byte slice: ints and bytes are single bytes, strings are raw
// bytes, []byte is copied as is.
func raw(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = append(b, byte(v))
		case byte:
			b = append(b, v)
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		default:
			panic(fmt.Sprintf("raw: %T", p))
		}
	}
	return b
}

// s is an MQTT length-prefixed string.
func s(v string) []byte { return append([]byte{byte(len(v) >> 8), byte(len(v))}, v...) }

// pkt prefixes body with a fixed header.
func pkt(first byte, body ...any) []byte {
	b := raw(body...)
	return append(appendHeader([]byte{}, first, len(b)), b...)
}

// decodeRaw splits a whole packet and decodes it: CONNECT through
// DecodeConnect (returning *Connect even on error), the rest through Decode.
func decodeRaw(t testing.TB, version byte, b []byte) (any, error) {
	first, rem, n, err := ParseFixedHeader(b)
	if err != nil {
		return nil, err
	}
	if n == 0 || rem != len(b)-n {
		if t != nil {
			t.Fatalf("fixture framing: n=%d rem=%d len=%d", n, rem, len(b))
		}
		return nil, fmt.Errorf("framing")
	}
	if Type(first>>4) == CONNECT {
		return DecodeConnect(first&0x0F, b[n:])
	}
	return Decode(first, b[n:], version)
}

// encodeAny encodes any decoded packet for version.
func encodeAny(version byte, pk any) []byte {
	switch p := pk.(type) {
	case *Connect:
		return AppendConnect(nil, p)
	case *Connack:
		return AppendConnack(nil, version, p)
	case *Publish:
		return AppendPublish(nil, version, p)
	case *Ack:
		return AppendAck(nil, version, p)
	case *Subscribe:
		return AppendSubscribe(nil, version, p)
	case *Suback:
		return AppendSuback(nil, version, p)
	case *Unsubscribe:
		return AppendUnsubscribe(nil, version, p)
	case *Unsuback:
		return AppendUnsuback(nil, version, p)
	case *Pingreq:
		return AppendPingreq(nil)
	case *Pingresp:
		return AppendPingresp(nil)
	case *Disconnect:
		return AppendDisconnect(nil, version, p)
	case *Auth:
		return AppendAuth(nil, p)
	}
	panic(fmt.Sprintf("encodeAny: %T", pk))
}

// pr is a v5 property block: varint length then the properties.
func pr(parts ...any) []byte {
	b := raw(parts...)
	return append(appendVarint(nil, len(b)), b...)
}
