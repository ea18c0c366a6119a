package integration

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// MQTT 5 violations sent as raw bytes: for each, the reason code Mosquitto
// 2.0.20 (or, where the reference is silent, the specification) gives, the
// close, and the disconnect log line. Spec tags name the statement checked;
// docs/CONFORMANCE-MQTT5.md maps them.

// v5Connect is a clean-start MQTT 5 CONNECT with keepalive 60.
func v5Connect(id string) *packet.Connect {
	return &packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 5, Version: 5, ClientID: id, KeepAlive: 60, CleanStart: true}
}

// dialV5 connects a raw MQTT 5 client and returns it with its CONNACK.
func dialV5(t *testing.T, b *Broker, c *packet.Connect) (*rawClient, *packet.Connack) {
	t.Helper()
	r := dialRaw(t, b.Addr)
	return r, r.connect(c)
}

// mustV5 is dialV5 expecting CONNACK 0.
func mustV5(t *testing.T, b *Broker, c *packet.Connect) *rawClient {
	t.Helper()
	r, ack := dialV5(t, b, c)
	if ack.Code != 0 {
		t.Fatalf("%s: CONNACK %#x", c.ClientID, ack.Code)
	}
	return r
}

// expectDisconnect reads until the broker's DISCONNECT and checks its reason
// code, then that the connection closes [MQTT5-4.13.2-1].
func (r *rawClient) expectDisconnect(code packet.ReasonCode) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := r.tryRead(time.Until(deadline))
		if err != nil {
			r.t.Fatalf("no DISCONNECT %#x: %v", code, err)
		}
		if d, ok := p.(*packet.Disconnect); ok {
			if d.Code != code {
				r.t.Fatalf("DISCONNECT %#x, want %#x", d.Code, code)
			}
			if d.Props.HasSessionExpiry { // [MQTT5-3.14.2-2]
				r.t.Fatalf("server DISCONNECT carries a Session Expiry Interval")
			}
			r.expectClosed(5 * time.Second)
			return
		}
	}
}

// props builds a v5 property block: the varint length, then the raw bytes.
func props(b ...byte) []byte {
	return pkt(0, b)[1:] // pkt's remaining length is the same varint
}

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

type v5Violation struct {
	name string
	tags string // spec statements checked
	conf string
	send []byte
	code packet.ReasonCode // DISCONNECT reason expected
	line string            // disconnect line after "Client v5bad "
}

