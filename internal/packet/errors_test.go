package packet

import (
	"errors"
	"testing"
)

// badCase is a packet that must fail with exactly Code and Kind.
type badCase struct {
	name    string
	version byte
	raw     []byte
	code    ReasonCode
	kind    ErrorKind
	check   func(t *testing.T, pk any, e *Error) // optional extra checks
}

func connect(level byte, flags byte, rest ...any) []byte {
	return pkt(0x10, append([]any{s("MQTT"), level, flags, 0, 60}, rest...)...)
}

var badCases = []badCase{
	// CONNECT, in Mosquitto's handle__connect order (§1.4, §6.9).
	{name: "connect bad protocol name", raw: pkt(0x10, s("MQTX"), 4, 2, 0, 60, s("c")),
		code: ProtocolError, kind: KindProtocolName,
		check: func(t *testing.T, pk any, e *Error) {
			if e.Name != "MQTX" || pk.(*Connect).ProtocolName != "MQTX" {
				t.Errorf("name %q", e.Name)
			}
		}},
	{name: "connect protocol name of length 5", raw: pkt(0x10, s("MQTTT"), 4, 2, 0, 60, s("c")),
		code: ProtocolError, kind: KindProtocolName},
	{name: "connect truncated protocol name", raw: pkt(0x10, 0, 4, "MQ"), code: ProtocolError},
	{name: "connect MQTT level 7", raw: connect(7, 2, s("c")), code: ProtocolError, kind: KindProtocolVersion, // [MQTT-3.1.2-2]
		check: func(t *testing.T, pk any, e *Error) {
			if e.Level != 7 || pk.(*Connect).ProtocolLevel != 7 {
				t.Errorf("level %d", e.Level)
			}
		}},
	{name: "connect MQIsdp level 4", raw: pkt(0x10, s("MQIsdp"), 4, 2, 0, 60, s("c")),
		code: ProtocolError, kind: KindProtocolVersion},
	{name: "connect MQTT level 3", raw: connect(3, 2, s("c")), code: ProtocolError, kind: KindProtocolVersion},
	{name: "connect header flags v3.1.1", raw: pkt(0x11, s("MQTT"), 4, 2, 0, 60, s("c")), code: ProtocolError},
	{name: "connect header flags v5", raw: pkt(0x18, s("MQTT"), 5, 2, 0, 60, 0, s("c")), code: ProtocolError},
	{name: "connect reserved flag", raw: connect(4, 3, s("c")), code: ProtocolError},                    // [MQTT-3.1.2-3]
	{name: "connect will qos 3", raw: connect(4, 0x1E, s("c")), code: ProtocolError, kind: KindWillQoS}, // [MQTT-3.1.2-14]
	{name: "connect will retain without will", raw: connect(4, 0x22, s("c")), code: ProtocolError},      // [MQTT-3.1.2-15]
	{name: "connect will qos without will v5", raw: connect(5, 0x0A, 0, s("c")), code: ProtocolError},   // [MQTT-3.1.2-13]
	{name: "connect truncated keepalive", raw: pkt(0x10, s("MQTT"), 4, 2, 0), code: ProtocolError},
	{name: "connect truncated client id", raw: connect(4, 2, 0, 5, "ab"), code: ProtocolError},
	{name: "connect truncated will topic", raw: connect(4, 6, s("c"), 0, 9, "w"), code: MalformedPacket},
	{name: "connect truncated will payload", raw: connect(4, 6, s("c"), s("w"), 0, 9), code: MalformedPacket},
	{name: "connect empty will topic", raw: connect(4, 6, s("c"), s(""), s("p")), code: ProtocolError},
	{name: "connect password without username v3.1.1", raw: connect(4, 0x42, s("cli"), s("pw")), // [MQTT-3.1.2-22]
		code: ProtocolError, kind: KindPasswordWithoutUsername,
		check: func(t *testing.T, pk any, e *Error) {
			if pk.(*Connect).ClientID != "cli" {
				t.Errorf("client id %q", pk.(*Connect).ClientID)
			}
		}},
	{name: "connect password without username v3.1", version: V31,
		raw:  pkt(0x10, s("MQIsdp"), 3, 0x42, 0, 60, s("cli"), s("pw")),
		code: ProtocolError, kind: KindPasswordWithoutUsername},
	{name: "connect username flag without username v3.1.1", raw: connect(4, 0x82, s("c")), code: ProtocolError},
	{name: "connect password flag without password v5", raw: connect(5, 0xC2, 0, s("c"), s("u")), code: ProtocolError},
	{name: "connect surplus bytes", raw: connect(4, 2, s("c"), 0), code: ProtocolError},
	{name: "connect v3.1 partial username is surplus", version: V31,
		raw: pkt(0x10, s("MQIsdp"), 3, 0x82, 0, 60, s("c"), 0, 5, "ab"), code: ProtocolError},
	{name: "connect v5 duplicate property", raw: connect(5, 2, pr(0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2), s("c")),
		code: ProtocolError, kind: KindDuplicateProperty,
		check: func(t *testing.T, pk any, e *Error) {
			if e.Property != 0x11 {
				t.Errorf("property %#x", e.Property)
			}
		}},
	{name: "connect v5 property not allowed", raw: connect(5, 2, pr(0x23, 0, 1), s("c")), code: ProtocolError},
	{name: "connect v5 receive maximum 0", raw: connect(5, 2, pr(0x21, 0, 0), s("c")), code: ProtocolError},
	{name: "connect v5 maximum packet size 0", raw: connect(5, 2, pr(0x27, 0, 0, 0, 0), s("c")), code: ProtocolError},
	{name: "connect v5 request problem info 2", raw: connect(5, 2, pr(0x17, 2), s("c")), code: ProtocolError},
	{name: "connect v5 request response info 2", raw: connect(5, 2, pr(0x19, 2), s("c")), code: ProtocolError},
	{name: "connect v5 unknown property", raw: connect(5, 2, pr(0x7F, 0), s("c")),
		code: MalformedPacket, kind: KindUnknownProperty},
	{name: "connect v5 truncated property", raw: connect(5, 2, pr(0x11, 0, 0), s("c")), code: MalformedPacket},
	{name: "connect v5 property length too long", raw: connect(5, 2, 9, 0x11), code: MalformedPacket},
	{name: "connect v5 malformed wins over protocol", raw: connect(5, 2, pr(0x23, 0, 1, 0x11, 0), s("c")),
		code: MalformedPacket},
	{name: "connect v5 auth data without method", raw: connect(5, 2, pr(0x16, s("x")), s("c")), code: ProtocolError},
	{name: "connect v5 will property not allowed", raw: connect(5, 6, 0, s("c"), pr(0x11, 0, 0, 0, 1), s("t"), s("p")),
		code: ProtocolError},

	// Fixed header / packet types.
	{name: "connect through Decode", version: V311, raw: pkt(0x10, 0), code: ProtocolError},
	{name: "type 0", version: V311, raw: raw(0x00, 0), code: ProtocolError},
	{name: "auth before v5", version: V311, raw: raw(0xF0, 0), code: ProtocolError},
	{name: "auth flags", version: V5, raw: raw(0xF1, 0), code: MalformedPacket},

	// PUBLISH
	{name: "publish qos 3", version: V311, raw: pkt(0x36, s("t"), 0, 1), code: MalformedPacket, kind: KindPublishQoS}, // [MQTT-3.3.1-4]
	{name: "publish qos 3 v3.1", version: V31, raw: pkt(0x36, s("t"), 0, 1), code: MalformedPacket, kind: KindPublishQoS},
	{name: "publish dup qos 0", version: V311, raw: pkt(0x38, s("t")), code: MalformedPacket, kind: KindPublishDupQoS0}, // [MQTT-3.3.1-2]
	{name: "publish dup qos 0 v5", version: V5, raw: pkt(0x38, s("t"), 0), code: MalformedPacket, kind: KindPublishDupQoS0},
	{name: "publish packet id 0", version: V311, raw: pkt(0x32, s("t"), 0, 0), code: ProtocolError}, // [MQTT-2.3.1-1]
	{name: "publish truncated topic", version: V311, raw: pkt(0x30, 0, 9, "ab"), code: MalformedPacket},
	{name: "publish truncated packet id", version: V311, raw: pkt(0x32, s("t"), 1), code: MalformedPacket},
	{name: "publish v5 missing properties", version: V5, raw: pkt(0x30, s("t")), code: MalformedPacket},
	{name: "publish v5 payload format 2", version: V5, raw: pkt(0x30, s("t"), pr(0x01, 2)), code: ProtocolError},
	{name: "publish v5 topic alias 0", version: V5, raw: pkt(0x30, s("t"), pr(0x23, 0, 0)), code: ProtocolError},
	{name: "publish v5 response topic wildcard", version: V5, raw: pkt(0x30, s("t"), pr(0x08, s("r/+"))), code: ProtocolError}, // [MQTT5-3.3.2-14]
	{name: "connect v5 will response topic wildcard", raw: connect(5, 6, 0, s("c"), pr(0x08, s("#")), s("t"), s("p")), code: ProtocolError},
	{name: "publish v5 duplicate content type", version: V5, raw: pkt(0x30, s("t"), pr(0x03, s("a"), 0x03, s("b"))),
		code: ProtocolError, kind: KindDuplicateProperty},
	{name: "publish v5 session expiry", version: V5, raw: pkt(0x30, s("t"), pr(0x11, 0, 0, 0, 1)), code: ProtocolError},
	{name: "publish v5 bad UTF-8 property", version: V5, raw: pkt(0x30, s("t"), pr(0x03, 0, 1, 0xFF)), code: MalformedPacket},
	{name: "publish v5 subscription id 0", version: V5, raw: pkt(0x30, s("t"), pr(0x0B, 0)), code: MalformedPacket},
	{name: "publish v5 5-byte subscription id", version: V5, raw: pkt(0x30, s("t"), pr(0x0B, 0x80, 0x80, 0x80, 0x80, 1)),
		code: MalformedPacket},

	// Acks (§6.9)
	{name: "puback v3.1.1 length 3", version: V311, raw: raw(0x40, 3, 0, 1, 0), code: MalformedPacket},
	{name: "puback v3.1 length 1", version: V31, raw: raw(0x40, 1, 0), code: MalformedPacket},
	{name: "puback flags", version: V311, raw: raw(0x41, 2, 0, 1), code: MalformedPacket},
	{name: "pubrel flags 0 v3.1.1", version: V311, raw: raw(0x60, 2, 0, 1), code: MalformedPacket}, // [MQTT-3.6.1-1]
	{name: "pubrel flags 0 v5", version: V5, raw: raw(0x60, 2, 0, 1), code: MalformedPacket},
	{name: "pubcomp packet id 0", version: V311, raw: raw(0x70, 2, 0, 0), code: ProtocolError},
	{name: "pubrec v5 packet id 0", version: V5, raw: raw(0x50, 2, 0, 0), code: ProtocolError},
	{name: "puback v5 length 1", version: V5, raw: raw(0x40, 1, 0), code: MalformedPacket},
	{name: "puback v5 surplus", version: V5, raw: raw(0x40, 5, 0, 1, 0, 0, 9), code: MalformedPacket},
	{name: "puback v5 property not allowed", version: V5, raw: pkt(0x40, 0, 1, 0, pr(0x11, 0, 0, 0, 1)), code: ProtocolError},

	// SUBSCRIBE
	{name: "subscribe flags 0", version: V311, raw: pkt(0x80, 0, 1, s("a"), 0), code: MalformedPacket}, // [MQTT-3.8.1-1]
	{name: "subscribe flags 0 v3.1", version: V31, raw: pkt(0x80, 0, 1, s("a"), 0), code: MalformedPacket},
	{name: "subscribe packet id 0", version: V311, raw: pkt(0x82, 0, 0, s("a"), 0), code: MalformedPacket},
	{name: "subscribe no topics", version: V311, raw: pkt(0x82, 0, 1), code: MalformedPacket}, // [MQTT-3.8.3-3]
	{name: "subscribe no topics v5", version: V5, raw: pkt(0x82, 0, 1, 0), code: MalformedPacket},
	{name: "subscribe truncated filter", version: V311, raw: pkt(0x82, 0, 1, 0, 4, "a"), code: MalformedPacket},
	{name: "subscribe missing options", version: V311, raw: pkt(0x82, 0, 1, s("a")), code: MalformedPacket},
	{name: "subscribe v5 reserved option bits", version: V5, raw: pkt(0x82, 0, 1, 0, s("a"), 0x40), code: MalformedPacket}, // [MQTT5-3.8.3-5]
	{name: "subscribe v5 retain handling 3", version: V5, raw: pkt(0x82, 0, 1, 0, s("a"), 0x30), code: ProtocolError},
	{name: "subscribe v5 subscription id 0", version: V5, raw: pkt(0x82, 0, 1, pr(0x0B, 0), s("a"), 0), code: MalformedPacket},
	{name: "subscribe v5 two subscription ids", version: V5, raw: pkt(0x82, 0, 1, pr(0x0B, 1, 0x0B, 2), s("a"), 0),
		code: ProtocolError, kind: KindDuplicateProperty},

	// UNSUBSCRIBE
	{name: "unsubscribe flags", version: V311, raw: pkt(0xA0, 0, 1, s("a")), code: MalformedPacket}, // [MQTT-3.10.1-1]
	{name: "unsubscribe packet id 0", version: V311, raw: pkt(0xA2, 0, 0, s("a")), code: MalformedPacket},
	{name: "unsubscribe no topics", version: V311, raw: pkt(0xA2, 0, 1), code: MalformedPacket}, // [MQTT-3.10.3-2]
	{name: "unsubscribe truncated filter", version: V5, raw: pkt(0xA2, 0, 1, 0, 0, 3, "a"), code: MalformedPacket},

	// PINGREQ, DISCONNECT, server packets
	{name: "pingreq with body", version: V311, raw: raw(0xC0, 1, 0), code: MalformedPacket},
	{name: "pingreq flags", version: V311, raw: raw(0xC1, 0), code: MalformedPacket},
	{name: "disconnect flags", version: V311, raw: raw(0xE1, 0), code: MalformedPacket}, // [MQTT-3.14.1-1]
	{name: "disconnect flags v5", version: V5, raw: raw(0xE2, 0), code: MalformedPacket},
	{name: "disconnect v3 with body", version: V311, raw: raw(0xE0, 1, 0), code: MalformedPacket},
	{name: "disconnect v5 bad properties", version: V5, raw: raw(0xE0, 3, 0, 2, 0x11), code: MalformedPacket},
	{name: "connack reserved flags", version: V311, raw: raw(0x20, 2, 2, 0), code: MalformedPacket}, // [MQTT-3.2.2-1]
	{name: "connack v3 length 3", version: V311, raw: raw(0x20, 3, 0, 0, 0), code: MalformedPacket},
	{name: "connack v5 max qos 2", version: V5, raw: pkt(0x20, 0, 0, pr(0x24, 2)), code: ProtocolError},
	{name: "connack v5 retain available 2", version: V5, raw: pkt(0x20, 0, 0, pr(0x25, 2)), code: ProtocolError},
	{name: "unsuback v3 length 3", version: V311, raw: raw(0xB0, 3, 0, 1, 0), code: MalformedPacket},
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.version
			if v == 0 {
				v = V311
			}
			pk, err := decodeRaw(t, v, tc.raw)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want *Error", pk, err)
			}
			if e.Code != tc.code || e.Kind != tc.kind {
				t.Fatalf("got code %#x kind %d (%s), want code %#x kind %d", e.Code, e.Kind, e.Msg, tc.code, tc.kind)
			}
			if c, ok := pk.(*Connect); ok && c == nil {
				t.Fatal("DecodeConnect returned a nil *Connect")
			}
			if tc.check != nil {
				tc.check(t, pk, e)
			}
		})
	}
}

