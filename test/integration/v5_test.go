package integration

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/midgemq/midge/internal/packet"
)

// MQTT 5 behaviour through eclipse/paho.golang as a real v5 client, plus raw
// clients where a test needs exact control (timing of acks, bytes on the
// wire). Spec tags name the statements checked (docs/CONFORMANCE-MQTT5.md).

// v5Paho is a connected paho.golang client and the messages it receives.
type v5Paho struct {
	c    *paho.Client
	ack  *paho.Connack
	msgs chan *paho.Publish
	disc chan *paho.Disconnect
}

// dialPaho connects a paho.golang client; cp may be nil for a clean start.
func dialPaho(t *testing.T, b *Broker, id string, cp *paho.Connect) *v5Paho {
	t.Helper()
	nc, err := net.DialTimeout("tcp", b.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p := &v5Paho{msgs: make(chan *paho.Publish, 100), disc: make(chan *paho.Disconnect, 1)}
	p.c = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(r paho.PublishReceived) (bool, error) {
			p.msgs <- r.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { p.disc <- d },
	})
	if cp == nil {
		cp = &paho.Connect{CleanStart: true}
	}
	cp.ClientID = id
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.ack, err = p.c.Connect(ctx, cp)
	if err != nil && p.ack == nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { nc.Close() })
	return p
}

func (p *v5Paho) subscribe(t *testing.T, s *paho.Subscribe) *paho.Suback {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := p.c.Subscribe(ctx, s)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return sa
}

func (p *v5Paho) publish(t *testing.T, m *paho.Publish) *paho.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := p.c.Publish(ctx, m)
	if err != nil && r == nil {
		t.Fatalf("publish: %v", err)
	}
	return r
}

func (p *v5Paho) recv(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case m := <-p.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

func (p *v5Paho) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-p.msgs:
		t.Fatalf("unexpected message %q on %q", m.Payload, m.Topic)
	case <-time.After(quiet):
	}
}

func ptr[T any](v T) *T { return &v }

// TestV5Connack: the CONNACK properties Mosquitto sends, an assigned client
// identifier, Server Keep Alive, and nothing a client did not ask for.
func TestV5Connack(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	p := dialPaho(t, b, "", &paho.Connect{CleanStart: true, Properties: &paho.ConnectProperties{
		RequestResponseInfo: true, RequestProblemInfo: false}})
	a := p.ack
	if a.ReasonCode != 0 || a.SessionPresent {
		t.Fatalf("CONNACK %d present %v", a.ReasonCode, a.SessionPresent) // [MQTT5-3.2.2-2]
	}
	pr := a.Properties
	// [MQTT5-3.1.3-6] [MQTT5-3.1.3-7] [MQTT5-3.2.2-16]
	if !strings.HasPrefix(pr.AssignedClientID, "auto-") || len(pr.AssignedClientID) != 5+36 {
		t.Fatalf("assigned id %q", pr.AssignedClientID)
	}
	if pr.TopicAliasMaximum == nil || *pr.TopicAliasMaximum != 10 || pr.ReceiveMaximum == nil || *pr.ReceiveMaximum != 20 {
		t.Fatalf("CONNACK properties %+v", pr)
	}
	// [MQTT5-3.1.2-28] no Response Information; [MQTT5-4.12.0-6] no Authentication Method;
	// [MQTT5-3.2.2-22] no Server Keep Alive without max_keepalive; availability flags absent = available.
	if pr.ResponseInfo != "" || pr.AuthMethod != "" || pr.ServerKeepAlive != nil || pr.MaximumQoS != nil ||
		!pr.WildcardSubAvailable || !pr.SubIDAvailable || !pr.SharedSubAvailable || !pr.RetainAvailable {
		t.Fatalf("CONNACK properties %+v", pr)
	}
	b.WaitLog(t, q("New client connected from 127.0.0.1:")[:len(q("New client connected from 127.0.0.1:"))-1]+`\d+ as auto-.* \(p5, c1, k30\)\.$`, 5*time.Second)
	// [MQTT5-3.1.2-29] Request Problem Information 0: nothing but codes on SUBACK.
	sa := p.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "a", QoS: 1}}})
	if sa.Properties != nil && (sa.Properties.ReasonString != "" || len(sa.Properties.User) > 0) {
		t.Fatalf("SUBACK properties %+v", sa.Properties)
	}
}

