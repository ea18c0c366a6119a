package integration

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// Limits of issue 2, scope item 3, with Mosquitto's names, defaults and
// behaviour (reference §2.4, §6.4, §6.11).

// publishN publishes n messages topic/payload "0".."n-1" at qos from a raw
// client and waits for their acknowledgements.
func publishN(t *testing.T, pub *rawClient, topic string, qos byte, n int, size int) {
	t.Helper()
	for i := 0; i < n; i++ {
		payload := []byte(fmt.Sprint(i))
		if size > 0 {
			payload = bytes.Repeat([]byte{byte('a' + i)}, size)
		}
		mid := uint16(0)
		if qos > 0 {
			mid = uint16(i + 1)
		}
		pub.publish(&packet.Publish{Topic: topic, QoS: qos, PacketID: mid, Payload: payload})
		switch qos {
		case 1:
			pub.expectAck(packet.PUBACK, mid)
		case 2:
			pub.expectAck(packet.PUBREC, mid)
			pub.ack(packet.PUBREL, mid)
			pub.expectAck(packet.PUBCOMP, mid)
		}
	}
	if qos == 0 {
		pub.ping()
	}
}

// offlineSubscriber makes a persistent session subscribed to filter at QoS
// 1 and disconnects it.
func offlineSubscriber(t *testing.T, b *Broker, id, filter string) {
	t.Helper()
	m := b.Mark()
	r := mustConnect(t, b, id, false)
	r.subscribe(1, 1, filter)
	r.disconnect()
	// The session is offline once the line is logged.
	b.WaitLogFrom(t, m, q("Client "+id+" disconnected."), 5*time.Second)
}

// TestMaxInflightMessages: with a window of 2 a subscriber that does not
// acknowledge gets exactly 2 PUBLISH; each PUBACK lets one more through.
func TestMaxInflightMessages(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "max_inflight_messages 2\n"+logAll)
	sub := mustConnect(t, b, "win", true)
	sub.subscribe(1, 1, "w")
	pub := mustConnect(t, b, "winpub", true)
	publishN(t, pub, "w", 1, 5, 0)
	p1, p2 := sub.expectPublish(), sub.expectPublish()
	if string(p1.Payload) != "0" || string(p2.Payload) != "1" {
		t.Fatalf("window: %q %q", p1.Payload, p2.Payload)
	}
	sub.expectNothing()
	sub.ack(packet.PUBACK, p1.PacketID)
	if p := sub.expectPublish(); string(p.Payload) != "2" {
		t.Fatalf("after PUBACK got %q, want 2", p.Payload)
	}
	sub.expectNothing()
	sub.ack(packet.PUBACK, p2.PacketID)
	sub.ack(packet.PUBACK, 3)
	for _, want := range []string{"3", "4"} {
		p := sub.expectPublish()
		if string(p.Payload) != want {
			t.Fatalf("got %q, want %s", p.Payload, want)
		}
		sub.ack(packet.PUBACK, p.PacketID)
	}
	sub.expectNothing()
}

// TestMaxInflightBytes: the window also closes once the payload bytes in
// flight reach max_inflight_bytes; like Mosquitto, a message is sent while
// the bytes already in flight are below the limit.
func TestMaxInflightBytes(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "max_inflight_messages 0\nmax_inflight_bytes 10\n"+logAll)
	sub := mustConnect(t, b, "wbytes", true)
	sub.subscribe(1, 1, "wb")
	pub := mustConnect(t, b, "wbpub", true)
	publishN(t, pub, "wb", 1, 4, 6)
	p1, p2 := sub.expectPublish(), sub.expectPublish() // 0 < 10, 6 < 10, then 12
	sub.expectNothing()
	sub.ack(packet.PUBACK, p1.PacketID)
	sub.ack(packet.PUBACK, p2.PacketID)
	sub.expectPublish()
	sub.expectPublish()
	sub.expectNothing()
}

// TestMaxQueuedMessages: an offline session keeps max_queued_messages
// messages, the rest are dropped with one NOTICE line.
func TestMaxQueuedMessages(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "max_queued_messages 3\n"+logAll)
	offlineSubscriber(t, b, "qfull", "qm")
	pub := mustConnect(t, b, "qpub", true)
	m := b.Mark()
	publishN(t, pub, "qm", 1, 6, 0)
	b.WaitLogFrom(t, m, q("Outgoing messages are being dropped for client qfull."), 5*time.Second)
	if n := b.countLines(m, q("Outgoing messages are being dropped for client qfull.")); n != 1 {
		t.Fatalf("drop line logged %d times, want once", n)
	}
	r := mustConnect(t, b, "qfull", false)
	for _, want := range []string{"0", "1", "2"} {
		p := r.expectPublish()
		if string(p.Payload) != want {
			t.Fatalf("got %q, want %s", p.Payload, want)
		}
		r.ack(packet.PUBACK, p.PacketID)
	}
	r.expectNothing()
}