func v5Violations() []v5Violation {
	pub0 := func(topic string, p []byte, payload string) []byte {
		return pkt(0x30, mqttStr(topic), p, []byte(payload))
	}
	sub := func(p []byte, filter string, opts byte) []byte {
		return pkt(0x82, u16(1), p, mqttStr(filter), []byte{opts})
	}
	const proto = "disconnected due to protocol error."
	const malformed = "disconnected due to malformed packet."
	return []v5Violation{
		{name: "duplicate property", tags: "[MQTT5-2.2.2-2]", send: pub0("a", props(0x03, 0, 1, 'x', 0x03, 0, 1, 'y'), "p"),
			code: packet.ProtocolError, line: "Bad socket read/write on client v5bad: Duplicate property in property list"},
		{name: "property not allowed in PUBLISH", tags: "[MQTT5-2.2.2-2]", send: pub0("a", props(0x11, 0, 0, 0, 1), "p"),
			code: packet.ProtocolError, line: proto},
		{name: "unknown property", tags: "[MQTT5-2.2.2-2]", send: pub0("a", props(0x7F, 1), "p"),
			code: packet.MalformedPacket, line: malformed},
		{name: "property length past packet", tags: "[MQTT5-1.5.5-1]", send: pkt(0x30, mqttStr("a"), []byte{20, 0x01}),
			code: packet.MalformedPacket, line: malformed},
		{name: "invalid UTF-8 in Content Type", tags: "[MQTT5-1.5.4-1]", send: pub0("a", props(0x03, 0, 2, 0xC0, 0xAF), "p"),
			code: packet.MalformedPacket, line: malformed},
		{name: "null in Response Topic", tags: "[MQTT5-1.5.4-2]", send: pub0("a", props(0x08, 0, 1, 0), "p"),
			code: packet.MalformedPacket, line: malformed},
		{name: "Payload Format Indicator 2", tags: "[MQTT5-3.3.2.3.2]", send: pub0("a", props(0x01, 2), "p"),
			code: packet.ProtocolError, line: proto},
		{name: "topic alias above maximum", tags: "[MQTT5-3.2.2-17] [MQTT5-3.3.2-9]", send: pub0("a", props(0x23, 0, 11), "p"),
			code: packet.TopicAliasInvalid, line: "Bad socket read/write on client v5bad: Unknown error."},
		{name: "topic alias 0", tags: "[MQTT5-3.3.2-8]", send: pub0("a", props(0x23, 0, 0), "p"),
			code: packet.ProtocolError, line: proto},
		{name: "unknown topic alias with empty topic", tags: "[MQTT5-3.3.2.3.4]", send: pub0("", props(0x23, 0, 3), "p"),
			code: packet.ProtocolError, line: proto},
		{name: "payload not UTF-8 though PFI 1, QoS 0", tags: "[MQTT5-3.3.2.3.2]", send: pub0("a", props(0x01, 1), "\xff\xfe"),
			code: packet.PayloadFormatInvalid, line: "Bad socket read/write on client v5bad: Malformed UTF-8"},
		{name: "topic with wildcard", tags: "[MQTT5-3.3.2-2] [MQTT5-4.7.0-1]", send: pub0("a/+", props(), "p"),
			code: packet.MalformedPacket, line: malformed},
		{name: "subscription identifier 0", tags: "[MQTT5-3.8.2.1.2]", send: sub(props(0x0B, 0), "a", 0),
			code: packet.MalformedPacket, line: malformed},
		{name: "two subscription identifiers", tags: "[MQTT5-3.8.2.1.2]", send: sub(props(0x0B, 1, 0x0B, 2), "a", 0),
			code: packet.ProtocolError, line: "Bad socket read/write on client v5bad: Duplicate property in property list"},
		{name: "subscription options reserved bits", tags: "[MQTT5-3.8.3-5]", send: sub(props(), "a", 0x40),
			code: packet.MalformedPacket, line: malformed},
		{name: "retain handling 3", tags: "[MQTT5-3.8.3.1]", send: sub(props(), "a", 0x30),
			code: packet.ProtocolError, line: proto},
		{name: "no local on shared subscription", tags: "[MQTT5-3.8.3-4]", send: sub(props(), "$share/g/a", 0x04),
			code: packet.ProtocolError, line: proto},
		{name: "shared subscription without filter", tags: "[MQTT5-4.8.2-2]", send: sub(props(), "$share/g/", 0),
			code: packet.ProtocolError, line: proto},
		{name: "SUBSCRIBE reserved header flags", tags: "[MQTT5-3.8.1-1]", send: pkt(0x80, u16(1), props(), mqttStr("a"), []byte{0}),
			code: packet.MalformedPacket, line: malformed},
		{name: "SUBSCRIBE without filters", tags: "[MQTT5-3.8.3-2]", send: pkt(0x82, u16(1), props()),
			code: packet.MalformedPacket, line: malformed},
		{name: "UNSUBSCRIBE without filters", tags: "[MQTT5-3.10.3-2]", send: pkt(0xA2, u16(1), props()),
			code: packet.MalformedPacket, line: malformed},
		{name: "UNSUBSCRIBE reserved header flags", tags: "[MQTT5-3.10.1-1]", send: pkt(0xA0, u16(1), props(), mqttStr("a")),
			code: packet.MalformedPacket, line: malformed},
		{name: "PUBREL reserved header flags", tags: "[MQTT5-3.6.1-1]", send: pkt(0x60, u16(1)),
			code: packet.MalformedPacket, line: malformed},
		{name: "property not allowed in PUBACK", tags: "[MQTT5-2.2.2-2]", send: pkt(0x40, u16(1), []byte{0}, props(0x03, 0, 1, 'x')),
			code: packet.ProtocolError, line: proto},
		{name: "AUTH without Authentication Method", tags: "[MQTT5-4.12.0-7]", send: pkt(0xF0, []byte{0x19}, props()),
			code: packet.ProtocolError, line: proto},
		{name: "AUTH reserved header flags", tags: "[MQTT5-3.15.1-1]", send: pkt(0xF1, []byte{0x19}, props()),
			code: packet.MalformedPacket, line: malformed},
		{name: "second CONNECT", tags: "[MQTT5-3.1.0-2]", send: connectPkt(0x10, "MQTT", 5, 0x02, 60, "v5bad"),
			code: packet.ProtocolError, line: proto},
		{name: "DISCONNECT reserved header flags", tags: "[MQTT5-3.14.1-1]", send: []byte{0xE1, 0},
			code: packet.MalformedPacket, line: malformed},
		{name: "DISCONNECT sets session expiry after 0", tags: "[MQTT5-3.14.2.2.2]", send: pkt(0xE0, []byte{0}, props(0x11, 0, 0, 0, 5)),
			code: packet.ProtocolError, line: proto},
		{name: "PUBLISH QoS above Maximum QoS", tags: "[MQTT5-3.2.2-11]", conf: "max_qos 1\n",
			send: pkt(0x34, mqttStr("a"), u16(1), props(), []byte("p")),
			code: packet.QoSNotSupported, line: "Bad socket read/write on client v5bad: Requested QoS not supported on server."},
		{name: "retain while unavailable", tags: "[MQTT5-3.2.2-14]", conf: "retain_available false\n",
			send: pkt(0x31, mqttStr("a"), props(), []byte("p")),
			code: packet.RetainNotSupported, line: "Bad socket read/write on client v5bad: Unknown error."},
		{name: "packet over Maximum Packet Size", tags: "[MQTT5-3.2.2-15]", conf: "max_packet_size 100\n",
			send: pub0("a", props(), string(make([]byte, 200))),
			code: packet.PacketTooLarge, line: "disconnected due to oversize packet."},
	}
}