// TestV5ServerKeepAlive: max_keepalive is sent as Server Keep Alive and
// enforced [MQTT5-3.2.2-21] [MQTT5-3.1.2-22].
func TestV5ServerKeepAlive(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "max_keepalive 1\n")
	r, ack := dialV5(t, b, &packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 5, Version: 5, ClientID: "ka", CleanStart: true})
	if !ack.Props.HasServerKeepAlive || ack.Props.ServerKeepAlive != 1 {
		t.Fatalf("Server Keep Alive %+v", ack.Props)
	}
	r.expectClosed(10 * time.Second) // no DISCONNECT on timeout, as Mosquitto
	b.WaitLog(t, q("Client ka has exceeded timeout, disconnecting."), 5*time.Second)
}

// TestV5PropertiesForwarded: every forwarded property reaches a v5
// subscriber unaltered, user properties in order, with the remaining
// message expiry and the subscription identifier; a v3.1.1 subscriber gets
// the plain message [MQTT5-3.3.2-4] [MQTT5-3.3.2-6] [MQTT5-3.3.2-15]
// [MQTT5-3.3.2-16] [MQTT5-3.3.2-17] [MQTT5-3.3.2-18] [MQTT5-3.3.2-20].
func TestV5PropertiesForwarded(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	sub := dialPaho(t, b, "sub", nil)
	sub.subscribe(t, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: ptr(7)},
		Subscriptions: []paho.SubscribeOptions{{Topic: "p/#", QoS: 1}}})
	v3 := mustConnect(t, b, "v3sub", true)
	v3.subscribe(1, 1, "p/#")
	pub := dialPaho(t, b, "pub", nil)
	users := paho.UserProperties{{Key: "k", Value: "1"}, {Key: "a", Value: "2"}, {Key: "k", Value: "3"}}
	r := pub.publish(t, &paho.Publish{Topic: "p/x", QoS: 1, Payload: []byte("héllo"), Properties: &paho.PublishProperties{
		ContentType: "text/plain", ResponseTopic: "reply/x", CorrelationData: []byte{1, 2, 3},
		PayloadFormat: ptr(byte(1)), MessageExpiry: ptr(uint32(100)), User: users}})
	if r.ReasonCode != 0 {
		t.Fatalf("PUBACK %#x", r.ReasonCode)
	}
	m := sub.recv(t)
	pr := m.Properties
	if pr.ContentType != "text/plain" || pr.ResponseTopic != "reply/x" || string(pr.CorrelationData) != "\x01\x02\x03" ||
		pr.PayloadFormat == nil || *pr.PayloadFormat != 1 || pr.MessageExpiry == nil || *pr.MessageExpiry > 100 ||
		*pr.MessageExpiry < 95 || pr.SubscriptionIdentifier == nil || *pr.SubscriptionIdentifier != 7 || pr.TopicAlias != nil {
		t.Fatalf("forwarded properties %+v", pr)
	}
	if len(pr.User) != 3 || pr.User[0] != users[0] || pr.User[1] != users[1] || pr.User[2] != users[2] {
		t.Fatalf("user properties %v, want %v", pr.User, users)
	}
	got := v3.expectPublish()
	if got.Topic != "p/x" || string(got.Payload) != "héllo" {
		t.Fatalf("v3 got %+v", got)
	}
	// v3.1.1 publisher to v5 subscriber: no properties but the subscription id.
	v3.publish(&packet.Publish{Topic: "p/y", QoS: 0, Payload: []byte("plain")})
	m = sub.recv(t)
	if m.Properties.ContentType != "" || len(m.Properties.User) != 0 || m.Properties.MessageExpiry != nil {
		t.Fatalf("v3-origin message has properties %+v", m.Properties)
	}
}