func TestParseFixedHeader(t *testing.T) {
	cases := []struct {
		name      string
		in        []byte
		first     byte
		rem, n    int
		malformed bool
	}{
		{"empty", nil, 0, 0, 0, false},
		{"first byte only", raw(0x30), 0, 0, 0, false},
		{"one byte length", raw(0x30, 0x7F), 0x30, 127, 2, false},
		{"two byte length", raw(0x30, 0x80, 0x01), 0x30, 128, 3, false},
		{"partial length", raw(0x30, 0x80), 0, 0, 0, false},
		{"max", raw(0x30, 0xFF, 0xFF, 0xFF, 0x7F, 9), 0x30, MaxRemaining, 5, false},
		{"four bytes pending", raw(0x30, 0xFF, 0xFF, 0xFF), 0, 0, 0, false},
		{"five length bytes", raw(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), 0, 0, 0, true},
		{"fourth byte continues", raw(0x30, 0x80, 0x80, 0x80, 0x80), 0, 0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first, rem, n, err := ParseFixedHeader(tc.in)
			if tc.malformed {
				var e *Error
				if !errors.As(err, &e) || e.Code != MalformedPacket {
					t.Fatalf("err %v, want malformed", err)
				}
				return
			}
			if err != nil || first != tc.first || rem != tc.rem || n != tc.n {
				t.Fatalf("got %#x %d %d %v, want %#x %d %d", first, rem, n, err, tc.first, tc.rem, tc.n)
			}
		})
	}
}
