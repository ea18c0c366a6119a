package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// Hostile input: every case sends hand-built bytes that a real client never
// sends and checks, against the reference (Mosquitto 2.0.20), (a) the exact
// log lines, (b) the close (or, where Mosquitto accepts the input, that the
// connection stays usable) and (c) that a well-behaved client connected
// before the attack still gets a publish round trip afterwards.

// mqttStr encodes s as an MQTT length-prefixed string (s may hold any bytes).
func mqttStr(s string) []byte {
	return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...)
}

// cat joins byte slices.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// pkt builds a packet: first byte, a correct remaining length, the body.
func pkt(first byte, body ...[]byte) []byte {
	b := cat(body...)
	out := []byte{first}
	n := len(b)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		out = append(out, d)
		if n == 0 {
			break
		}
	}
	return append(out, b...)
}

// connectPkt builds a CONNECT with full control over every field; rest
// follows the client id (will, username, password).
func connectPkt(first byte, name string, level, flags byte, ka uint16, id string, rest ...[]byte) []byte {
	return pkt(first, mqttStr(name), []byte{level, flags, byte(ka >> 8), byte(ka)}, mqttStr(id), cat(rest...))
}

// v311Connect is a valid 3.1.1 CONNECT, clean session, keepalive 60.
func v311Connect(id string) []byte { return connectPkt(0x10, "MQTT", 4, 0x02, 60, id) }

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

// login is a valid CONNECT the attacker sends (and gets CONNACK 0 for)
// before the attack.
type login struct {
	version byte // packet.V31 or packet.V311
	ka      uint16
}

type hostileCase struct {
	name  string
	conf  string   // extra broker config
	login *login   // nil: the attack starts with the first byte
	send  [][]byte // the attack, in chunks
	// gap is the deliberate pause between chunks of a slow attack.
	gap time.Duration
	// want are the exact log lines the attack causes, after the attacker's
	// CONNACK line (login) or after its "New connection" line (no login).
	// {port} is the attacker's port.
	want []string
	// reply is exactly what the broker sends back before closing (or, with
	// open, before the connection is found still usable).
	reply []byte
	// open: Mosquitto accepts the input; the attack ends with a PINGREQ
	// whose PINGRESP ends reply, and the connection must stay open.
	open bool
	// hangup: the attacker closes its socket after sending.
	hangup bool
	// within bounds the time from the first byte sent to the close.
	within time.Duration
}

const bad = "bad" // the attacker's client id when it logs in

func disc(id, why string) string { return fmt.Sprintf("Client %s %s", id, why) }

var (
	protoErr   = "disconnected due to protocol error."
	malformedL = "disconnected due to malformed packet."
	timeoutL   = "has exceeded timeout, disconnecting."
	pingLines  = []string{"Received PINGREQ from bad", "Sending PINGRESP to bad"}
	ping       = []byte{0xC0, 0x00}
	pingresp   = []byte{0xD0, 0x00}
	v3         = &login{version: packet.V311, ka: 60}
	v31        = &login{version: packet.V31, ka: 60}
	subOK      = pkt(0x82, u16(1), mqttStr("a/b"), []byte{0})
	goodFilter = "good/#"
)