// TestV5Violations sends each violation after a successful MQTT 5 CONNECT.
func TestV5Violations(t *testing.T) {
	t.Parallel()
	for _, tc := range v5Violations() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conf := logAll + tc.conf
			if tc.conf != "" && tc.conf[:7] == "max_qos" {
				conf = "listener PORT 127.0.0.1\n" + tc.conf + logAll
			}
			b := StartBroker(t, conf)
			r := mustV5(t, b, v5Connect("v5bad"))
			r.send(tc.send)
			r.expectDisconnect(tc.code)
			b.WaitLog(t, q("Client v5bad "+tc.line)+"|"+q(tc.line), 5*time.Second)
		})
	}
}

// TestV5ConnectViolations covers CONNECT problems: refused with a v5 CONNACK
// reason code where Mosquitto sends one, closed without CONNACK otherwise
// (a server sends no DISCONNECT before CONNACK [MQTT5-3.14.0-1]).
func TestV5ConnectViolations(t *testing.T) {
	t.Parallel()
	willProps := func(p []byte, payload string) []byte { return cat(p, mqttStr("w/t"), mqttStr(payload)) }
	cases := []struct {
		name, tags, conf string
		send             []byte
		code             int // CONNACK reason, -1: no CONNACK
		line             string
	}{
		{"Receive Maximum 0", "[MQTT5-3.1.2.11.3]", "", pkt(0x10, mqttStr("MQTT"), []byte{5, 2, 0, 60}, props(0x21, 0, 0), mqttStr("c")),
			-1, "Client <unknown> disconnected due to protocol error."},
		{"Maximum Packet Size 0", "[MQTT5-3.1.2.11.4]", "", pkt(0x10, mqttStr("MQTT"), []byte{5, 2, 0, 60}, props(0x27, 0, 0, 0, 0), mqttStr("c")),
			-1, "Client <unknown> disconnected due to protocol error."},
		{"Authentication Data without Method", "[MQTT5-3.1.2.11.10]", "", pkt(0x10, mqttStr("MQTT"), []byte{5, 2, 0, 60}, props(0x16, 0, 1, 'x'), mqttStr("c")),
			-1, "Client <unknown> disconnected due to protocol error."},
		{"Request Problem Information 2", "[MQTT5-3.1.2.11.7]", "", pkt(0x10, mqttStr("MQTT"), []byte{5, 2, 0, 60}, props(0x17, 2), mqttStr("c")),
			-1, "Client <unknown> disconnected due to protocol error."},
		{"duplicate CONNECT property", "[MQTT5-2.2.2-2]", "", pkt(0x10, mqttStr("MQTT"), []byte{5, 2, 0, 60}, props(0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1), mqttStr("c")),
			-1, "Bad socket read/write on client <unknown>: Duplicate property in property list"},
		{"will property not allowed", "[MQTT5-2.2.2-2]", "", pkt(0x10, mqttStr("MQTT"), []byte{5, 0x06, 0, 60}, props(), mqttStr("c"), willProps(props(0x11, 0, 0, 0, 1), "x")),
			-1, "Client <unknown> disconnected due to protocol error."},
		{"reserved flag", "[MQTT5-3.1.2-3]", "", pkt(0x10, mqttStr("MQTT"), []byte{5, 3, 0, 60}, props(), mqttStr("c")),
			-1, "Client <unknown> disconnected due to protocol error."},
		{"Authentication Method", "[MQTT5-4.12.0-1]", "", pkt(0x10, mqttStr("MQTT"), []byte{5, 2, 0, 60}, props(0x15, 0, 5, 'S', 'C', 'R', 'A', 'M'), mqttStr("c")),
			0x8C, "Client c disconnected due to using not allowed feature (QoS too high, retain not supported, or bad AUTH method)."},
		{"Authentication Method, anonymous refused", "[MQTT5-4.12.0-1]", "allow_anonymous false\n", pkt(0x10, mqttStr("MQTT"), []byte{5, 2, 0, 60}, props(0x15, 0, 1, 'X'), mqttStr("c")),
			0x8C, "Client c disconnected due to using not allowed feature (QoS too high, retain not supported, or bad AUTH method)."},
		{"will QoS above Maximum QoS", "[MQTT5-3.2.2-12]", "listener PORT 127.0.0.1\nmax_qos 1\n", pkt(0x10, mqttStr("MQTT"), []byte{5, 0x16, 0, 60}, props(), mqttStr("c"), willProps(props(), "x")),
			0x9B, "Client <unknown> disconnected due to using not allowed feature (QoS too high, retain not supported, or bad AUTH method)."},
		{"will retain while unavailable", "[MQTT5-3.2.2-13]", "retain_available false\n", pkt(0x10, mqttStr("MQTT"), []byte{5, 0x26, 0, 60}, props(), mqttStr("c"), willProps(props(), "x")),
			0x9A, "Client <unknown> disconnected due to using not allowed feature (QoS too high, retain not supported, or bad AUTH method)."},
		{"will payload not UTF-8 though PFI 1", "[MQTT5-3.1.3.2.3]", "", pkt(0x10, mqttStr("MQTT"), []byte{5, 0x06, 0, 60}, props(), mqttStr("c"), willProps(props(0x01, 1), "\xff")),
			0x99, "Bad socket read/write on client <unknown>: Malformed UTF-8"},
		{"empty client id refused", "[MQTT5-3.1.3-8]", "allow_zero_length_clientid false\n", pkt(0x10, mqttStr("MQTT"), []byte{5, 2, 0, 60}, props(), mqttStr("")),
			0x80, "Client <unknown> disconnected due to protocol error."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := StartBroker(t, logAll+tc.conf)
			r := dialRaw(t, b.Addr)
			r.v = packet.V5
			r.send(tc.send)
			p, err := r.tryRead(5 * time.Second)
			switch {
			case tc.code < 0 && err == nil:
				t.Fatalf("%s: got %#v, want a close without CONNACK", tc.tags, p)
			case tc.code >= 0:
				ack, ok := p.(*packet.Connack)
				if !ok || int(ack.Code) != tc.code || ack.SessionPresent { // [MQTT5-3.2.2-6]
					t.Fatalf("%s: got %#v (%v), want CONNACK %#x", tc.tags, p, err, tc.code)
				}
				r.expectClosed(5 * time.Second) // [MQTT5-3.2.2-7]
			}
			b.WaitLog(t, q(tc.line), 5*time.Second)
		})
	}
}

