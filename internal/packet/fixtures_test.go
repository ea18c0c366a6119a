package packet

import (
	"bytes"
	"reflect"
	"testing"
)

// fixture is a whole packet on the wire and the value it decodes to.
type fixture struct {
	name    string
	version byte
	raw     []byte
	want    any
	// noEncode marks non-canonical input: encoding want gives other bytes
	// (a tolerated 3.1 oddity, an explicit v5 reason 0, ...).
	noEncode bool
}

var v5ConnectProps = raw(
	0x11, 0, 0, 0, 60, // session expiry 60
	0x21, 0, 10, // receive maximum 10
	0x26, s("k"), s("v"), // user property
)

var fixtures = []fixture{
	// CONNECT [MQTT-3.1]
	{name: "connect v3.1", version: V31,
		raw: pkt(0x10, s("MQIsdp"), 3, 0x02, 0, 10, s("c")),
		want: &Connect{ProtocolName: "MQIsdp", ProtocolLevel: 3, Version: V31, CleanStart: true,
			KeepAlive: 10, ClientID: "c"}},
	{name: "connect v3.1.1 will user password", version: V311,
		raw: pkt(0x10, s("MQTT"), 4, 0xEE, 0, 60, s("cli"), s("wt"), s("wp"), s("bob"), s("pw")),
		want: &Connect{ProtocolName: "MQTT", ProtocolLevel: 4, Version: V311, CleanStart: true, KeepAlive: 60,
			ClientID: "cli", WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: "wt", WillPayload: []byte("wp"),
			UsernameFlag: true, Username: "bob", PasswordFlag: true, Password: []byte("pw")}},
	{name: "connect v3.1.1 bridge", version: V311,
		raw:  pkt(0x10, s("MQTT"), 0x84, 0x00, 0, 0, s("")),
		want: &Connect{ProtocolName: "MQTT", ProtocolLevel: 0x84, Version: V311, Bridge: true, ClientID: ""}},
	{name: "connect v5 props will props", version: V5,
		raw: pkt(0x10, s("MQTT"), 5, 0x06, 0, 30, pr(v5ConnectProps), s("id"),
			pr(0x03, s("ct"), 0x18, 0, 0, 0, 5), s("w/t"), s("bye")),
		want: &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, Version: V5, CleanStart: true, KeepAlive: 30,
			Props: Properties{SessionExpiry: 60, HasSessionExpiry: true, ReceiveMaximum: 10, HasReceiveMaximum: true,
				User: []UserProperty{{"k", "v"}}},
			ClientID: "id", WillFlag: true,
			WillProps: Properties{ContentType: "ct", HasContentType: true, WillDelay: 5, HasWillDelay: true},
			WillTopic: "w/t", WillPayload: []byte("bye")}},
	{name: "connect v5 password without username allowed", version: V5,
		raw: pkt(0x10, s("MQTT"), 5, 0x40, 0, 0, 0, s("a"), s("pw")),
		want: &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, Version: V5, ClientID: "a",
			PasswordFlag: true, Password: []byte("pw")}},
	{name: "connect v3.1 username flag without data is ignored", version: V31, noEncode: true,
		raw: pkt(0x10, s("MQIsdp"), 3, 0xC2, 0, 10, s("c")),
		want: &Connect{ProtocolName: "MQIsdp", ProtocolLevel: 3, Version: V31, CleanStart: true,
			KeepAlive: 10, ClientID: "c"}},
	{name: "connect v3.1 tolerates header flags and will bits without will", version: V31, noEncode: true,
		raw: pkt(0x1F, s("MQIsdp"), 3, 0x29, 0, 10, s("c")),
		want: &Connect{ProtocolName: "MQIsdp", ProtocolLevel: 3, Version: V31, KeepAlive: 10, ClientID: "c",
			WillQoS: 1, WillRetain: true}},

	// CONNACK
	{name: "connack v3.1.1", version: V311, raw: raw(0x20, 2, 1, 0),
		want: &Connack{SessionPresent: true}},
	{name: "connack v3.1 refused", version: V31, raw: raw(0x20, 2, 0, 5),
		want: &Connack{Code: ConnRefusedNotAuth}},
	{name: "connack v5 mosquitto default", version: V5,
		raw: raw(0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0A, 0x21, 0x00, 0x14),
		want: &Connack{Props: Properties{TopicAliasMaximum: 10, HasTopicAliasMaximum: true,
			ReceiveMaximum: 20, HasReceiveMaximum: true}}},
	{name: "connack v5 property order", version: V5,
		raw: pkt(0x20, 0, 0, pr(0x13, 0, 60, 0x22, 0, 10, 0x12, s("auto"), 0x25, 0, 0x24, 1)),
		want: &Connack{Props: Properties{ServerKeepAlive: 60, HasServerKeepAlive: true, TopicAliasMaximum: 10,
			HasTopicAliasMaximum: true, AssignedClientID: "auto", RetainAvailable: 0, HasRetainAvailable: true,
			MaximumQoS: 1, HasMaximumQoS: true}}},
	{name: "connack v5 failure", version: V5, raw: raw(0x20, 3, 0, 0x87, 0),
		want: &Connack{Code: NotAuthorized}},

	// PUBLISH [MQTT-3.3]
	{name: "publish v3.1.1 qos0", version: V311, raw: pkt(0x30, s("a/b"), "hi"),
		want: &Publish{Topic: "a/b", Payload: []byte("hi")}},
	{name: "publish v3.1.1 qos1 dup retain", version: V311, raw: pkt(0x3B, s("t"), 0, 7, "x"),
		want: &Publish{Dup: true, QoS: 1, Retain: true, Topic: "t", PacketID: 7, Payload: []byte("x")}},
	{name: "publish v3.1 dup qos0 tolerated", version: V31, raw: pkt(0x38, s("t")),
		want: &Publish{Dup: true, Topic: "t", Payload: []byte{}}},
	{name: "publish v5 qos2 props", version: V5,
		raw: pkt(0x34, s("t"), 0, 9, pr(
			0x0B, 5, 0x0B, 0x80, 0x01, 0x03, s("ct"), 0x09, s("cd"), 0x01, 1, 0x26, s("a"), s("b"),
			0x02, 0, 0, 0, 9, 0x23, 0, 1), "p"),
		want: &Publish{QoS: 2, Topic: "t", PacketID: 9, Payload: []byte("p"), Props: Properties{
			SubscriptionIDs: []uint32{5, 128}, ContentType: "ct", HasContentType: true,
			CorrelationData: []byte("cd"), HasCorrelation: true, PayloadFormat: 1, HasPayloadFormat: true,
			User: []UserProperty{{"a", "b"}}, MessageExpiry: 9, HasMessageExpiry: true,
			TopicAlias: 1, HasTopicAlias: true}}},
	{name: "publish v5 empty topic and payload", version: V5, raw: pkt(0x30, s(""), 0),
		want: &Publish{Payload: []byte{}}},

	// PUBACK/PUBREC/PUBREL/PUBCOMP [MQTT-3.4..3.7]
	{name: "puback v3.1.1", version: V311, raw: raw(0x40, 2, 0, 1), want: &Ack{Type: PUBACK, PacketID: 1}},
	{name: "pubrec v3.1", version: V31, raw: raw(0x50, 2, 1, 0), want: &Ack{Type: PUBREC, PacketID: 256}},
	{name: "pubrel v3.1.1", version: V311, raw: raw(0x62, 2, 0, 3), want: &Ack{Type: PUBREL, PacketID: 3}},
	{name: "pubrel v3.1 flags not checked", version: V31, raw: raw(0x60, 2, 0, 3), noEncode: true,
		want: &Ack{Type: PUBREL, PacketID: 3}},
	{name: "pubcomp v5 short", version: V5, raw: raw(0x70, 2, 0, 4), want: &Ack{Type: PUBCOMP, PacketID: 4}},
	{name: "puback v5 reason", version: V5, raw: raw(0x40, 3, 0, 4, 0x10),
		want: &Ack{Type: PUBACK, PacketID: 4, Code: NoMatchingSubscribers}},
	{name: "puback v5 explicit success", version: V5, raw: raw(0x40, 4, 0, 4, 0, 0), noEncode: true,
		want: &Ack{Type: PUBACK, PacketID: 4}},
	{name: "pubrec v5 reason string", version: V5, raw: pkt(0x50, 0, 4, 0x97, pr(0x1F, s("no"))),
		want: &Ack{Type: PUBREC, PacketID: 4, Code: QuotaExceeded, Props: Properties{ReasonString: "no"}}},

	// SUBSCRIBE [MQTT-3.8]
	{name: "subscribe v3.1.1", version: V311, raw: pkt(0x82, 0, 1, s("a/#"), 1, s("b"), 2),
		want: &Subscribe{PacketID: 1, Subscriptions: []Subscription{
			{Filter: "a/#", Options: SubOptions{QoS: 1}}, {Filter: "b", Options: SubOptions{QoS: 2}}}}},
	{name: "subscribe v3.1.1 qos 3 reported", version: V311, raw: pkt(0x82, 0, 1, s("a"), 3),
		want: &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a", Options: SubOptions{QoS: 3}}}}},
	{name: "subscribe v3.1 empty", version: V31, raw: pkt(0x82, 0, 1), want: &Subscribe{PacketID: 1}},
	{name: "subscribe v5 options", version: V5,
		raw: pkt(0x82, 0, 2, 2, 0x0B, 7, s("x"), 0x2E, s("y"), 0x03),
		want: &Subscribe{PacketID: 2, Props: Properties{SubscriptionIDs: []uint32{7}}, Subscriptions: []Subscription{
			{Filter: "x", Options: SubOptions{QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}},
			{Filter: "y", Options: SubOptions{QoS: 3}}}}},

	// SUBACK
	{name: "suback v3.1.1", version: V311, raw: raw(0x90, 4, 0, 1, 1, 0x80),
		want: &Suback{PacketID: 1, Codes: []ReasonCode{1, 0x80}}},
	{name: "suback v3.1 empty", version: V31, raw: raw(0x90, 2, 0, 1), want: &Suback{PacketID: 1}},
	{name: "suback v5", version: V5, raw: raw(0x90, 5, 0, 1, 0, 2, 0x87),
		want: &Suback{PacketID: 1, Codes: []ReasonCode{2, NotAuthorized}}},

	// UNSUBSCRIBE [MQTT-3.10] / UNSUBACK
	{name: "unsubscribe v3.1.1", version: V311, raw: pkt(0xA2, 0, 5, s("a"), s("b/+")),
		want: &Unsubscribe{PacketID: 5, Filters: []string{"a", "b/+"}}},
	{name: "unsubscribe v5", version: V5, raw: pkt(0xA2, 0, 5, pr(0x26, s("k"), s("")), s("a")),
		want: &Unsubscribe{PacketID: 5, Props: Properties{User: []UserProperty{{"k", ""}}}, Filters: []string{"a"}}},
	{name: "unsuback v3.1.1", version: V311, raw: raw(0xB0, 2, 0, 5), want: &Unsuback{PacketID: 5}},
	{name: "unsuback v5", version: V5, raw: raw(0xB0, 5, 0, 5, 0, 0, 0x11),
		want: &Unsuback{PacketID: 5, Codes: []ReasonCode{0, NoSubscriptionExisted}}},

	// PINGREQ/PINGRESP [MQTT-3.12, 3.13]
	{name: "pingreq", version: V311, raw: raw(0xC0, 0), want: &Pingreq{}},
	{name: "pingresp", version: V5, raw: raw(0xD0, 0), want: &Pingresp{}},

	// DISCONNECT [MQTT-3.14]
	{name: "disconnect v3.1", version: V31, raw: raw(0xE0, 0), want: &Disconnect{}},
	{name: "disconnect v5 empty", version: V5, raw: raw(0xE0, 0), want: &Disconnect{}},
	{name: "disconnect v5 with will", version: V5, raw: raw(0xE0, 1, 4), want: &Disconnect{Code: DisconnectWithWill}},
	{name: "disconnect v5 props", version: V5, raw: raw(0xE0, 7, 0, 5, 0x11, 0, 0, 0, 0),
		want: &Disconnect{Props: Properties{SessionExpiry: 0, HasSessionExpiry: true}}},

	// AUTH [MQTT5-3.15]
	{name: "auth v5", version: V5, raw: pkt(0xF0, 0x18, pr(0x15, s("SCRAM"), 0x16, s(""))),
		want: &Auth{Code: 0x18, Props: Properties{AuthMethod: "SCRAM", HasAuthMethod: true, AuthData: []byte{},
			HasAuthData: true}}},
	{name: "auth v5 empty", version: V5, raw: raw(0xF0, 0), want: &Auth{}},
}

func TestFixturesDecode(t *testing.T) {
	for _, tc := range fixtures {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeRaw(t, tc.version, tc.raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decode\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestFixturesEncode(t *testing.T) {
	for _, tc := range fixtures {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeAny(tc.version, tc.want)
			if !tc.noEncode && !bytes.Equal(b, tc.raw) {
				t.Fatalf("encode\n got % X\nwant % X", b, tc.raw)
			}
			// Round trip: whatever the encoder writes decodes to want.
			got, err := decodeRaw(t, tc.version, b)
			if err != nil {
				t.Fatalf("decode of encoding % X: %v", b, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