func hostileCases() []hostileCase {
	unknownProto := []string{disc("<unknown>", protoErr)}
	unknownMalformed := []string{disc("<unknown>", malformedL)}
	badProto := []string{disc(bad, protoErr)}
	badMalformed := []string{disc(bad, malformedL)}
	// A 3.1 CONNECT accepted despite a flaw: connected, then usable.
	accepted31 := append([]string{
		"New client connected from 127.0.0.1:{port} as bad (p1, c1, k60).",
		"No will message specified.",
		"Sending CONNACK to bad (0, 0)",
	}, pingLines...)
	return []hostileCase{
		// Framing.
		{name: "remaining length of 5 bytes before CONNECT", send: [][]byte{{0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}},
			want: unknownMalformed},
		{name: "remaining length of 5 bytes after CONNECT", login: v3, send: [][]byte{{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}},
			want: badMalformed},
		{name: "garbage before CONNECT", send: [][]byte{[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
			want: unknownProto},
		{name: "garbage after CONNECT (type 0)", login: v3, send: [][]byte{{0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF}},
			want: badProto},
		{name: "AUTH in 3.1.1", login: v3, send: [][]byte{{0xF0, 0x00}}, want: badProto},
		{name: "abrupt close mid-packet before CONNECT", send: [][]byte{v311Connect("x")[:7]}, hangup: true,
			want: []string{disc("<unknown>", "closed its connection.")}},
		{name: "abrupt close mid-packet after CONNECT", login: v3, send: [][]byte{pkt(0x30, mqttStr("a/b"), []byte("hello"))[:6]},
			hangup: true, want: []string{disc(bad, "closed its connection.")}},

		// [MQTT-3.1.0-1] the first packet must be CONNECT.
		{name: "PUBLISH first", send: [][]byte{pkt(0x30, mqttStr("a/b"), []byte("x"))}, want: unknownProto},
		{name: "PINGREQ first", send: [][]byte{ping}, want: unknownProto},
		{name: "SUBSCRIBE first", send: [][]byte{subOK}, want: unknownProto},

		// CONNECT.
		{name: "CONNECT reserved flag bit", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x03, 60, "x")},
			want: unknownProto}, // [MQTT-3.1.2-3]
		{name: "CONNECT reserved flag bit tolerated in 3.1", send: [][]byte{connectPkt(0x10, "MQIsdp", 3, 0x03, 60, bad), ping},
			open: true, want: accepted31, reply: cat([]byte{0x20, 0x02, 0x00, 0x00}, pingresp)},
		{name: "CONNECT fixed header flags", send: [][]byte{connectPkt(0x11, "MQTT", 4, 0x02, 60, "x")},
			want: unknownProto}, // [MQTT-2.2.2-2]
		{name: "CONNECT fixed header flags tolerated in 3.1", send: [][]byte{connectPkt(0x12, "MQIsdp", 3, 0x02, 60, bad), ping},
			open: true, want: accepted31, reply: cat([]byte{0x20, 0x02, 0x00, 0x00}, pingresp)},
		{name: "protocol name of length 4", send: [][]byte{connectPkt(0x10, "MQTX", 4, 0x02, 60, "x")},
			want: append([]string{`Invalid protocol "MQTX" in CONNECT from 127.0.0.1.`}, unknownProto...)}, // [MQTT-3.1.2-1]
		{name: "protocol name of length 6", send: [][]byte{connectPkt(0x10, "MQIsdq", 3, 0x02, 60, "x")},
			want: append([]string{`Invalid protocol "MQIsdq" in CONNECT from 127.0.0.1.`}, unknownProto...)},
		{name: "protocol name of length 5", send: [][]byte{connectPkt(0x10, "MQTTT", 4, 0x02, 60, "x")},
			want: unknownProto},
		{name: "protocol level 7", send: [][]byte{connectPkt(0x10, "MQTT", 7, 0x02, 60, "x")},
			want:  []string{"Invalid protocol version 7 in CONNECT from 127.0.0.1.", "Sending CONNACK to 127.0.0.1 (0, 1)", disc("<unknown>", protoErr)},
			reply: []byte{0x20, 0x02, 0x00, 0x01}}, // [MQTT-3.1.2-2]
		{name: "protocol level 4 with MQIsdp", send: [][]byte{connectPkt(0x10, "MQIsdp", 4, 0x02, 60, "x")},
			want:  []string{"Invalid protocol version 4 in CONNECT from 127.0.0.1.", "Sending CONNACK to 127.0.0.1 (0, 1)", disc("<unknown>", protoErr)},
			reply: []byte{0x20, 0x02, 0x00, 0x01}},
		{name: "invalid UTF-8 in client id", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x02, 60, "a\xffb")},
			want: unknownProto}, // [MQTT-1.5.3-1]
		{name: "U+0000 in client id", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x02, 60, "a\x00b")},
			want: unknownProto}, // [MQTT-1.5.3-2]
		{name: "invalid UTF-8 in username", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x82, 60, "x", mqttStr("u\xc0\x80"))},
			want: unknownProto}, // [MQTT-1.5.3-1]
		{name: "surplus bytes after CONNECT payload", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x02, 60, "x", []byte{0})},
			want: unknownProto},
		{name: "truncated CONNECT", send: [][]byte{pkt(0x10, mqttStr("MQTT"), []byte{4, 2, 0})}, want: unknownProto},
		{name: "CONNECT over 100000 bytes", send: [][]byte{{0x10, 0xA1, 0x8D, 0x06}, make([]byte, 4096)},
			want: unknownMalformed},
		{name: "will QoS 3", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x1E, 60, "x", mqttStr("w"), mqttStr("p"))},
			want: append([]string{"Invalid Will QoS in CONNECT from 127.0.0.1."}, unknownProto...)}, // [MQTT-3.1.2-14]
		{name: "will QoS without will flag", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x0A, 60, "x")},
			want: unknownProto}, // [MQTT-3.1.2-13]
		{name: "will retain without will flag", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x22, 60, "x")},
			want: unknownProto}, // [MQTT-3.1.2-15]
		{name: "will QoS without will flag tolerated in 3.1", send: [][]byte{connectPkt(0x10, "MQIsdp", 3, 0x0A, 60, bad), ping},
			open: true, want: accepted31, reply: cat([]byte{0x20, 0x02, 0x00, 0x00}, pingresp)},
		{name: "password without username", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x42, 60, "pw-only", mqttStr("secret"))},
			want: append([]string{"Protocol error from pw-only: password without username, closing connection."}, unknownProto...)}, // [MQTT-3.1.2-22]
		{name: "password without username in 3.1", send: [][]byte{connectPkt(0x10, "MQIsdp", 3, 0x42, 60, "pw31", mqttStr("secret"))},
			want: append([]string{"Protocol error from pw31: password without username, closing connection."}, unknownProto...)},
		{name: "empty will topic", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x06, 60, "x", mqttStr(""), mqttStr("p"))},
			want: unknownProto},
		{name: "wildcard in will topic", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x06, 60, "x", mqttStr("w/#"), mqttStr("p"))},
			want: []string{"Bad socket read/write on client <unknown>: Invalid arguments provided."}},
		{name: "invalid UTF-8 in will topic", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x06, 60, "x", mqttStr("w/\xfe"), mqttStr("p"))},
			want: []string{"Bad socket read/write on client <unknown>: Malformed UTF-8"}},
		{name: "username flag without username", send: [][]byte{connectPkt(0x10, "MQTT", 4, 0x82, 60, "x")},
			want: unknownProto}, // [MQTT-3.1.2-19]
		{name: "second CONNECT over 100000 bytes", login: v3, send: [][]byte{{0x10, 0xA1, 0x8D, 0x06}, make([]byte, 4096)},
			want: badMalformed},
		{name: "second CONNECT", login: v3, send: [][]byte{v311Connect(bad)},
			want: append([]string{"Bad client bad sending multiple CONNECT messages."}, badProto...)}, // [MQTT-3.1.0-2]

		// PUBLISH.
		{name: "PUBLISH QoS 3", login: v3, send: [][]byte{pkt(0x36, mqttStr("a/b"), u16(1), []byte("x"))},
			want: append([]string{"Invalid QoS in PUBLISH from bad, disconnecting."}, badMalformed...)}, // [MQTT-3.3.1-4]
		{name: "PUBLISH DUP with QoS 0", login: v3, send: [][]byte{pkt(0x38, mqttStr("a/b"), []byte("x"))},
			want: append([]string{"Invalid PUBLISH (QoS=0 and DUP=1) from bad, disconnecting."}, badMalformed...)}, // [MQTT-3.3.1-2]
		{name: "PUBLISH wildcard +", login: v3, send: [][]byte{pkt(0x30, mqttStr("a/+"), []byte("x"))},
			want: badMalformed}, // [MQTT-3.3.2-2]
		{name: "PUBLISH wildcard #", login: v3, send: [][]byte{pkt(0x32, mqttStr("a/#"), u16(3), []byte("x"))},
			want: badMalformed},
		{name: "PUBLISH empty topic", login: v3, send: [][]byte{pkt(0x30, mqttStr(""), []byte("x"))},
			want: badMalformed}, // [MQTT-4.7.3-1]
		{name: "PUBLISH invalid UTF-8 topic", login: v3, send: [][]byte{pkt(0x30, mqttStr("a/\xed\xa0\x80"), []byte("x"))},
			want: badMalformed}, // [MQTT-1.5.3-1]
		{name: "PUBLISH U+0000 in topic", login: v3, send: [][]byte{pkt(0x30, mqttStr("a\x00b"), []byte("x"))},
			want: badMalformed}, // [MQTT-1.5.3-2]
		{name: "PUBLISH packet id 0", login: v3, send: [][]byte{pkt(0x32, mqttStr("a/b"), u16(0), []byte("x"))},
			want: badProto}, // [MQTT-2.3.1-1]
		{name: "PUBLISH topic with 201 levels", login: v3, send: [][]byte{pkt(0x30, mqttStr(strings.Repeat("a/", 201)+"a"), []byte("x"))},
			want: badMalformed},
		{name: "PUBLISH QoS above max_qos", conf: "max_qos 1\n", login: v3, send: [][]byte{pkt(0x34, mqttStr("a/b"), u16(1), []byte("x"))},
			want: []string{"Too high QoS in PUBLISH from bad, disconnecting.", "Bad socket read/write on client bad: Requested QoS not supported on server."}},
		{name: "PUBLISH retain with retain_available false", conf: "retain_available false\n", login: v3,
			send: [][]byte{pkt(0x31, mqttStr("a/b"), []byte("x"))},
			want: []string{"Bad socket read/write on client bad: Unknown error."}},
		{name: "PUBLISH truncated topic", login: v3, send: [][]byte{pkt(0x30, []byte{0x00, 0x09, 'a'})},
			want: badMalformed},
		{name: "oversize packet", conf: "max_packet_size 100\n", login: v3,
			send: [][]byte{pkt(0x30, mqttStr("a/b"), make([]byte, 200))},
			want: []string{disc(bad, "disconnected due to oversize packet.")}},
		{name: "oversize packet header only", conf: "max_packet_size 100\n", login: v3,
			send: [][]byte{{0x30, 0xFF, 0xFF, 0xFF, 0x7F}},
			want: []string{disc(bad, "disconnected due to oversize packet.")}},

		// SUBSCRIBE / UNSUBSCRIBE.
		{name: "SUBSCRIBE QoS 3", login: v3, send: [][]byte{pkt(0x82, u16(1), mqttStr("a/b"), []byte{3})},
			want: append([]string{"Received SUBSCRIBE from bad", "Invalid QoS in subscription command from 127.0.0.1, disconnecting."}, badMalformed...)}, // [MQTT-3-8.3-4]
		{name: "SUBSCRIBE invalid UTF-8 filter", login: v3, send: [][]byte{pkt(0x82, u16(1), mqttStr("a/\xff"), []byte{0})},
			want: append([]string{"Received SUBSCRIBE from bad", "Invalid subscription string from 127.0.0.1, disconnecting."}, badMalformed...)},
		{name: "SUBSCRIBE bad wildcard", login: v3, send: [][]byte{pkt(0x82, u16(1), mqttStr("a/b#"), []byte{0})},
			want: append([]string{"Received SUBSCRIBE from bad", "Invalid subscription string from 127.0.0.1, disconnecting."}, badMalformed...)}, // [MQTT-4.7.1-2]
		{name: "SUBSCRIBE empty filter", login: v3, send: [][]byte{pkt(0x82, u16(1), mqttStr(""), []byte{0})},
			want: append([]string{"Received SUBSCRIBE from bad", "Empty subscription string from 127.0.0.1, disconnecting."}, badMalformed...)}, // [MQTT-4.7.3-1]
		{name: "SUBSCRIBE header flags", login: v3, send: [][]byte{pkt(0x80, u16(1), mqttStr("a/b"), []byte{0})},
			want: badMalformed}, // [MQTT-3.8.1-1]
		{name: "SUBSCRIBE without topics", login: v3, send: [][]byte{pkt(0x82, u16(1))},
			want: append([]string{"Received SUBSCRIBE from bad"}, badMalformed...)}, // [MQTT-3.8.3-3]
		{name: "SUBSCRIBE without topics in 3.1", login: v31, send: [][]byte{pkt(0x82, u16(1)), ping}, open: true,
			want:  append([]string{"Received SUBSCRIBE from bad", "Sending SUBACK to bad"}, pingLines...),
			reply: cat([]byte{0x90, 0x02, 0x00, 0x01}, pingresp)},
		{name: "SUBSCRIBE packet id 0", login: v3, send: [][]byte{pkt(0x82, u16(0), mqttStr("a/b"), []byte{0})},
			want: append([]string{"Received SUBSCRIBE from bad"}, badMalformed...)}, // [MQTT-2.3.1-1]
		{name: "UNSUBSCRIBE without topics", login: v3, send: [][]byte{pkt(0xA2, u16(1))},
			want: append([]string{"Received UNSUBSCRIBE from bad"}, badMalformed...)}, // [MQTT-3.10.3-2]
		{name: "SUBSCRIBE truncated options byte", login: v3, send: [][]byte{pkt(0x82, u16(1), mqttStr("a/b"))},
			want: append([]string{"Received SUBSCRIBE from bad"}, badMalformed...)},
		{name: "UNSUBSCRIBE packet id 0", login: v3, send: [][]byte{pkt(0xA2, u16(0), mqttStr("a/b"))},
			want: append([]string{"Received UNSUBSCRIBE from bad"}, badMalformed...)},
		{name: "UNSUBSCRIBE header flags", login: v3, send: [][]byte{pkt(0xA0, u16(1), mqttStr("a/b"))},
			want: badMalformed}, // [MQTT-3.10.1-1]
		{name: "UNSUBSCRIBE bad wildcard", login: v3, send: [][]byte{pkt(0xA2, u16(1), mqttStr("a/+b"))},
			want: append([]string{"Received UNSUBSCRIBE from bad", "Invalid unsubscription string from bad, disconnecting."}, badMalformed...)}, // [MQTT-4.7.1-3]
		{name: "UNSUBSCRIBE empty filter", login: v3, send: [][]byte{pkt(0xA2, u16(1), mqttStr(""))},
			want: append([]string{"Received UNSUBSCRIBE from bad", "Empty unsubscription string from bad, disconnecting."}, badMalformed...)},

		// Acks and control packets.
		{name: "PUBREL header flags", login: v3, send: [][]byte{pkt(0x60, u16(1))}, want: badMalformed}, // [MQTT-3.6.1-1]
		{name: "PUBACK packet id 0", login: v3, send: [][]byte{pkt(0x40, u16(0))}, want: badProto},      // [MQTT-2.3.1-1]
		{name: "PUBACK length 3", login: v3, send: [][]byte{pkt(0x40, u16(1), []byte{0})}, want: badMalformed},
		{name: "PINGREQ with length", login: v3, send: [][]byte{{0xC0, 0x01, 0x00}}, want: badMalformed},
		{name: "DISCONNECT with length", login: v3, send: [][]byte{{0xE0, 0x01, 0x00}}, want: badMalformed},
		{name: "DISCONNECT header flags", login: v3, send: [][]byte{{0xE2, 0x00}}, want: badMalformed}, // [MQTT-3.14.1-1]
		{name: "CONNACK from client", login: v3, send: [][]byte{{0x20, 0x02, 0x00, 0x00}}, want: badProto},
		{name: "CONNACK from client, odd length", login: v3, send: [][]byte{{0x20, 0x03, 0x00, 0x00, 0x00}}, want: badProto},
		{name: "SUBACK from client", login: v3, send: [][]byte{pkt(0x90, u16(1), []byte{0})}, want: badProto},
		{name: "PINGRESP from client", login: v3, send: [][]byte{pingresp}, want: badProto},

		// Slow and stalled senders.
		{name: "half-sent packet before CONNECT", conf: "connect_timeout 1\n", send: [][]byte{v311Connect("x")[:6]},
			want: []string{disc("<unknown>", timeoutL)}, within: 4 * time.Second},
		{name: "half-sent packet after CONNECT", login: &login{version: packet.V311, ka: 1},
			send: [][]byte{pkt(0x30, mqttStr("a/b"), []byte("hello"))[:5]},
			want: []string{disc(bad, timeoutL)}, within: 4 * time.Second},
		{name: "CONNECT one byte per 100 ms", conf: "connect_timeout 1\n",
			send: bytesOf(v311Connect(strings.Repeat("s", 40))), gap: 100 * time.Millisecond,
			want: []string{disc("<unknown>", timeoutL)}, within: 2500 * time.Millisecond},
		{name: "PUBLISH one byte per 300 ms", login: &login{version: packet.V311, ka: 1},
			send: bytesOf(pkt(0x30, mqttStr("a/b"), []byte("0123456789abcdef"))), gap: 300 * time.Millisecond,
			want: []string{disc(bad, timeoutL)}, within: 4 * time.Second},
	}
}