// TestMaxQueuedBytes: offline, a message is queued while the queued bytes
// are below max_queued_bytes (Mosquitto's db__ready_for_queue).
func TestMaxQueuedBytes(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "max_queued_bytes 10\n"+logAll)
	offlineSubscriber(t, b, "qbytes", "qb")
	pub := mustConnect(t, b, "qbpub", true)
	m := b.Mark()
	publishN(t, pub, "qb", 1, 5, 4) // queued bytes before each: 0, 4, 8, 12 (dropped), 12 (dropped)
	b.WaitLogFrom(t, m, q("Outgoing messages are being dropped for client qbytes."), 5*time.Second)
	r := mustConnect(t, b, "qbytes", false)
	for _, want := range []string{"aaaa", "bbbb", "cccc"} {
		p := r.expectPublish()
		if string(p.Payload) != want {
			t.Fatalf("got %q, want %s", p.Payload, want)
		}
		r.ack(packet.PUBACK, p.PacketID)
	}
	r.expectNothing()
}

// TestQueueQoS0Messages: QoS 0 for an offline persistent session is queued
// only with queue_qos0_messages true.
func TestQueueQoS0Messages(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			t.Parallel()
			b := StartBroker(t, fmt.Sprintf("queue_qos0_messages %v\n", on)+logAll)
			offlineSubscriber(t, b, "q0", "q0")
			pub := mustConnect(t, b, "q0pub", true)
			publishN(t, pub, "q0", 0, 2, 0)
			r := mustConnect(t, b, "q0", false)
			if on {
				for _, want := range []string{"0", "1"} {
					if p := r.expectPublish(); string(p.Payload) != want || p.QoS != 0 {
						t.Fatalf("got %#v, want QoS 0 %s", p, want)
					}
				}
			}
			r.expectNothing()
		})
	}
}

// TestMaxPacketSize: an inbound packet over max_packet_size closes the
// connection (reference §6.11).
func TestMaxPacketSize(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "max_packet_size 100\n"+logAll)
	r := mustConnect(t, b, "big", true)
	m := b.Mark()
	r.publish(&packet.Publish{Topic: "t", Payload: make([]byte, 95)}) // 1 + 2 + 1 + 95 = 99 ≤ 100
	r.ping()
	r.publish(&packet.Publish{Topic: "t", Payload: make([]byte, 97)}) // remaining 100, +1 > 100
	r.expectClosed(5 * time.Second)
	b.waitLines(t, m, q("Received PUBLISH from big (d0, q0, r0, m0, 't', ... (95 bytes))"),
		q("Client big disconnected due to oversize packet."))
}

// TestMessageSizeLimit: a payload over message_size_limit is acknowledged
// and dropped; the connection stays open.
func TestMessageSizeLimit(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "message_size_limit 10\n"+logAll)
	sub := mustConnect(t, b, "msl-sub", true)
	sub.subscribe(1, 1, "msl")
	r := mustConnect(t, b, "msl", true)
	m := b.Mark()
	r.publish(&packet.Publish{Topic: "msl", QoS: 1, PacketID: 1, Payload: make([]byte, 11)})
	r.expectAck(packet.PUBACK, 1)
	r.publish(&packet.Publish{Topic: "msl", QoS: 2, PacketID: 2, Payload: make([]byte, 20)})
	r.expectAck(packet.PUBREC, 2)
	r.ack(packet.PUBREL, 2)
	r.expectAck(packet.PUBCOMP, 2)
	r.ping()
	sub.expectNothing()
	r.publish(&packet.Publish{Topic: "msl", QoS: 1, PacketID: 3, Payload: make([]byte, 10)})
	r.expectAck(packet.PUBACK, 3)
	if p := sub.expectPublish(); len(p.Payload) != 10 {
		t.Fatalf("got %d bytes", len(p.Payload))
	}
	b.waitLines(t, m, q("Dropped too large PUBLISH from msl (d0, q1, r0, m1, 'msl', ... (11 bytes))"),
		q("Sending PUBACK to msl (m1, rc149)"), // logged with 149 even for v3; the v3 PUBACK has no code
		q("Dropped too large PUBLISH from msl (d0, q2, r0, m2, 'msl', ... (20 bytes))"))
	if n := b.countLines(m, `^Client msl `); n != 0 {
		t.Fatal("connection closed")
	}
}

