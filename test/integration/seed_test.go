package integration

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/midgemq/midge/internal/packet"
)

// The golden seed-log tests replay every event that the guide in
// ../shared/seed/ explains, with real clients, and compare whole log lines
// with the guide's (log_dialect 1.3) and with Mosquitto 2.0.20's forms of
// the same events (default dialect). Only the timestamp, addresses and ports
// are normalised; generated ids do not occur because every client names
// itself as in the guide.

var (
	ipPortRE = regexp.MustCompile(`\b\d+\.\d+\.\d+\.\d+:\d+\b`)
	ipRE     = regexp.MustCompile(`\b\d+\.\d+\.\d+\.\d+\b`)
	onPortRE = regexp.MustCompile(`on port \d+\.`)
)

func normalise(l string) string {
	l = ipPortRE.ReplaceAllString(l, "IP:PORT")
	l = ipRE.ReplaceAllString(l, "IP")
	return onPortRE.ReplaceAllString(l, "on port N.")
}

// seedEvent is one event of the guide: the lines it shows (normalised) and
// Mosquitto 2.0.20's lines for the same event.
type seedEvent struct {
	name string
	v13  []string
	v20  []string
	run  func(t *testing.T, b *Broker)
}

const payload396 = 396

func seedEvents() []seedEvent {
	var sub paho.Client // zhoujing, kept across events
	var pub paho.Client // JY_API_PUSH_CLIENT
	return []seedEvent{
		{
			name: "client connects (c0, k60, ujoyo)",
			v13: []string{
				"New connection from IP on port N.",
				"New client connected from IP as zhoujing (c0, k60, ujoyo).",
				"Sending CONNACK to zhoujing (0)",
			},
			v20: []string{
				"New connection from IP:PORT on port N.",
				"New client connected from IP:PORT as zhoujing (p2, c0, k60, u'joyo').",
				"No will message specified.",
				"Sending CONNACK to zhoujing (0, 0)",
			},
			run: func(t *testing.T, b *Broker) {
				sub = pahoConnect(t, b, "zhoujing", "joyo", false, 60*time.Second)
			},
		},
		{
			name: "client subscribes at QoS 2",
			v13: []string{
				"Received SUBSCRIBE from zhoujing",
				"\tjiji/chat/9 (QoS 2)",
				"zhoujing 2 jiji/chat/9",
				"Sending SUBACK to zhoujing",
			},
			v20: []string{
				"Received SUBSCRIBE from zhoujing",
				"\tjiji/chat/9 (QoS 2)",
				"zhoujing 2 jiji/chat/9",
				"Sending SUBACK to zhoujing",
			},
			run: func(t *testing.T, b *Broker) {
				tok := sub.Subscribe("jiji/chat/9", 2, nil)
				if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("subscribe: %v", tok.Error())
				}
			},
		},
		{
			name: "publisher connects (c1, k60, no username)",
			v13: []string{
				"New connection from IP on port N.",
				"New client connected from IP as JY_API_PUSH_CLIENT (c1, k60).",
				"Sending CONNACK to JY_API_PUSH_CLIENT (0)",
			},
			v20: []string{
				"New connection from IP:PORT on port N.",
				"New client connected from IP:PORT as JY_API_PUSH_CLIENT (p2, c1, k60).",
				"No will message specified.",
				"Sending CONNACK to JY_API_PUSH_CLIENT (0, 0)",
			},
			run: func(t *testing.T, b *Broker) {
				pub = pahoConnect(t, b, "JY_API_PUSH_CLIENT", "", true, 60*time.Second)
			},
		},
		{
			name: "broker receives a QoS 2 publish, then delivers it with the QoS 2 handshake",
			v13: []string{
				"Received PUBLISH from JY_API_PUSH_CLIENT (d0, q2, r0, m1, 'jiji/chat/9', ... (396 bytes))",
				"Sending PUBREC to JY_API_PUSH_CLIENT (Mid: 1)",
				"Received PUBREL from JY_API_PUSH_CLIENT (Mid: 1)",
				"Sending PUBLISH to zhoujing (d0, q2, r0, m1, 'jiji/chat/9', ... (396 bytes))",
				"Sending PUBCOMP to JY_API_PUSH_CLIENT (Mid: 1)",
				"Received PUBREC from zhoujing (Mid: 1)",
				"Sending PUBREL to zhoujing (Mid: 1)",
				"Received PUBCOMP from zhoujing (Mid: 1)",
			},
			v20: []string{
				"Received PUBLISH from JY_API_PUSH_CLIENT (d0, q2, r0, m1, 'jiji/chat/9', ... (396 bytes))",
				"Sending PUBREC to JY_API_PUSH_CLIENT (m1, rc0)",
				"Received PUBREL from JY_API_PUSH_CLIENT (Mid: 1)",
				"Sending PUBLISH to zhoujing (d0, q2, r0, m1, 'jiji/chat/9', ... (396 bytes))",
				"Sending PUBCOMP to JY_API_PUSH_CLIENT (m1)",
				"Received PUBREC from zhoujing (Mid: 1)",
				"Sending PUBREL to zhoujing (m1)",
				"Received PUBCOMP from zhoujing (Mid: 1, RC:0)",
			},
			run: func(t *testing.T, b *Broker) {
				tok := pub.Publish("jiji/chat/9", 2, false, strings.Repeat("x", payload396))
				if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("publish: %v", tok.Error())
				}
				b.WaitLog(t, `^Received PUBCOMP from zhoujing`, 5*time.Second)
			},
		},
		{
			name: "client disconnects itself",
			v13:  []string{"Received DISCONNECT from JY_API_PUSH_CLIENT"},
			v20:  []string{"Received DISCONNECT from JY_API_PUSH_CLIENT", "Client JY_API_PUSH_CLIENT disconnected."},
			run: func(t *testing.T, b *Broker) {
				pub.Disconnect(250)
			},
		},
		{
			name: "same client id connects again (takeover)",
			v13: []string{
				"New connection from IP on port N.",
				"Client zhoujing already connected, closing old connection.",
				"New client connected from IP as zhoujing (c0, k60, ujoyo).",
				"Sending CONNACK to zhoujing (0)",
			},
			v20: []string{
				"New connection from IP:PORT on port N.",
				"Client zhoujing already connected, closing old connection.",
				"New client connected from IP:PORT as zhoujing (p2, c0, k60, u'joyo').",
				"No will message specified.",
				"Sending CONNACK to zhoujing (1, 0)",
			},
			run: func(t *testing.T, b *Broker) {
				r := dialRaw(t, b.Addr)
				r.connect(&packet.Connect{ClientID: "zhoujing", KeepAlive: 60, UsernameFlag: true, Username: "joyo"})
				b.WaitLog(t, `^Sending CONNACK to zhoujing \(.*\)$`, 5*time.Second)
				r.send(packet.AppendDisconnect(nil, packet.V311, &packet.Disconnect{}))
				b.WaitLog(t, `^Received DISCONNECT from zhoujing`, 5*time.Second)
			},
		},
		{
			name: "PINGREQ / PINGRESP",
			v13: []string{
				"Received PINGREQ from 36383A64663A6464003V0",
				"Sending PINGRESP to 36383A64663A6464003V0",
			},
			v20: []string{
				"Received PINGREQ from 36383A64663A6464003V0",
				"Sending PINGRESP to 36383A64663A6464003V0",
			},
			run: func(t *testing.T, b *Broker) {
				r := dialRaw(t, b.Addr)
				r.connect(&packet.Connect{ClientID: "36383A64663A6464003V0", KeepAlive: 60, CleanStart: true})
				m := b.Mark()
				r.send(packet.AppendPingreq(nil))
				if _, ok := r.read(5 * time.Second).(*packet.Pingresp); !ok {
					t.Fatal("expected PINGRESP")
				}
				b.WaitLogFrom(t, m, `^Sending PINGRESP`, 5*time.Second)
				r.nc.Close()
				b.WaitLogFrom(t, m, `36383A64663A6464003V0(, disconnecting| closed)`, 5*time.Second)
			},
		},
		{
			name: "keepalive timeout",
			v13: []string{
				"Client 33303A33393A3236003V0 has exceeded timeout, disconnecting.",
				"Socket error on client 33303A33393A3236003V0, disconnecting.",
			},
			v20: []string{"Client 33303A33393A3236003V0 has exceeded timeout, disconnecting."},
			run: func(t *testing.T, b *Broker) {
				r := dialRaw(t, b.Addr)
				r.connect(&packet.Connect{ClientID: "33303A33393A3236003V0", KeepAlive: 1, CleanStart: true})
				b.WaitLog(t, `33303A33393A3236003V0 has exceeded timeout`, 10*time.Second)
			},
		},
		{
			name: "socket error (connection lost without DISCONNECT)",
			v13:  []string{"Socket error on client 351BBJKFX62C1, disconnecting."},
			v20:  []string{"Client 351BBJKFX62C1 closed its connection."},
			run: func(t *testing.T, b *Broker) {
				r := dialRaw(t, b.Addr)
				r.connect(&packet.Connect{ClientID: "351BBJKFX62C1", KeepAlive: 60, CleanStart: true})
				b.WaitLog(t, `Sending CONNACK to 351BBJKFX62C1`, 5*time.Second)
				r.nc.Close()
				b.WaitLog(t, `351BBJKFX62C1(, disconnecting| closed its connection)`, 5*time.Second)
			},
		},
	}
}

