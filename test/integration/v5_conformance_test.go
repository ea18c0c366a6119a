package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/midgemq/midge/internal/packet"
)

// MQTT 5 tests for the statements of docs/CONFORMANCE-MQTT5.md that were
// checked only by reading the code or only with 3.1.1 clients. Each test
// names the statements it checks with [MQTT5-x.y.z-n] tags.

// readSized reads one packet and returns it with its size on the wire.
func (r *rawClient) readSized(d time.Duration) (any, int, error) {
	r.nc.SetReadDeadline(time.Now().Add(d))
	hdr := make([]byte, 0, 5)
	var one [1]byte
	for {
		if _, err := io.ReadFull(r.nc, one[:]); err != nil {
			return nil, 0, err
		}
		hdr = append(hdr, one[0])
		first, rem, n, err := packet.ParseFixedHeader(hdr)
		if err != nil {
			return nil, 0, err
		}
		if n == 0 {
			continue
		}
		body := make([]byte, rem)
		if _, err := io.ReadFull(r.nc, body); err != nil {
			return nil, 0, err
		}
		p, err := packet.Decode(first, body, r.v)
		return p, len(hdr) + int(rem), err
	}
}

// v5Subscribe sends a v5 SUBSCRIBE (subscription identifier id unless 0)
// and returns the SUBACK codes.
func (r *rawClient) v5Subscribe(mid uint16, id uint32, qos byte, filters ...string) []packet.ReasonCode {
	r.t.Helper()
	s := &packet.Subscribe{PacketID: mid}
	if id > 0 {
		s.Props.SubscriptionIDs = []uint32{id}
	}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, packet.Subscription{Filter: f, Options: packet.SubOptions{QoS: qos}})
	}
	r.send(packet.AppendSubscribe(nil, packet.V5, s))
	sa, ok := r.read(5 * time.Second).(*packet.Suback)
	if !ok || sa.PacketID != mid {
		r.t.Fatalf("expected SUBACK %d", mid)
	}
	return sa.Codes
}

// ackCode sends a v5 PUBACK/PUBREC/PUBREL/PUBCOMP with a reason code.
func (r *rawClient) ackCode(t packet.Type, mid uint16, code packet.ReasonCode) {
	r.t.Helper()
	r.send(packet.AppendAck(nil, packet.V5, &packet.Ack{Type: t, PacketID: mid, Code: code}))
}

// expectAckCode reads the next packet, which must be the given ack.
func (r *rawClient) expectAckCode(t packet.Type, mid uint16, code packet.ReasonCode) {
	r.t.Helper()
	a, ok := r.read(5 * time.Second).(*packet.Ack)
	if !ok || a.Type != t || a.PacketID != mid || a.Code != code {
		r.t.Fatalf("got %+v, want %v %d %#x", a, t, mid, code)
	}
}

// persistentV5 is a v5 CONNECT resuming (or creating) a session of expiry s.
func persistentV5(id string, s uint32) *packet.Connect {
	c := v5Connect(id)
	c.CleanStart = false
	c.Props.SessionExpiry, c.Props.HasSessionExpiry = s, true
	return c
}

// waitPast waits until d has passed (message or session expiry).
func waitPast(t *testing.T, d time.Duration) {
	t.Helper()
	until := time.Now().Add(d)
	eventually(t, d+5*time.Second, "time to pass", func() bool { return time.Now().After(until) })
}