// TestV5PublishReasonCodes: PUBACK 0x10 without subscribers (QoS 1 only),
// 0x99 for a payload that contradicts its format indicator, success with a
// valid UTF-8 payload [MQTT5-3.4.2-1] [MQTT5-3.5.2-1].
func TestV5PublishReasonCodes(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	p := dialPaho(t, b, "codes", nil)
	if r := p.publish(t, &paho.Publish{Topic: "nobody", QoS: 1, Payload: []byte("x")}); r.ReasonCode != 0x10 {
		t.Fatalf("PUBACK %#x, want 0x10", r.ReasonCode)
	}
	if r := p.publish(t, &paho.Publish{Topic: "nobody", QoS: 2, Payload: []byte("x")}); r.ReasonCode != 0 {
		t.Fatalf("PUBREC/PUBCOMP %#x, want 0", r.ReasonCode)
	}
	p.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "pfi", QoS: 1}}})
	bad := &paho.Publish{Topic: "pfi", QoS: 1, Payload: []byte{0xff}, Properties: &paho.PublishProperties{PayloadFormat: ptr(byte(1))}}
	if r := p.publish(t, bad); r.ReasonCode != 0x99 {
		t.Fatalf("PUBACK %#x, want 0x99", r.ReasonCode)
	}
	bad.QoS = 2
	if r := p.publish(t, bad); r.ReasonCode != 0x99 {
		t.Fatalf("PUBREC %#x, want 0x99", r.ReasonCode)
	}
	p.none(t)
	good := &paho.Publish{Topic: "pfi", QoS: 1, Payload: []byte("ok ✓"), Properties: &paho.PublishProperties{PayloadFormat: ptr(byte(1))}}
	p.publish(t, good)
	if m := p.recv(t); string(m.Payload) != "ok ✓" {
		t.Fatalf("got %q", m.Payload)
	}
	b.WaitLog(t, q("Sending PUBACK to codes (m1, rc16)"), 5*time.Second)
}