// bytesOf splits b into one-byte chunks.
func bytesOf(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

func TestHostileInput(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runHostile(t, tc)
		})
	}
}

// goodClient is a well-behaved client subscribed to good/#.
func goodClient(t *testing.T, b *Broker) *rawClient {
	t.Helper()
	g := dialRaw(t, b.Addr)
	if ack := g.connect(&packet.Connect{ClientID: "good", CleanStart: true, KeepAlive: 60}); ack.Code != 0 {
		t.Fatalf("good client refused: %v", ack.Code)
	}
	g.send(packet.AppendSubscribe(nil, g.v, &packet.Subscribe{PacketID: 1,
		Subscriptions: []packet.Subscription{{Filter: goodFilter, Options: packet.SubOptions{QoS: 1}}}}))
	if _, ok := g.read(5 * time.Second).(*packet.Suback); !ok {
		t.Fatal("good client: expected SUBACK")
	}
	return g
}

// roundTrip checks that the good client can still publish and receive.
func roundTrip(t *testing.T, g *rawClient, mid uint16) {
	t.Helper()
	g.send(packet.AppendPublish(nil, g.v, &packet.Publish{QoS: 1, PacketID: mid, Topic: "good/t", Payload: []byte("alive")}))
	var gotPub, gotAck bool
	for !gotPub || !gotAck {
		switch p := g.read(5 * time.Second).(type) {
		case *packet.Publish:
			if p.Topic != "good/t" || string(p.Payload) != "alive" {
				t.Fatalf("good client got %q %q", p.Topic, p.Payload)
			}
			gotPub = true
			if p.QoS == 1 {
				g.send(packet.AppendAck(nil, g.v, &packet.Ack{Type: packet.PUBACK, PacketID: p.PacketID}))
			}
		case *packet.Ack:
			if p.Type != packet.PUBACK || p.PacketID != mid {
				t.Fatalf("good client got %v %d", p.Type, p.PacketID)
			}
			gotAck = true
		default:
			t.Fatalf("good client got %T", p)
		}
	}
}