// TestV5AckProperties drives the broker through every packet type it sends
// and every failure reason code it can give (0x10, 0x11, 0x87, 0x92, 0x95,
// 0x97, 0x99, 0x8C, DISCONNECT 0x82), decoding each packet: with a small
// client Maximum Packet Size no packet is larger than it (so no Reason String
// or User Property pushed one over [MQTT5-3.2.2-19] [MQTT5-3.2.2-20]
// [MQTT5-3.4.2-2] [MQTT5-3.4.2-3] [MQTT5-3.5.2-2] [MQTT5-3.5.2-3]
// [MQTT5-3.6.2-2] [MQTT5-3.6.2-3] [MQTT5-3.7.2-2] [MQTT5-3.7.2-3]
// [MQTT5-3.9.2-1] [MQTT5-3.9.2-2] [MQTT5-3.11.2-1] [MQTT5-3.11.2-2]
// [MQTT5-3.14.2-3] [MQTT5-3.14.2-4]); with Request Problem Information 0 no
// ack carries either [MQTT5-3.1.2-29]; the broker never sends AUTH
// [MQTT5-3.15.2-1] [MQTT5-3.15.2-2] [MQTT5-3.15.2-3]; its PUBREL uses PUBREL
// reason codes [MQTT5-3.6.2-1].
func TestV5AckProperties(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"Maximum Packet Size 16", "Request Problem Information 0"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			acl := writeFile(t, dir, "acl", "topic readwrite ok/#\ntopic readwrite free/#\n")
			b := StartBroker(t, "acl_file "+acl+"\nmax_inflight_messages 2\nmessage_size_limit 100\n")
			const limit = 16
			c := v5Connect("acks")
			if mode == "Maximum Packet Size 16" {
				c.Props.MaximumPacketSize, c.Props.HasMaximumPacketSize = limit, true
			} else {
				c.Props.RequestProblemInfo, c.Props.HasRequestProblemInfo = 0, true
			}
			r := dialRaw(t, b.Addr)
			r.v = packet.V5
			r.send(packet.AppendConnect(nil, c))
			var seen []string
			next := func() any {
				t.Helper()
				p, n, err := r.readSized(5 * time.Second)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				seen = append(seen, fmt.Sprintf("%T", p))
				var pr *packet.Properties
				switch v := p.(type) {
				case *packet.Connack:
					pr = &v.Props
				case *packet.Ack:
					pr = &v.Props
					if v.Type == packet.PUBREL && v.Code != 0 && v.Code != packet.PacketIDNotFound {
						t.Fatalf("PUBREL reason code %#x [MQTT5-3.6.2-1]", v.Code)
					}
				case *packet.Suback:
					pr = &v.Props
				case *packet.Unsuback:
					pr = &v.Props
				case *packet.Disconnect:
					pr = &v.Props
				case *packet.Auth:
					t.Fatalf("the broker sent AUTH %+v", v)
				}
				if mode == "Maximum Packet Size 16" && n > limit {
					t.Fatalf("%T of %d bytes over the client's Maximum Packet Size %d: %+v", p, n, limit, p)
				}
				if mode != "Maximum Packet Size 16" && pr != nil && (pr.ReasonString != "" || len(pr.User) > 0) {
					if _, ok := p.(*packet.Connack); !ok {
						if _, ok := p.(*packet.Disconnect); !ok {
							t.Fatalf("%T carries a Reason String or User Property though Request Problem Information is 0: %+v", p, pr)
						}
					}
				}
				return p
			}
			if ack, ok := next().(*packet.Connack); !ok || ack.Code != 0 {
				t.Fatalf("CONNACK %+v", ack)
			}
			ack := func(typ packet.Type, mid uint16, code packet.ReasonCode) {
				t.Helper()
				a, ok := next().(*packet.Ack)
				if !ok || a.Type != typ || a.PacketID != mid || a.Code != code {
					t.Fatalf("got %+v, want %v %d %#x", a, typ, mid, code)
				}
			}
			// SUBACK with a grant and a refusal (0x87).
			r.send(packet.AppendSubscribe(nil, packet.V5, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{
				{Filter: "ok/#", Options: packet.SubOptions{QoS: 2}}, {Filter: "denied", Options: packet.SubOptions{QoS: 1}}}}))
			// (midge, as Mosquitto 2.0, grants a subscription the ACL gives no read access to.)
			if sa, ok := next().(*packet.Suback); !ok || len(sa.Codes) != 2 || sa.Codes[0] != 2 {
				t.Fatalf("SUBACK %+v", sa)
			}
			pfi := packet.Properties{PayloadFormat: 1, HasPayloadFormat: true}
			r.publish(&packet.Publish{Topic: "denied", QoS: 1, PacketID: 1, Payload: []byte("x")})
			ack(packet.PUBACK, 1, packet.NotAuthorized)
			r.publish(&packet.Publish{Topic: "free/x", QoS: 1, PacketID: 2, Payload: []byte("x")})
			ack(packet.PUBACK, 2, packet.NoMatchingSubscribers)
			r.publish(&packet.Publish{Topic: "free/x", QoS: 1, PacketID: 3, Payload: []byte{0xff}, Props: pfi})
			ack(packet.PUBACK, 3, packet.PayloadFormatInvalid)
			r.publish(&packet.Publish{Topic: "free/x", QoS: 1, PacketID: 4, Payload: make([]byte, 200)})
			ack(packet.PUBACK, 4, packet.PacketTooLarge)
			r.publish(&packet.Publish{Topic: "free/x", QoS: 2, PacketID: 5, Payload: []byte{0xff}, Props: pfi})
			ack(packet.PUBREC, 5, packet.PayloadFormatInvalid)
			r.publish(&packet.Publish{Topic: "denied", QoS: 2, PacketID: 6, Payload: []byte("x")})
			ack(packet.PUBREC, 6, packet.NotAuthorized)
			r.publish(&packet.Publish{Topic: "free/x", QoS: 2, PacketID: 7, Payload: []byte("x")})
			ack(packet.PUBREC, 7, 0)
			r.ack(packet.PUBREL, 7)
			ack(packet.PUBCOMP, 7, 0)
			r.ack(packet.PUBREL, 99)
			ack(packet.PUBCOMP, 99, packet.PacketIDNotFound)
			for mid := uint16(8); mid <= 10; mid++ { // quota 2
				r.publish(&packet.Publish{Topic: "free/x", QoS: 2, PacketID: mid, Payload: []byte("x")})
			}
			ack(packet.PUBREC, 8, 0)
			ack(packet.PUBREC, 9, 0)
			ack(packet.PUBREC, 10, packet.QuotaExceeded)
			for mid := uint16(8); mid <= 9; mid++ {
				r.ack(packet.PUBREL, mid)
				ack(packet.PUBCOMP, mid, 0)
			}
			// Outbound QoS 2: PUBREL; a PUBREC for an unknown id.
			r.publish(&packet.Publish{Topic: "ok/a", QoS: 2, PacketID: 11, Payload: []byte("x")})
			ack(packet.PUBREC, 11, 0)
			r.ack(packet.PUBREL, 11)
			var out *packet.Publish
			for comp := false; out == nil || !comp; {
				switch p := next().(type) {
				case *packet.Publish:
					out = p
				case *packet.Ack:
					if p.Type != packet.PUBCOMP || p.PacketID != 11 {
						t.Fatalf("got %+v", p)
					}
					comp = true
				}
			}
			r.ack(packet.PUBREC, out.PacketID)
			ack(packet.PUBREL, out.PacketID, 0)
			r.ack(packet.PUBCOMP, out.PacketID)
			r.ack(packet.PUBREC, 500)
			r.send(packet.AppendPingreq(nil))
			for {
				if _, ok := next().(*packet.Pingresp); ok {
					break
				}
			}
			// UNSUBACK with 0x11.
			r.send(packet.AppendUnsubscribe(nil, packet.V5, &packet.Unsubscribe{PacketID: 2, Filters: []string{"ok/#", "never"}}))
			if ua, ok := next().(*packet.Unsuback); !ok || len(ua.Codes) != 2 || ua.Codes[0] != 0 || ua.Codes[1] != packet.NoSubscriptionExisted {
				t.Fatalf("UNSUBACK %+v", ua)
			}
			// DISCONNECT 0x82.
			r.send(pkt(0x30, mqttStr("a"), props(0x23, 0, 0), []byte("p")))
			if d, ok := next().(*packet.Disconnect); !ok || d.Code != packet.ProtocolError {
				t.Fatalf("DISCONNECT %+v", d)
			}
			r.expectClosed(5 * time.Second)
			t.Logf("packets checked: %v", seen)

			// A refused CONNECT (Authentication Method: 0x8C) within the limit too.
			c2 := v5Connect("acks2")
			c2.Props.AuthMethod, c2.Props.HasAuthMethod = "SCRAM-SHA-256", true
			if mode == "Maximum Packet Size 16" {
				c2.Props.MaximumPacketSize, c2.Props.HasMaximumPacketSize = limit, true
			}
			r = dialRaw(t, b.Addr)
			r.v = packet.V5
			r.send(packet.AppendConnect(nil, c2))
			if a, ok := next().(*packet.Connack); !ok || a.Code != packet.BadAuthenticationMethod {
				t.Fatalf("CONNACK %+v", a)
			}
			r.expectClosed(5 * time.Second)
		})
	}
}

