package integration

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// TestConnackFirstUnderTraffic: while messages flow to its topic, a
// persistent subscriber reconnecting (a takeover of its own session) gets
// CONNACK as its first packet, then its in-flight messages re-sent with DUP
// [MQTT-3.2.0-1] [MQTT-4.4.0-1]. Deliveries routed
// between the session attach and the CONNACK used to be written first.
func TestConnackFirstUnderTraffic(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "max_inflight_messages 5\n")
	sub := dialRaw(t, b.Addr)
	c := &packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, Version: 4, ClientID: "cf-sub", KeepAlive: 60}
	if ack := sub.connect(c); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
	sub.send(packet.AppendSubscribe(nil, packet.V311, &packet.Subscribe{PacketID: 1,
		Subscriptions: []packet.Subscription{{Filter: "cf/t", Options: packet.SubOptions{QoS: 1}}}}))
	if _, ok := sub.read(5 * time.Second).(*packet.Suback); !ok {
		t.Fatal("no SUBACK")
	}
	pub := dialRaw(t, b.Addr)
	pub.connect(connectPacket("cf-pub"))
	var stop atomic.Bool
	done := make(chan struct{})
	go func() { // drain the publisher's PUBACKs
		buf := make([]byte, 4096)
		for {
			if _, err := pub.nc.Read(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(done)
		for i := 1; !stop.Load(); i++ {
			m := &packet.Publish{Topic: "cf/t", QoS: 1, PacketID: uint16(i%65535 + 1), Payload: []byte(fmt.Sprint(i))}
			if _, err := pub.nc.Write(packet.AppendPublish(nil, packet.V311, m)); err != nil {
				return
			}
		}
	}()
	defer func() { stop.Store(true); pub.nc.Close(); <-done }()
	// Fill the window on the first connection: five unacknowledged messages.
	for i := 0; i < 5; i++ {
		if _, ok := sub.read(5 * time.Second).(*packet.Publish); !ok {
			t.Fatalf("packet %d to the first connection is not a PUBLISH", i)
		}
	}
	for round := 0; round < 20; round++ {
		r := dialRaw(t, b.Addr)
		r.send(packet.AppendConnect(nil, c))
		first := r.read(5 * time.Second)
		if _, ok := first.(*packet.Connack); !ok {
			t.Fatalf("round %d: first packet %T, want CONNACK", round, first)
		}
		// This subscriber never acknowledges, so the window (5) was full
		// when it left: the five re-sent messages come next, all with DUP
		// set, and nothing new can pass them [MQTT-4.4.0-1].
		for i := 0; i < 5; i++ {
			p, ok := r.read(5 * time.Second).(*packet.Publish)
			if !ok {
				t.Fatalf("round %d: packet %d after CONNACK is not a PUBLISH", round, i)
			}
			if !p.Dup {
				t.Fatalf("round %d: message %d after CONNACK was not a re-send (DUP 0)", round, i)
			}
		}
		r.nc.Close()
	}
}