// TestV5SubscriptionOptions: No Local, Retain As Published, Retain Handling
// 0/1/2, and SUBACK/UNSUBACK reason codes [MQTT5-3.8.3-3] [MQTT5-3.3.1-9]
// [MQTT5-3.3.1-10] [MQTT5-3.3.1-11] [MQTT5-3.3.1-12] [MQTT5-3.3.1-13]
// [MQTT5-3.8.4-6] [MQTT5-3.9.3-1] [MQTT5-3.11.3-1] [MQTT5-3.11.3-2].
func TestV5SubscriptionOptions(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	p := dialPaho(t, b, "opts", nil)
	p.publish(t, &paho.Publish{Topic: "r/1", QoS: 1, Retain: true, Payload: []byte("kept")})
	sa := p.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "r/#", QoS: 2, NoLocal: true, RetainHandling: 1},
		{Topic: "x/+", QoS: 0, RetainAsPublished: true, RetainHandling: 2},
	}})
	if len(sa.Reasons) != 2 || sa.Reasons[0] != 2 || sa.Reasons[1] != 0 {
		t.Fatalf("SUBACK %v", sa.Reasons)
	}
	if m := p.recv(t); string(m.Payload) != "kept" || !m.Retain { // handling 1, new subscription
		t.Fatalf("retained %+v", m)
	}
	p.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "r/#", QoS: 2, NoLocal: true, RetainHandling: 1}}})
	p.none(t) // handling 1, existing subscription: nothing
	p.publish(t, &paho.Publish{Topic: "r/1", QoS: 0, Payload: []byte("own")})
	p.none(t) // No Local
	other := dialPaho(t, b, "other", nil)
	other.publish(t, &paho.Publish{Topic: "x/1", QoS: 0, Retain: true, Payload: []byte("rap")})
	if m := p.recv(t); !m.Retain { // Retain As Published
		t.Fatalf("retain flag lost: %+v", m)
	}
	other.publish(t, &paho.Publish{Topic: "r/2", QoS: 0, Retain: true, Payload: []byte("live")})
	if m := p.recv(t); m.Retain {
		t.Fatalf("retain flag kept without Retain As Published: %+v", m)
	}
	p.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "x/+", RetainHandling: 2}}})
	p.none(t) // handling 2
	p.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "x/+", RetainHandling: 0}}})
	if m := p.recv(t); string(m.Payload) != "rap" {
		t.Fatalf("handling 0 re-subscribe: %+v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ua, err := p.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"r/#", "never", "x/+"}})
	if err != nil && ua == nil {
		t.Fatal(err)
	}
	if len(ua.Reasons) != 3 || ua.Reasons[0] != 0 || ua.Reasons[1] != 0x11 || ua.Reasons[2] != 0 {
		t.Fatalf("UNSUBACK %v", ua.Reasons)
	}
}

// TestV5OverlapAndSharedSubscriptions: one copy per matching subscription,
// each with its identifier; shared groups round-robin across v5 and v3.1.1
// members and get no retained messages [MQTT5-3.3.4-2] [MQTT5-3.3.4-3]
// [MQTT5-3.3.4-5] [MQTT5-4.8.2-3] [MQTT5-4.8.2-5].
func TestV5OverlapAndSharedSubscriptions(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	p := dialPaho(t, b, "ov", nil)
	p.publish(t, &paho.Publish{Topic: "s/1", QoS: 0, Retain: true, Payload: []byte("retained")})
	p.subscribe(t, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: ptr(1)},
		Subscriptions: []paho.SubscribeOptions{{Topic: "s/+", QoS: 1, RetainHandling: 2}}})
	p.subscribe(t, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: ptr(2)},
		Subscriptions: []paho.SubscribeOptions{{Topic: "s/#", QoS: 0, RetainHandling: 2}}})
	s1 := dialPaho(t, b, "sh1", nil)
	s1.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$share/g/s/#", QoS: 1}}})
	s2 := mustConnect(t, b, "sh2", true)
	s2.subscribe(1, 1, "$share/g/s/#")
	s1.none(t) // no retained message for a shared subscription
	pub := dialPaho(t, b, "opub", nil)
	for i := 0; i < 4; i++ {
		pub.publish(t, &paho.Publish{Topic: "s/2", QoS: 1, Payload: []byte{byte('0' + i)}})
	}
	ids := map[int]int{}
	for i := 0; i < 8; i++ {
		m := p.recv(t)
		ids[*m.Properties.SubscriptionIdentifier]++
	}
	if ids[1] != 4 || ids[2] != 4 {
		t.Fatalf("subscription identifiers %v", ids)
	}
	n1 := 0
	for i := 0; i < 2; i++ {
		s1.recv(t)
		n1++
	}
	for i := 0; i < 2; i++ {
		m := s2.expectPublish()
		s2.ack(packet.PUBACK, m.PacketID)
	}
	s1.none(t)
}

// TestV5ReceiveMaximum: the client's Receive Maximum bounds the QoS 1/2
// messages in flight to it; the next goes out when one is acked
// [MQTT5-3.3.4-9] [MQTT5-4.9.0-2] [MQTT5-4.9.0-3] [MQTT5-3.3.4-10].
func TestV5ReceiveMaximum(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	c := v5Connect("rm")
	c.Props.ReceiveMaximum, c.Props.HasReceiveMaximum = 2, true
	r := mustV5(t, b, c)
	r.subscribe(1, 1, "rm")
	pub := dialPaho(t, b, "rmpub", nil)
	for i := 0; i < 4; i++ {
		pub.publish(t, &paho.Publish{Topic: "rm", QoS: 1, Payload: []byte{byte('a' + i)}})
	}
	m1, m2 := r.expectPublish(), r.expectPublish()
	r.expectNothing()
	r.ping() // other packets still flow at quota 0
	r.ack(packet.PUBACK, m1.PacketID)
	if m3 := r.expectPublish(); string(m3.Payload) != "c" {
		t.Fatalf("third %q", m3.Payload)
	}
	r.ack(packet.PUBACK, m2.PacketID)
	r.expectPublish()
}