// TestV5EnhancedAuth: enhanced authentication is not offered. A CONNECT
// with an Authentication Method is refused with CONNACK 0x8C and no AUTH
// (so no AUTH 0x18 continues [MQTT5-4.12.0-2] and no successful CONNACK
// lacks the method [MQTT5-4.12.0-5]); an AUTH from a connected client, to
// re-authenticate or continue, gets DISCONNECT and a close [MQTT5-4.12.1-2]
// [MQTT5-3.15.2-1].
func TestV5EnhancedAuth(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	for _, data := range [][]byte{nil, []byte("client-first")} {
		c := v5Connect("ea")
		c.Props.AuthMethod, c.Props.HasAuthMethod = "SCRAM-SHA-1", true
		c.Props.AuthData, c.Props.HasAuthData = data, data != nil
		r := dialRaw(t, b.Addr)
		r.v = packet.V5
		r.send(packet.AppendConnect(nil, c))
		var got []any
		for {
			p, err := r.tryRead(5 * time.Second)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("connection still open after a refused CONNECT")
				}
				break
			}
			got = append(got, p)
		}
		if len(got) != 1 {
			t.Fatalf("got %d packets %+v, want one CONNACK", len(got), got)
		}
		if a, ok := got[0].(*packet.Connack); !ok || a.Code != packet.BadAuthenticationMethod || a.SessionPresent {
			t.Fatalf("got %+v, want CONNACK 0x8C", got[0])
		}
	}
	for _, code := range []packet.ReasonCode{0x19, 0x18} {
		r := mustV5(t, b, v5Connect("reauth"))
		r.send(packet.AppendAuth(nil, &packet.Auth{Code: code, Props: packet.Properties{AuthMethod: "SCRAM-SHA-1", HasAuthMethod: true,
			AuthData: []byte("x"), HasAuthData: true}}))
		r.expectDisconnect(packet.ProtocolError)
	}
}

// TestV5SharedQoS2: a shared-subscription message in flight to one member
// stays with that member: completed when it reconnects [MQTT5-4.8.2-4],
// never re-routed when its session ends [MQTT5-4.8.2-5] or when it answers
// with a failure code [MQTT5-4.8.2-6]; such a failed ack ends the delivery
// (not re-sent on resume) [MQTT5-4.4.0-2].
func TestV5SharedQoS2(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	pub := mustV5(t, b, v5Connect("shpub"))
	send := func(topic, payload string, qos byte) {
		t.Helper()
		pub.publish(&packet.Publish{Topic: topic, QoS: qos, PacketID: 1, Payload: []byte(payload)})
		switch qos {
		case 1:
			pub.expectAck(packet.PUBACK, 1)
		case 2:
			pub.expectAck(packet.PUBREC, 1)
			pub.ack(packet.PUBREL, 1)
			pub.expectAck(packet.PUBCOMP, 1)
		}
	}

	t.Run("completed on reconnect", func(t *testing.T) {
		a := mustV5(t, b, persistentV5("shA", 60))
		a.v5Subscribe(1, 0, 2, "$share/g1/sh1/#")
		send("sh1/x", "m1", 2)
		m := a.expectPublish()
		a.nc.Close()
		other := mustV5(t, b, v5Connect("shB"))
		other.v5Subscribe(1, 0, 2, "$share/g1/sh1/#")
		a = mustV5(t, b, persistentV5("shA", 60))
		again := a.expectPublish()
		if again.PacketID != m.PacketID || !again.Dup || string(again.Payload) != "m1" {
			t.Fatalf("re-sent %+v, want m1 with DUP, id %d", again, m.PacketID)
		}
		a.ack(packet.PUBREC, m.PacketID)
		a.expectAckCode(packet.PUBREL, m.PacketID, 0)
		a.nc.Close() // PUBREL unanswered: re-sent on the next resume
		a = mustV5(t, b, persistentV5("shA", 60))
		a.expectAckCode(packet.PUBREL, m.PacketID, 0)
		a.ack(packet.PUBCOMP, m.PacketID)
		a.ping()
		other.expectNothing()
	})

	t.Run("not re-routed when the session ends", func(t *testing.T) {
		c := mustV5(t, b, persistentV5("shC", 1))
		c.v5Subscribe(1, 0, 2, "$share/g2/sh2/#")
		send("sh2/x", "lost", 2)
		c.expectPublish()
		mark := b.Mark()
		c.nc.Close()
		d := mustV5(t, b, v5Connect("shD"))
		d.v5Subscribe(1, 0, 2, "$share/g2/sh2/#")
		b.WaitLogFrom(t, mark, q("Expiring client shC due to timeout."), 10*time.Second)
		send("sh2/x", "new", 1)
		if m := d.expectPublish(); string(m.Payload) != "new" {
			t.Fatalf("other member got %q", m.Payload)
		}
	})

	t.Run("failure ack not re-routed", func(t *testing.T) {
		e := mustV5(t, b, persistentV5("shE", 60))
		e.v5Subscribe(1, 0, 2, "$share/g3/sh3/#")
		send("sh3/x", "q1", 1)
		m1 := e.expectPublish()
		e.ackCode(packet.PUBACK, m1.PacketID, packet.UnspecifiedError)
		send("sh3/x", "q2", 2)
		m2 := e.expectPublish()
		e.ackCode(packet.PUBREC, m2.PacketID, packet.ImplementationSpecific)
		e.ping() // no PUBREL after a failed PUBREC
		f := mustV5(t, b, v5Connect("shF"))
		f.v5Subscribe(1, 0, 2, "$share/g3/sh3/#")
		f.expectNothing()
		e.nc.Close()
		e = mustV5(t, b, persistentV5("shE", 60))
		e.expectNothing() // acknowledged: not re-sent on resume
		f.expectNothing()
	})
}