// indexFrom returns the index of the first line at or after from equal to s.
func indexFrom(lines []string, from int, s string) int {
	for i := from; i < len(lines); i++ {
		if lines[i] == s {
			return i
		}
	}
	return -1
}

// readUntilClosed reads what the broker sends until it closes the
// connection; it fails if the connection is still open at the deadline.
func readUntilClosed(t *testing.T, nc net.Conn, deadline time.Time) []byte {
	t.Helper()
	nc.SetReadDeadline(deadline)
	var got []byte
	buf := make([]byte, 512)
	for {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open at the deadline; received % x", got)
			}
			return got
		}
	}
}

func runHostile(t *testing.T, tc hostileCase) {
	b := StartBroker(t, "log_type all\n"+tc.conf)
	g := goodClient(t, b)
	b.WaitLog(t, `^Sending SUBACK to good$`, 5*time.Second)

	start := b.Mark()
	nc, err := net.DialTimeout("tcp", b.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	port := nc.LocalAddr().(*net.TCPAddr).Port
	var want []string
	if tc.login == nil {
		want = append(want, fmt.Sprintf("New connection from 127.0.0.1:%d on port %d.", port, b.Port))
	}
	for _, l := range tc.want {
		want = append(want, strings.ReplaceAll(l, "{port}", fmt.Sprint(port)))
	}
	if tc.login != nil {
		c := &packet.Connect{ClientID: bad, CleanStart: true, KeepAlive: tc.login.ka, Version: tc.login.version,
			ProtocolLevel: tc.login.version}
		if _, err := nc.Write(packet.AppendConnect(nil, c)); err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		ack := make([]byte, 4)
		if _, err := io.ReadFull(nc, ack); err != nil || !bytes.Equal(ack, []byte{0x20, 0x02, 0x00, 0x00}) {
			t.Fatalf("login: CONNACK % x, %v", ack, err)
		}
		b.WaitLogFrom(t, start, `^Sending CONNACK to bad \(0, 0\)$`, 5*time.Second)
		start = indexFrom(b.Lines(), start, "Sending CONNACK to bad (0, 0)") + 1
	}

	// The attack. A slow attack keeps sending while the broker is expected
	// to give up, so it runs beside the read.
	began := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, chunk := range tc.send {
			if i > 0 && tc.gap > 0 {
				select {
				case <-stop:
					return
				case <-time.After(tc.gap): // the deliberate gap of a slow sender
				}
			}
			if _, err := nc.Write(chunk); err != nil {
				return // the broker may close (and reset) before all is sent
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	if tc.hangup {
		wg.Wait()
		nc.Close()
	}

	within := tc.within
	if within == 0 {
		within = 5 * time.Second
	}
	switch {
	case tc.hangup:
	case tc.open:
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(tc.reply))
		if _, err := io.ReadFull(nc, got); err != nil || !bytes.Equal(got, tc.reply) {
			t.Fatalf("reply % x, %v; want % x", got, err, tc.reply)
		}
	default:
		got := readUntilClosed(t, nc, began.Add(within))
		if !bytes.Equal(got, tc.reply) {
			t.Errorf("reply before close % x; want % x", got, tc.reply)
		}
	}

	// (a) exactly Mosquitto's lines, in order.
	b.WaitLogFrom(t, start, "^"+regexp.QuoteMeta(want[len(want)-1])+"$", 5*time.Second)
	lines := b.Lines()
	if got := lines[start:min(len(lines), start+len(want))]; !slicesEqual(got, want) {
		t.Errorf("log lines:\n  got  %q\n  want %q", got, want)
	}

	// (c) the bystander is unaffected, and nothing more was logged about
	// the attacker.
	roundTrip(t, g, 7)
	b.WaitLogFrom(t, start, `^Sending PUBACK to good \(m7, rc0\)$`, 5*time.Second)
	for _, l := range b.Lines()[start+len(want):] {
		if !strings.Contains(l, "good") {
			t.Errorf("unexpected line after the attack: %q", l)
		}
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hostilePayloads are what the swarm in TestHostileSwarm sends, one per
// connection in turn. Each needs the broker to close the connection.
var hostilePayloads = [][]byte{
	{0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F},                                   // 5 length bytes
	[]byte("GET / HTTP/1.1\r\n\r\n"),                                       // not MQTT
	connectPkt(0x10, "MQTX", 4, 0x02, 60, "x"),                             // bad protocol name
	connectPkt(0x10, "MQTT", 9, 0x02, 60, "x"),                             // bad level
	connectPkt(0x10, "MQTT", 4, 0x1E, 60, "x", mqttStr("w"), mqttStr("p")), // will QoS 3
	cat(v311Connect("swarm"), pkt(0x36, mqttStr("a"), u16(1))),             // QoS 3
	cat(v311Connect("swarm"), pkt(0x30, mqttStr("good/+"), []byte("x"))),   // wildcard
	cat(v311Connect("swarm"), pkt(0x82, u16(1), mqttStr("good/#"), []byte{3})),
	cat(v311Connect("swarm"), v311Connect("swarm")),                                     // second CONNECT
	cat(v311Connect("swarm"), []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, make([]byte, 1000)), // 256 MB claimed, then a hang-up
}

// TestHostileSwarm runs 200 hostile connections at once beside a
// well-behaved client: the client keeps its round trips, every hostile
// connection is closed, and the broker still runs and accepts new clients.
func TestHostileSwarm(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	g := goodClient(t, b)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", b.Addr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			p := hostilePayloads[i%len(hostilePayloads)]
			if i%len(hostilePayloads) == len(hostilePayloads)-1 {
				nc.Write(p)
				return // hang up with the packet unfinished
			}
			nc.Write(p)
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					errs <- fmt.Errorf("connection %d still open: % x", i, p[:min(len(p), 16)])
				}
			}
		}(i)
	}
	// The bystander works while the swarm runs...
	roundTrip(t, g, 1)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// ...and after it.
	roundTrip(t, g, 2)
	select {
	case <-b.done:
		t.Fatalf("broker exited: %v", b.exit)
	default:
	}
	late := dialRaw(t, b.Addr)
	if ack := late.connect(&packet.Connect{ClientID: "late", CleanStart: true, KeepAlive: 60}); ack.Code != 0 {
		t.Fatalf("new client refused: %v", ack.Code)
	}
	for _, l := range b.Lines() {
		if strings.Contains(l, "panic") || strings.Contains(l, "goroutine ") {
			t.Fatalf("broker log shows a panic: %q", l)
		}
	}
}