// noise are lines of events other than the one being checked (connection
// set-up of helper clients in the PINGREQ, timeout and socket-error events).
var helperIDs = regexp.MustCompile(`36383A64663A6464003V0|33303A33393A3236003V0|351BBJKFX62C1`)

func pahoConnect(t *testing.T, b *Broker, id, user string, clean bool, ka time.Duration) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + b.Addr).SetClientID(id).SetCleanSession(clean).
		SetKeepAlive(ka).SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
		SetDefaultPublishHandler(func(paho.Client, paho.Message) {})
	if user != "" {
		o.SetUsername(user)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func TestSeedLogGolden(t *testing.T) {
	for _, dialect := range []string{"1.3", "2.0"} {
		t.Run("dialect "+dialect, func(t *testing.T) {
			b := StartBroker(t, fmt.Sprintf("log_dialect %s\nlog_type all\n", dialect))
			for _, ev := range seedEvents() {
				m := b.Mark()
				ev.run(t, b)
				want := ev.v20
				if dialect == "1.3" {
					want = ev.v13
				}
				// The last expected line must have arrived before comparing.
				last := regexp.QuoteMeta(want[len(want)-1])
				last = strings.NewReplacer("IP:PORT", `\S+`, "IP", `\S+`, "on port N", `on port \d+`).Replace(last)
				b.WaitLogFrom(t, m, "^"+last+"$", 10*time.Second)
				got := b.Lines()[m:]
				var norm []string
				for _, l := range got {
					norm = append(norm, normalise(l))
				}
				if !containsRun(norm, want) {
					t.Errorf("%s: event %q: want the lines\n  %s\ngot\n  %s", dialect, ev.name,
						strings.Join(want, "\n  "), strings.Join(norm, "\n  "))
				}
			}
		})
	}
}

// containsRun reports whether want occurs in got as consecutive lines.
func containsRun(got, want []string) bool {
	for i := 0; i+len(want) <= len(got); i++ {
		ok := true
		for j := range want {
			if got[i+j] != want[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