// TestV5QoSFlows: the QoS 1 and 2 protocol flows with v5 clients, outbound
// and inbound.
func TestV5QoSFlows(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")

	// Outbound: DUP 0 first [MQTT5-4.3.3-2] whatever the publisher's DUP
	// [MQTT5-3.3.1-3]; unacknowledged PUBLISH re-sent with DUP 1 on resume
	// only [MQTT5-3.3.1-1] [MQTT5-4.4.0-1] [MQTT5-4.3.3-3], even a QoS 2
	// message whose expiry passed [MQTT5-4.3.3-7]; PUBREL after PUBREC
	// [MQTT5-4.3.3-4], re-sent until PUBCOMP [MQTT5-4.3.3-5], and no PUBLISH
	// re-sent after it [MQTT5-4.3.3-6].
	t.Run("outbound", func(t *testing.T) {
		t.Parallel()
		s := mustV5(t, b, persistentV5("out", 60))
		s.v5Subscribe(1, 0, 2, "out/#")
		pub := mustV5(t, b, v5Connect("outpub"))
		pub.send(packet.AppendPublish(nil, packet.V5, &packet.Publish{Dup: true, Topic: "out/1", QoS: 1, PacketID: 1, Payload: []byte("one")}))
		pub.expectAck(packet.PUBACK, 1)
		pub.publish(&packet.Publish{Topic: "out/2", QoS: 2, PacketID: 2, Payload: []byte("two"),
			Props: packet.Properties{MessageExpiry: 1, HasMessageExpiry: true}})
		pub.expectAck(packet.PUBREC, 2)
		pub.ack(packet.PUBREL, 2)
		pub.expectAck(packet.PUBCOMP, 2)
		m1, m2 := s.expectPublish(), s.expectPublish()
		if m1.Dup || m2.Dup || m1.QoS != 1 || m2.QoS != 2 || m1.PacketID == 0 || m2.PacketID == 0 || m1.PacketID == m2.PacketID {
			t.Fatalf("first sends %+v %+v", m1, m2)
		}
		s.expectNothing() // no re-send on the same connection
		s.nc.Close()
		waitPast(t, 1100*time.Millisecond) // m2's expiry passes while it is in flight
		s = mustV5(t, b, persistentV5("out", 60))
		r1, r2 := s.expectPublish(), s.expectPublish()
		if !r1.Dup || !r2.Dup || r1.PacketID != m1.PacketID || r2.PacketID != m2.PacketID || string(r2.Payload) != "two" {
			t.Fatalf("re-sent %+v %+v", r1, r2)
		}
		s.ack(packet.PUBACK, m1.PacketID)
		s.ack(packet.PUBREC, m2.PacketID)
		s.expectAckCode(packet.PUBREL, m2.PacketID, 0)
		s.nc.Close()
		s = mustV5(t, b, persistentV5("out", 60))
		s.expectAckCode(packet.PUBREL, m2.PacketID, 0) // the PUBREL, not the PUBLISH
		s.expectNothing()
		s.ack(packet.PUBCOMP, m2.PacketID)
		s.ping() // the PUBCOMP is processed before the close
		s.nc.Close()
		s = mustV5(t, b, persistentV5("out", 60))
		s.expectNothing()
	})

	// A PUBREC ≥ 0x80 ends the delivery [MQTT5-4.4.0-2] and gives its
	// Receive Maximum slot back (spec 4.9: the send quota grows on PUBREC ≥
	// 0x80), so the next queued message goes out.
	t.Run("failed PUBREC frees the window", func(t *testing.T) {
		t.Parallel()
		c := v5Connect("recfail")
		c.Props.ReceiveMaximum, c.Props.HasReceiveMaximum = 1, true
		s := mustV5(t, b, c)
		s.v5Subscribe(1, 0, 2, "rf")
		pub := mustV5(t, b, v5Connect("rfpub"))
		for mid := uint16(1); mid <= 2; mid++ {
			pub.publish(&packet.Publish{Topic: "rf", QoS: 2, PacketID: mid, Payload: []byte{'0' + byte(mid)}})
			pub.expectAck(packet.PUBREC, mid)
			pub.ack(packet.PUBREL, mid)
			pub.expectAck(packet.PUBCOMP, mid)
		}
		m := s.expectPublish()
		s.expectNothing()
		s.ackCode(packet.PUBREC, m.PacketID, packet.UnspecifiedError)
		if m2 := s.expectPublish(); string(m2.Payload) != "2" {
			t.Fatalf("got %q", m2.Payload)
		}
	})

	// Inbound: a QoS 1 packet id is free again after PUBACK [MQTT5-4.3.2-5];
	// after a failed PUBREC [MQTT5-4.3.3-9] and after PUBCOMP
	// [MQTT5-4.3.3-12]; a duplicate before PUBREL gets PUBREC and is
	// delivered once [MQTT5-4.3.3-10]; an expired message's handshake still
	// completes [MQTT5-4.3.3-13].
	t.Run("inbound", func(t *testing.T) {
		t.Parallel()
		s := mustV5(t, b, v5Connect("in"))
		s.v5Subscribe(1, 0, 0, "in/#")
		p := mustV5(t, b, v5Connect("inpub"))
		got := func(want string) {
			t.Helper()
			if m := s.expectPublish(); string(m.Payload) != want {
				t.Fatalf("got %q, want %q", m.Payload, want)
			}
		}
		for _, pl := range []string{"a", "b"} {
			p.publish(&packet.Publish{Topic: "in/1", QoS: 1, PacketID: 1, Payload: []byte(pl)})
			p.expectAck(packet.PUBACK, 1)
			got(pl)
		}
		p.publish(&packet.Publish{Topic: "in/2", QoS: 2, PacketID: 2, Payload: []byte{0xff},
			Props: packet.Properties{PayloadFormat: 1, HasPayloadFormat: true}})
		p.expectAckCode(packet.PUBREC, 2, packet.PayloadFormatInvalid)
		p.publish(&packet.Publish{Topic: "in/2", QoS: 2, PacketID: 2, Payload: []byte("c")})
		p.expectAckCode(packet.PUBREC, 2, 0)
		p.publish(&packet.Publish{Dup: true, Topic: "in/2", QoS: 2, PacketID: 2, Payload: []byte("c")})
		p.expectAckCode(packet.PUBREC, 2, 0)
		s.expectNothing() // not before PUBREL
		p.ack(packet.PUBREL, 2)
		p.expectAckCode(packet.PUBCOMP, 2, 0)
		got("c")
		s.expectNothing() // once
		p.publish(&packet.Publish{Topic: "in/2", QoS: 2, PacketID: 2, Payload: []byte("d")})
		p.expectAckCode(packet.PUBREC, 2, 0)
		p.ack(packet.PUBREL, 2)
		p.expectAckCode(packet.PUBCOMP, 2, 0)
		got("d")
		p.publish(&packet.Publish{Topic: "in/3", QoS: 2, PacketID: 3, Payload: []byte("e"),
			Props: packet.Properties{MessageExpiry: 1, HasMessageExpiry: true}})
		p.expectAckCode(packet.PUBREC, 3, 0)
		waitPast(t, 1100*time.Millisecond)
		p.ack(packet.PUBREL, 3)
		p.expectAckCode(packet.PUBCOMP, 3, 0)
	})
}