// TestV5InboundQuota: the broker's Receive Maximum (max_inflight_messages)
// on inbound QoS 2: Mosquitto answers the excess PUBREC 0x97 and drops it
// (reference §6.4) rather than DISCONNECT 0x93.
func TestV5InboundQuota(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "max_inflight_messages 2\n")
	r, ack := dialV5(t, b, v5Connect("quota"))
	if ack.Props.ReceiveMaximum != 2 {
		t.Fatalf("Receive Maximum %d", ack.Props.ReceiveMaximum)
	}
	for mid := uint16(1); mid <= 3; mid++ {
		r.publish(&packet.Publish{Topic: "q", QoS: 2, PacketID: mid, Payload: []byte("x")})
	}
	for mid := uint16(1); mid <= 3; mid++ {
		a := r.read(5 * time.Second).(*packet.Ack)
		want := packet.Success
		if mid == 3 {
			want = packet.QuotaExceeded
		}
		if a.Type != packet.PUBREC || a.PacketID != mid || a.Code != want {
			t.Fatalf("got %+v, want PUBREC %d %#x", a, mid, want)
		}
	}
	r.ping()
}

// TestV5MaximumPacketSize: a PUBLISH larger than the client's Maximum Packet
// Size is dropped, logged, and (QoS 1/2) treated as delivered, so the window
// slot frees [MQTT5-3.1.2-24] [MQTT5-3.1.2-25].
func TestV5MaximumPacketSize(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	c := v5Connect("mps")
	c.Props.MaximumPacketSize, c.Props.HasMaximumPacketSize = 64, true
	c.Props.ReceiveMaximum, c.Props.HasReceiveMaximum = 1, true
	r := mustV5(t, b, c)
	r.subscribe(1, 2, "big/#")
	pub := dialPaho(t, b, "mpspub", nil)
	for _, qos := range []byte{0, 1, 2} {
		pub.publish(t, &paho.Publish{Topic: "big/x", QoS: qos, Payload: make([]byte, 100)})
		b.WaitLog(t, `^Dropping too large outgoing PUBLISH for mps \(\d+ bytes\)$`, 5*time.Second)
	}
	pub.publish(t, &paho.Publish{Topic: "big/y", QoS: 2, Payload: []byte("small")})
	if m := r.expectPublish(); string(m.Payload) != "small" {
		t.Fatalf("got %q", m.Payload)
	}
}

// TestV5TopicAliasInbound: an alias set with a topic is used by a later
// PUBLISH with an empty topic; aliases do not survive the connection
// [MQTT5-3.3.2-12] [MQTT5-3.3.2-7].
func TestV5TopicAliasInbound(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	sub := dialPaho(t, b, "tasub", nil)
	sub.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "alias/#", QoS: 1}}})
	pub := dialPaho(t, b, "tapub", nil)
	pub.publish(t, &paho.Publish{Topic: "alias/long/topic", QoS: 1, Payload: []byte("1"), Properties: &paho.PublishProperties{TopicAlias: ptr(uint16(10))}})
	pub.publish(t, &paho.Publish{Topic: "", QoS: 1, Payload: []byte("2"), Properties: &paho.PublishProperties{TopicAlias: ptr(uint16(10))}})
	for _, want := range []string{"1", "2"} {
		m := sub.recv(t)
		if m.Topic != "alias/long/topic" || string(m.Payload) != want || m.Properties.TopicAlias != nil {
			t.Fatalf("got %q on %q (%+v)", m.Payload, m.Topic, m.Properties)
		}
	}
	r := mustV5(t, b, v5Connect("tapub2"))
	r.send(pkt(0x30, mqttStr(""), props(0x23, 0, 10), []byte("x")))
	r.expectDisconnect(packet.ProtocolError) // new connection: alias 10 unknown
}