// TestMaxConnections: the connection over max_connections is refused at
// accept time, with no "New connection" line; 0 means unlimited, as in
// Mosquitto (which checks max_connections > 0).
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	t.Run("2", func(t *testing.T) {
		t.Parallel()
		b := StartBroker(t, "listener PORT 127.0.0.1\nmax_connections 2\n"+logAll)
		m := b.Mark()
		mustConnect(t, b, "mc1", true)
		mustConnect(t, b, "mc2", true)
		r := dialRaw(t, b.Addr)
		r.expectClosed(5 * time.Second)
		b.WaitLogFrom(t, m, q("Client connection from 127.0.0.1 denied: max_connections exceeded."), 5*time.Second)
		if n := b.countLines(m, `^New connection from`); n != 2 {
			t.Fatalf("%d New connection lines, want 2", n)
		}
	})
	t.Run("0 unlimited", func(t *testing.T) {
		t.Parallel()
		b := StartBroker(t, "listener PORT 127.0.0.1\nmax_connections 0\n"+logAll)
		mustConnect(t, b, "mc0", true).ping()
	})
}

// TestMaxKeepalive: a v3 client asking for more than max_keepalive, or for
// 0, gets CONNACK 2 and is closed (reference §6.1).
func TestMaxKeepalive(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "max_keepalive 10\n"+logAll)
	for _, ka := range []uint16{20, 0} {
		m := b.Mark()
		id := fmt.Sprintf("mk%d", ka)
		r, ack := rawConnect(t, b, id, true, ka)
		if ack.Code != 2 {
			t.Fatalf("k%d: CONNACK %d, want 2", ka, ack.Code)
		}
		r.expectClosed(5 * time.Second)
		b.waitLines(t, m, fmt.Sprintf(`^New client connected from 127\.0\.0\.1:\d+ as %s \(p2, c1, k%d\)\.$`, id, ka),
			q("Sending CONNACK to "+id+" (0, 2)"),
			q("Bad socket read/write on client "+id+": Invalid arguments provided."))
	}
	if _, ack := rawConnect(t, b, "mk10", true, 10); ack.Code != 0 {
		t.Fatalf("k10: CONNACK %d", ack.Code)
	}
}

// TestRetainAvailableFalse: a retained PUBLISH closes the connection.
func TestRetainAvailableFalse(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "retain_available false\n"+logAll)
	r := mustConnect(t, b, "noret", true)
	r.publish(&packet.Publish{Topic: "r", QoS: 1, PacketID: 1, Payload: []byte("x")})
	r.expectAck(packet.PUBACK, 1)
	m := b.Mark()
	r.publish(&packet.Publish{Topic: "r", Retain: true, QoS: 1, PacketID: 2, Payload: []byte("x")})
	r.expectClosed(5 * time.Second)
	b.WaitLogFrom(t, m, q("Bad socket read/write on client noret: Unknown error."), 5*time.Second)
}

// TestPersistentClientExpiration: the option parses and leaves sessions in
// place for its duration. Its smallest unit is an hour, so the expiry itself
// ("Expiring client %s due to timeout.") is checked by the broker unit test
// TestExpirySessions.
func TestPersistentClientExpiration(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "persistent_client_expiration 1h\n"+logAll)
	offlineSubscriber(t, b, "pce", "pce")
	if _, ack := rawConnect(t, b, "pce", false, 60); !ack.SessionPresent {
		t.Fatal("session not kept")
	}
	if n := b.countLines(0, `Expiring client`); n != 0 {
		t.Fatal("expired early")
	}
}

// TestUpgradeOutgoingQoS: delivery at the subscription QoS when it is
// higher than the publish QoS (non-standard Mosquitto option).
func TestUpgradeOutgoingQoS(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			t.Parallel()
			b := StartBroker(t, fmt.Sprintf("upgrade_outgoing_qos %v\n", on)+logAll)
			sub := mustConnect(t, b, "up", true)
			sub.subscribe(1, 2, "up")
			pub := mustConnect(t, b, "uppub", true)
			publishN(t, pub, "up", 0, 1, 0)
			want := byte(0)
			if on {
				want = 2
			}
			if p := sub.expectPublish(); p.QoS != want {
				t.Fatalf("delivered at QoS %d, want %d", p.QoS, want)
			}
			b.WaitLog(t, fmt.Sprintf(`^Sending PUBLISH to up \(d0, q%d, r0, m%d, 'up'`, want, min(want, 1)), 5*time.Second)
		})
	}
}

// TestSetTCPNoDelay: the option is accepted and the broker serves clients,
// with mosquitto_pub / mosquitto_sub.
func TestSetTCPNoDelay(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "set_tcp_nodelay true\n"+logAll)
	mosquittoPub(t, b, "-t", "nd", "-m", "fast", "-r")
	if got := mosquittoSub(t, b, 1, "-t", "nd"); strings.Join(got, "") != "nd fast" {
		t.Fatalf("got %q", got)
	}
}