// TestV5ConnectFormat: CONNECT packets a v5 client must not send are closed
// without a successful CONNACK [MQTT5-3.1.4-1] [MQTT5-4.13.1-1].
func TestV5ConnectFormat(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	hdr := func(flags byte) []byte { return []byte{5, flags, 0, 60} }
	will := cat(props(), mqttStr("w/t"), mqttStr("x"))
	cases := []struct {
		name, tags string
		send       []byte
	}{
		{"PUBLISH first", "[MQTT5-3.1.0-1]", pkt(0x30, mqttStr("a"), props(), []byte("p"))},
		{"SUBSCRIBE first", "[MQTT5-3.1.0-1]", pkt(0x82, u16(1), props(), mqttStr("a"), []byte{0})},
		{"protocol name MQIsdp at level 5", "[MQTT5-3.1.2-1]", pkt(0x10, mqttStr("MQIsdp"), hdr(2), props(), mqttStr("c"))},
		{"protocol name mqtt", "[MQTT5-3.1.2-1]", pkt(0x10, mqttStr("mqtt"), hdr(2), props(), mqttStr("c"))},
		{"protocol level 6", "[MQTT5-3.1.2-2]", pkt(0x10, mqttStr("MQTT"), []byte{6, 2, 0, 60}, props(), mqttStr("c"))},
		{"will QoS without will flag", "[MQTT5-3.1.2-11]", pkt(0x10, mqttStr("MQTT"), hdr(0x0A), props(), mqttStr("c"))},
		{"will QoS 3", "[MQTT5-3.1.2-12]", pkt(0x10, mqttStr("MQTT"), hdr(0x1E), props(), mqttStr("c"), will)},
		{"will retain without will flag", "[MQTT5-3.1.2-13]", pkt(0x10, mqttStr("MQTT"), hdr(0x22), props(), mqttStr("c"))},
		{"user name without flag", "[MQTT5-3.1.2-16]", pkt(0x10, mqttStr("MQTT"), hdr(0x02), props(), mqttStr("c"), mqttStr("u"))},
		{"user name flag without user name", "[MQTT5-3.1.2-17]", pkt(0x10, mqttStr("MQTT"), hdr(0x82), props(), mqttStr("c"))},
		{"password without flag", "[MQTT5-3.1.2-18]", pkt(0x10, mqttStr("MQTT"), hdr(0x82), props(), mqttStr("c"), mqttStr("u"), mqttStr("pw"))},
		{"password flag without password", "[MQTT5-3.1.2-19]", pkt(0x10, mqttStr("MQTT"), hdr(0xC2), props(), mqttStr("c"), mqttStr("u"))},
		{"no client id", "[MQTT5-3.1.3-3]", pkt(0x10, mqttStr("MQTT"), hdr(0x02), props())},
		{"client id not UTF-8", "[MQTT5-3.1.3-4]", pkt(0x10, mqttStr("MQTT"), hdr(0x02), props(), []byte{0, 2, 0xC0, 0xAF})},
		{"will topic not UTF-8", "[MQTT5-3.1.3-11]", pkt(0x10, mqttStr("MQTT"), hdr(0x06), props(), mqttStr("c"), props(), []byte{0, 2, 0xED, 0xA0}, mqttStr("x"))},
		{"will topic with wildcard", "[MQTT5-3.3.2-2]", pkt(0x10, mqttStr("MQTT"), hdr(0x06), props(), mqttStr("c"), props(), mqttStr("w/#"), mqttStr("x"))},
		{"user name not UTF-8", "[MQTT5-3.1.3-12]", pkt(0x10, mqttStr("MQTT"), hdr(0x82), props(), mqttStr("c"), []byte{0, 1, 0})},
		{"will Response Topic with wildcard", "[MQTT5-3.3.2-14]", pkt(0x10, mqttStr("MQTT"), hdr(0x06), props(), mqttStr("c"),
			cat(props(0x08, 0, 3, 'r', '/', '+'), mqttStr("w/t"), mqttStr("x")))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := dialRaw(t, b.Addr)
			r.v = packet.V5
			r.send(tc.send)
			for {
				p, err := r.tryRead(5 * time.Second)
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatalf("%s: connection still open", tc.tags)
					}
					return
				}
				if a, ok := p.(*packet.Connack); !ok || a.Code < 0x80 {
					// A v3 CONNACK (level 6) decodes as code 1..5 in v5 terms only
					// if its byte is a v3 refusal; anything else is a failure.
					if !ok || !(tc.name == "protocol level 6" && a.Code == 1) {
						t.Fatalf("%s: got %+v, want a close (CONNACK ≥ 0x80 at most)", tc.tags, p)
					}
				}
			}
		})
	}
}