// TestV5MessageExpiry: a queued message whose expiry passes is not sent when
// the session resumes [MQTT5-3.3.2-5].
func TestV5MessageExpiry(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	c := v5Connect("exp")
	c.CleanStart = false
	c.Props.SessionExpiry, c.Props.HasSessionExpiry = 60, true
	r := mustV5(t, b, c)
	r.subscribe(1, 1, "e")
	r.disconnect()
	pub := dialPaho(t, b, "exppub", nil)
	pub.publish(t, &paho.Publish{Topic: "e", QoS: 1, Payload: []byte("short"), Properties: &paho.PublishProperties{MessageExpiry: ptr(uint32(1))}})
	pub.publish(t, &paho.Publish{Topic: "e", QoS: 1, Payload: []byte("long"), Properties: &paho.PublishProperties{MessageExpiry: ptr(uint32(60))}})
	until := time.Now().Add(2100 * time.Millisecond)
	eventually(t, 5*time.Second, "the 1 s expiry to pass", func() bool { return time.Now().After(until) })
	r2, ack := dialV5(t, b, c)
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	m := r2.expectPublish()
	if string(m.Payload) != "long" || m.Props.MessageExpiry > 58 {
		t.Fatalf("got %q expiry %d", m.Payload, m.Props.MessageExpiry)
	}
	r2.ack(packet.PUBACK, m.PacketID)
	r2.expectNothing()
}

// TestV5SessionExpiry: a session lasts its expiry interval after the
// connection closes, is expired with Mosquitto's line, and a DISCONNECT can
// shorten it to 0 [MQTT5-3.1.2-23] [MQTT5-4.1.0-2] [MQTT5-3.2.2-3]
// [MQTT5-3.1.2-4] [MQTT5-3.1.2-5] [MQTT5-3.1.2-6].
func TestV5SessionExpiry(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	c := v5Connect("se")
	c.CleanStart = false
	c.Props.SessionExpiry, c.Props.HasSessionExpiry = 1, true
	r, ack := dialV5(t, b, c)
	if ack.SessionPresent {
		t.Fatal("new session present")
	}
	r.subscribe(1, 1, "se")
	r.disconnect()
	r, ack = dialV5(t, b, c)
	if !ack.SessionPresent {
		t.Fatal("session not resumed")
	}
	r.disconnect()
	b.WaitLog(t, q("Expiring client se due to timeout."), 5*time.Second)
	r, ack = dialV5(t, b, c)
	if ack.SessionPresent {
		t.Fatal("expired session present")
	}
	// DISCONNECT with Session Expiry Interval 0 ends the session at once.
	r.send(pkt(0xE0, []byte{0}, props(0x11, 0, 0, 0, 0)))
	r.expectClosed(5 * time.Second)
	if _, ack = dialV5(t, b, c); ack.SessionPresent {
		t.Fatal("session kept after DISCONNECT set expiry 0")
	}
	// Clean Start 1 discards a stored session.
	c2 := *c
	c2.CleanStart = true
	if _, ack = dialV5(t, b, &c2); ack.SessionPresent {
		t.Fatal("clean start resumed a session")
	}
}

// willConnect is a v5 CONNECT with a QoS 1 will on topic will/<id>.
func willConnect(id string, delay, expiry uint32) *packet.Connect {
	c := v5Connect(id)
	c.WillFlag, c.WillQoS, c.WillTopic, c.WillPayload = true, 1, "will/"+id, []byte("gone "+id)
	c.WillProps.WillDelay, c.WillProps.HasWillDelay = delay, delay > 0
	c.WillProps.ContentType, c.WillProps.HasContentType = "text/plain", true
	c.WillProps.User = []packet.UserProperty{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}}
	if expiry > 0 {
		c.CleanStart = false
		c.Props.SessionExpiry, c.Props.HasSessionExpiry = expiry, true
	}
	return c
}