// TestV5ConnackBytes: the default CONNACK is byte for byte Mosquitto's
// (reference §6.10), with no availability flags (all features available).
func TestV5ConnackBytes(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	r := dialRaw(t, b.Addr)
	r.send(pkt(0x10, mqttStr("MQTT"), []byte{5, 2, 0, 60}, props(), mqttStr("bytes")))
	got := make([]byte, 11)
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(r.nc, got); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0A, 0x21, 0x00, 0x14}
	if fmt.Sprintf("% x", got) != fmt.Sprintf("% x", want) {
		t.Fatalf("CONNACK % x, want % x", got, want)
	}
}

// TestV5MaxTopicAlias: the listener's max_topic_alias is what CONNACK offers
// (no property when 0), and an alias above it gets DISCONNECT 0x94
// [MQTT-3.2.2-17] [MQTT-3.3.2-9] [MQTT-3.3.2-10].
func TestV5MaxTopicAlias(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		max   int
		alias uint16
	}{{0, 1}, {3, 4}} {
		b := StartBroker(t, fmt.Sprintf("listener PORT 127.0.0.1\nmax_topic_alias %d\n", c.max))
		r, ack := dialV5(t, b, v5Connect("alias-max"))
		if ack.Code != 0 {
			t.Fatalf("CONNACK %#x", ack.Code)
		}
		if got := ack.Props.HasTopicAliasMaximum; got != (c.max > 0) || (got && int(ack.Props.TopicAliasMaximum) != c.max) {
			t.Errorf("max_topic_alias %d: CONNACK Topic Alias Maximum present=%v value=%d", c.max, got, ack.Props.TopicAliasMaximum)
		}
		if c.max > 0 {
			// The highest allowed alias works.
			ok := &packet.Publish{Topic: "ta/x", Payload: []byte("1"), Props: packet.Properties{TopicAlias: uint16(c.max), HasTopicAlias: true}}
			r.send(packet.AppendPublish(nil, packet.V5, ok))
		}
		bad := &packet.Publish{Topic: "ta/x", Payload: []byte("2"), Props: packet.Properties{TopicAlias: c.alias, HasTopicAlias: true}}
		r.send(packet.AppendPublish(nil, packet.V5, bad))
		r.expectDisconnect(packet.TopicAliasInvalid)
	}
}