// TestV5MalformedPackets: more violations after a successful v5 CONNECT,
// each answered with DISCONNECT and a close [MQTT5-4.13.1-1].
func TestV5MalformedPackets(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	pub0 := func(topic []byte, p []byte, payload string) []byte { return pkt(0x30, topic, p, []byte(payload)) }
	cases := []struct {
		name, tags string
		send       []byte
		code       packet.ReasonCode
	}{
		{"user property key not UTF-8", "[MQTT5-1.5.7-1]", pub0(mqttStr("a"), props(0x26, 0, 1, 0xff, 0, 1, 'v'), "p"), packet.MalformedPacket},
		{"user property value not UTF-8", "[MQTT5-1.5.7-1]", pub0(mqttStr("a"), props(0x26, 0, 1, 'k', 0, 2, 0xED, 0xA0), "p"), packet.MalformedPacket},
		{"user property value with null", "[MQTT5-1.5.7-1]", pub0(mqttStr("a"), props(0x26, 0, 1, 'k', 0, 1, 0), "p"), packet.MalformedPacket},
		{"QoS 0 with DUP", "[MQTT5-3.3.1-2]", pkt(0x38, mqttStr("a"), props(), []byte("p")), packet.MalformedPacket},
		{"QoS 3", "[MQTT5-3.3.1-4]", pkt(0x36, mqttStr("a"), u16(1), props(), []byte("p")), packet.MalformedPacket},
		{"topic not UTF-8", "[MQTT5-3.3.2-1] [MQTT5-4.7.3-2]", pub0([]byte{0, 2, 0xC0, 0xAF}, props(), "p"), packet.MalformedPacket},
		{"topic with null", "[MQTT5-4.7.3-2]", pub0([]byte{0, 3, 'a', 0, 'b'}, props(), "p"), packet.MalformedPacket},
		{"topic with '#'", "[MQTT5-3.3.2-2]", pub0(mqttStr("a/#"), props(), "p"), packet.MalformedPacket},
		{"empty topic without alias", "[MQTT5-4.7.3-1]", pub0(mqttStr(""), props(), "p"), packet.MalformedPacket},
		{"filter not UTF-8", "[MQTT5-3.8.3-1]", pkt(0x82, u16(1), props(), []byte{0, 2, 0xC0, 0xAF}, []byte{0}), packet.MalformedPacket},
		{"empty filter", "[MQTT5-4.7.3-1]", pkt(0x82, u16(1), props(), mqttStr(""), []byte{0}), packet.MalformedPacket},
		{"'#' not last", "[MQTT5-4.7.1-1]", pkt(0x82, u16(1), props(), mqttStr("a/#/b"), []byte{0}), packet.MalformedPacket},
		{"'#' not after '/'", "[MQTT5-4.7.1-1]", pkt(0x82, u16(1), props(), mqttStr("a#"), []byte{0}), packet.MalformedPacket},
		{"'+' not a whole level", "[MQTT5-4.7.1-2]", pkt(0x82, u16(1), props(), mqttStr("a/b+"), []byte{0}), packet.MalformedPacket},
		{"unsubscribe filter not UTF-8", "[MQTT5-3.10.3-1]", pkt(0xA2, u16(1), props(), []byte{0, 2, 0xC0, 0xAF}), packet.MalformedPacket},
		{"Response Topic with '+'", "[MQTT5-3.3.2-14]", pub0(mqttStr("a"), props(0x08, 0, 3, 'r', '/', '+'), "p"), packet.ProtocolError},
		{"Response Topic with '#'", "[MQTT5-3.3.2-14]", pkt(0x32, mqttStr("a"), u16(1), props(0x08, 0, 3, 'r', '/', '#'), []byte("p")), packet.ProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := mustV5(t, b, v5Connect("bad-"+strings.ReplaceAll(tc.name, " ", "-")))
			r.send(tc.send)
			r.expectDisconnect(tc.code)
		})
	}
}