// TestV5WillDelay: the Will Delay Interval against the session expiry,
// reconnects and DISCONNECT reasons [MQTT5-3.1.2-8] [MQTT5-3.1.3-9]
// [MQTT5-3.1.2-10] [MQTT5-3.14.4-3] [MQTT5-3.1.3-10].
func TestV5WillDelay(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	sub := dialPaho(t, b, "wsub", nil)
	sub.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "will/#", QoS: 1}}})
	expectWill := func(id string) {
		t.Helper()
		m := sub.recv(t)
		if m.Topic != "will/"+id || m.Properties.ContentType != "text/plain" || len(m.Properties.User) != 2 ||
			m.Properties.User[0].Key != "z" || m.Properties.User[1].Key != "a" {
			t.Fatalf("got will %q %+v, want will/%s", m.Topic, m.Properties, id)
		}
	}

	// Delay 1 s, session 60 s: not at the close, but after the delay; a
	// sibling that reconnects within its delay never sends its will.
	a := mustV5(t, b, willConnect("delayed", 1, 60))
	k := mustV5(t, b, willConnect("kept", 1, 60))
	a.nc.Close()
	k.nc.Close()
	sub.none(t)
	mustV5(t, b, willConnect("kept", 0, 60)) // resumes: will cancelled
	expectWill("delayed")
	sub.none(t)

	// Delay longer than the session: sent when the session expires.
	e := mustV5(t, b, willConnect("expiring", 100, 1))
	mark := b.Mark()
	e.nc.Close()
	b.WaitLogFrom(t, mark, q("Expiring client expiring due to timeout."), 5*time.Second)
	expectWill("expiring")

	// Session expiry 0: the will goes at the close, delay or not.
	z := mustV5(t, b, willConnect("zero", 100, 0))
	z.nc.Close()
	expectWill("zero")

	// Clean-start reconnect during the delay ends the session: will sent.
	cs := mustV5(t, b, willConnect("clean", 100, 60))
	cs.nc.Close()
	sub.none(t)
	mustV5(t, b, v5Connect("clean"))
	expectWill("clean")

	// DISCONNECT 0x04 publishes the will; 0x00 discards it.
	w4 := mustV5(t, b, willConnect("with", 0, 0))
	w4.send(pkt(0xE0, []byte{0x04}))
	expectWill("with")
	w0 := mustV5(t, b, willConnect("normal", 0, 0))
	w0.disconnect()
	sub.none(t)
}

// TestV5Takeover: the old v5 connection gets DISCONNECT 0x8E [MQTT5-3.1.4-3].
func TestV5Takeover(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	old := mustV5(t, b, v5Connect("twice"))
	mustV5(t, b, v5Connect("twice"))
	old.expectDisconnect(packet.SessionTakenOver)
	b.WaitLog(t, q("Client twice already connected, closing old connection."), 5*time.Second)
}

// TestV5MaximumQoS: a listener max_qos is advertised, SUBSCRIBE at a higher
// QoS is accepted and granted the maximum [MQTT5-3.2.2-9] [MQTT5-3.2.2-10]
// [MQTT5-3.8.4-8].
func TestV5MaximumQoS(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "listener PORT 127.0.0.1\nmax_qos 1\n")
	p := dialPaho(t, b, "mq", nil)
	if p.ack.Properties.MaximumQoS == nil || *p.ack.Properties.MaximumQoS != 1 {
		t.Fatalf("Maximum QoS %+v", p.ack.Properties)
	}
	sa := p.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "m", QoS: 2}}})
	if sa.Reasons[0] != 1 {
		t.Fatalf("granted %v", sa.Reasons)
	}
	p.publish(t, &paho.Publish{Topic: "m", QoS: 1, Payload: []byte("x")})
	if m := p.recv(t); m.QoS != 1 {
		t.Fatalf("QoS %d", m.QoS)
	}
}

// TestV5RetainUnavailable: Retain Available 0 in CONNACK [MQTT5-3.2.2-14].
func TestV5RetainUnavailable(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "retain_available false\n")
	p := dialPaho(t, b, "nr", nil)
	if p.ack.Properties.RetainAvailable {
		t.Fatalf("Retain Available %+v", p.ack.Properties)
	}
}