// TestV5Messages: retained messages, topic matching and delivery rules with
// v5 publishers and subscribers.
func TestV5Messages(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	pub := mustV5(t, b, v5Connect("mpub"))
	mid := uint16(0)
	send := func(topic, payload string, retain bool, pr packet.Properties) {
		t.Helper()
		mid++
		pub.publish(&packet.Publish{Topic: topic, QoS: 1, PacketID: mid, Retain: retain, Payload: []byte(payload), Props: pr})
		a, ok := pub.read(5 * time.Second).(*packet.Ack)
		if !ok || a.Type != packet.PUBACK || a.PacketID != mid {
			t.Fatalf("expected PUBACK %d, got %+v", mid, a)
		}
	}

	// Retained: replaced, removed by an empty payload and that empty message
	// not stored [MQTT5-3.3.1-6] [MQTT5-3.3.1-7]; retain 0 neither stores
	// nor removes [MQTT5-3.3.1-8].
	t.Run("retained", func(t *testing.T) {
		send("rt/a", "kept", true, packet.Properties{})
		send("rt/a", "live", false, packet.Properties{})
		send("rt/b", "gone", true, packet.Properties{})
		send("rt/b", "", true, packet.Properties{})
		send("rt/c", "never", false, packet.Properties{})
		s := mustV5(t, b, v5Connect("rtsub"))
		s.v5Subscribe(1, 0, 1, "rt/#")
		m := s.expectPublish()
		if m.Topic != "rt/a" || string(m.Payload) != "kept" || !m.Retain {
			t.Fatalf("retained %+v", m)
		}
		s.ack(packet.PUBACK, m.PacketID)
		s.expectNothing()
	})

	// Wills: retain 1 published retained, retain 0 not [MQTT5-3.1.2-14]
	// [MQTT5-3.1.2-15].
	t.Run("will retain", func(t *testing.T) {
		live := mustV5(t, b, v5Connect("wlive"))
		live.send(packet.AppendSubscribe(nil, packet.V5, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{
			{Filter: "wr/#", Options: packet.SubOptions{QoS: 0, RetainAsPublished: true}}}}))
		live.read(5 * time.Second)
		for _, retain := range []bool{true, false} {
			c := v5Connect(fmt.Sprintf("wr-%v", retain))
			c.WillFlag, c.WillTopic, c.WillPayload, c.WillRetain = true, fmt.Sprintf("wr/%v", retain), []byte("w"), retain
			w := mustV5(t, b, c)
			w.nc.Close()
			if m := live.expectPublish(); m.Topic != c.WillTopic || m.Retain != retain {
				t.Fatalf("will %+v, want retain %v", m, retain)
			}
		}
		late := mustV5(t, b, v5Connect("wlate"))
		late.v5Subscribe(1, 0, 0, "wr/#")
		if m := late.expectPublish(); m.Topic != "wr/true" || !m.Retain {
			t.Fatalf("retained will %+v", m)
		}
		late.expectNothing()
	})

	// Topics: 0xEF 0xBB 0xBF kept [MQTT5-1.5.4-3], no normalisation
	// [MQTT5-4.7.3-4], wildcard-first filters skip '$' topics
	// [MQTT5-4.7.2-1], a 65535-byte topic passes whole [MQTT5-4.7.3-3].
	t.Run("topics", func(t *testing.T) {
		b := StartBroker(t, "") // no retained messages for "#"
		pub := mustV5(t, b, v5Connect("tpub"))
		mid := uint16(0)
		send := func(topic, payload string, _ bool, _ packet.Properties) {
			t.Helper()
			mid++
			pub.publish(&packet.Publish{Topic: topic, QoS: 1, PacketID: mid, Payload: []byte(payload)})
			pub.expectAck(packet.PUBACK, mid)
		}
		s := mustV5(t, b, v5Connect("tsub"))
		s.v5Subscribe(1, 0, 0, "\ufeffbom", "caf\u00e9", "#", "+/x")
		s.v5Subscribe(2, 0, 0, "$t/x")
		long := strings.Repeat("L", 65535)
		for _, tc := range []struct {
			topic string
			n     int
		}{{"\ufeffbom", 2}, {"bom", 1}, {"cafe\u0301", 1}, {"caf\u00e9", 2}, {"$t/x", 1}, {long, 1}} {
			send(tc.topic, "p", false, packet.Properties{})
			for i := 0; i < tc.n; i++ {
				if m := s.expectPublish(); m.Topic != tc.topic {
					t.Fatalf("got topic %q, want %q", m.Topic[:min(len(m.Topic), 20)], tc.topic[:min(len(tc.topic), 20)])
				}
			}
			s.ping() // nothing more was sent for this topic
		}
	})

	// Subscription identifiers: a client's Subscription Identifier is not
	// forwarded [MQTT5-3.3.4-6]; overlapping subscriptions deliver every
	// matching identifier [MQTT5-3.3.4-4].
	t.Run("subscription identifiers", func(t *testing.T) {
		s := mustV5(t, b, v5Connect("sidsub"))
		s.v5Subscribe(1, 5, 1, "sid/#")
		s.v5Subscribe(2, 6, 0, "sid/+")
		s.v5Subscribe(3, 0, 0, "+/x")
		noID := mustV5(t, b, v5Connect("sidnone"))
		noID.v5Subscribe(1, 0, 0, "sid/x")
		pub.send(pkt(0x30, mqttStr("sid/x"), props(0x0B, 9), []byte("p")))
		ids := map[uint32]int{}
		for i := 0; i < 3; i++ {
			m := s.expectPublish()
			for _, id := range m.Props.SubscriptionIDs {
				ids[id]++
			}
			if m.QoS > 0 {
				s.ack(packet.PUBACK, m.PacketID)
			}
		}
		if len(ids) != 2 || ids[5] != 1 || ids[6] != 1 {
			t.Fatalf("subscription identifiers %v, want 5 and 6 once each", ids)
		}
		if m := noID.expectPublish(); len(m.Props.SubscriptionIDs) != 0 {
			t.Fatalf("publisher's Subscription Identifier forwarded: %v", m.Props.SubscriptionIDs)
		}
		s.ping()
	})

	// UNSUBSCRIBE: no new messages after it [MQTT5-3.10.4-2], deliveries
	// already started are completed [MQTT5-3.10.4-3].
	t.Run("unsubscribe", func(t *testing.T) {
		s := mustV5(t, b, v5Connect("unsub"))
		s.v5Subscribe(1, 0, 2, "un/#")
		send("un/1", "q1", false, packet.Properties{})
		m := s.expectPublish()
		pub.publish(&packet.Publish{Topic: "un/2", QoS: 2, PacketID: 1000, Payload: []byte("q2")})
		pub.expectAck(packet.PUBREC, 1000)
		pub.ack(packet.PUBREL, 1000)
		pub.expectAck(packet.PUBCOMP, 1000)
		m2 := s.expectPublish()
		s.send(packet.AppendUnsubscribe(nil, packet.V5, &packet.Unsubscribe{PacketID: 2, Filters: []string{"un/#"}}))
		if ua, ok := s.read(5 * time.Second).(*packet.Unsuback); !ok || ua.Codes[0] != 0 {
			t.Fatalf("UNSUBACK %+v", ua)
		}
		s.ack(packet.PUBACK, m.PacketID)
		s.ack(packet.PUBREC, m2.PacketID)
		s.expectAckCode(packet.PUBREL, m2.PacketID, 0)
		s.ack(packet.PUBCOMP, m2.PacketID)
		send("un/3", "after", false, packet.Properties{})
		s.expectNothing()
	})
}

// TestV5Ordering: with a Receive Maximum of 2, QoS 1 messages from one
// publisher still arrive in the order published, on one topic and across
// topics [MQTT5-4.6.0-5] [MQTT5-4.6.0-6].
func TestV5Ordering(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	c := v5Connect("order")
	c.Props.ReceiveMaximum, c.Props.HasReceiveMaximum = 2, true
	s := mustV5(t, b, c)
	s.v5Subscribe(1, 0, 1, "o/#")
	pub := mustV5(t, b, v5Connect("opub"))
	const n = 50
	var all []byte
	for i := 0; i < n; i++ {
		all = append(all, packet.AppendPublish(nil, packet.V5, &packet.Publish{Topic: fmt.Sprintf("o/%d", i%3), QoS: 1,
			PacketID: uint16(i + 1), Payload: []byte(fmt.Sprint(i))})...)
	}
	pub.send(all)
	for i := 0; i < n; i++ {
		m := s.expectPublish()
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Payload)
		}
		s.ack(packet.PUBACK, m.PacketID)
	}
}

// TestV5WebSockets: MQTT 5 over a websockets listener. The server selects
// the "mqtt" subprotocol [MQTT5-6.0.0-4], sends binary frames only and
// reads packets split across and packed into frames [MQTT5-6.0.0-2]; a
// text frame closes the connection [MQTT5-6.0.0-1].
func TestV5WebSockets(t *testing.T) {
	t.Parallel()
	b, wp := wsBroker(t, "")
	_ = b
	url := fmt.Sprintf("ws://127.0.0.1:%d/mqtt", wp)
	dial := func(t *testing.T) *websocket.Conn {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" {
			t.Fatalf("subprotocol %q, want mqtt", got)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	write := func(t *testing.T, c *websocket.Conn, typ websocket.MessageType, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Write(ctx, typ, b); err != nil {
			t.Fatal(err)
		}
	}
	// reader reassembles the broker's frames, each of which must be binary.
	var in bytes.Buffer
	read := func(t *testing.T, c *websocket.Conn) any {
		t.Helper()
		for {
			if in.Len() > 0 {
				first, rem, n, err := packet.ParseFixedHeader(in.Bytes()[:min(in.Len(), 5)])
				if err != nil {
					t.Fatal(err)
				}
				if n > 0 && in.Len() >= n+int(rem) {
					buf := in.Next(n + int(rem))
					p, err := packet.Decode(first, buf[n:], packet.V5)
					if err != nil {
						t.Fatal(err)
					}
					return p
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			typ, data, err := c.Read(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if typ != websocket.MessageBinary {
				t.Fatalf("the broker sent a %v frame", typ)
			}
			in.Write(data)
		}
	}

	t.Run("frames", func(t *testing.T) {
		c := dial(t)
		in.Reset()
		conn := packet.AppendConnect(nil, v5Connect("wsv5"))
		write(t, c, websocket.MessageBinary, conn[:3])
		write(t, c, websocket.MessageBinary, conn[3:])
		if a, ok := read(t, c).(*packet.Connack); !ok || a.Code != 0 {
			t.Fatalf("CONNACK %+v", a)
		}
		both := packet.AppendSubscribe(nil, packet.V5, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "ws5"}}})
		pubPkt := packet.AppendPublish(nil, packet.V5, &packet.Publish{Topic: "ws5", Payload: []byte("split")})
		both = append(both, pubPkt[:4]...)
		write(t, c, websocket.MessageBinary, both)
		write(t, c, websocket.MessageBinary, pubPkt[4:])
		if _, ok := read(t, c).(*packet.Suback); !ok {
			t.Fatal("no SUBACK")
		}
		if m, ok := read(t, c).(*packet.Publish); !ok || string(m.Payload) != "split" {
			t.Fatalf("got %+v", m)
		}
	})

	t.Run("text frame", func(t *testing.T) {
		c := dial(t)
		in.Reset()
		write(t, c, websocket.MessageBinary, packet.AppendConnect(nil, v5Connect("wstext")))
		if a, ok := read(t, c).(*packet.Connack); !ok || a.Code != 0 {
			t.Fatalf("CONNACK %+v", a)
		}
		write(t, c, websocket.MessageText, packet.AppendPingreq(nil))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatal("connection still open after a text frame")
				}
				return
			}
			if typ == websocket.MessageBinary && len(data) > 0 && data[0] == 0xD0 {
				t.Fatal("PINGRESP to a PINGREQ sent in a text frame")
			}
		}
	})
}
