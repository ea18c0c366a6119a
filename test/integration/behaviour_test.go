package integration

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/midgemq/midge/internal/packet"
)

// Protocol behaviour of issue 2, scope item 2, checked through real clients
// with the client-visible result and Mosquitto 2.0.20's log lines
// (reference §1.8-§1.11, §6).

// logAll turns every log type on, so the debug packet lines can be checked.
const logAll = "log_type all\n"

// quiet is how long a test listens to decide that nothing more arrives.
const quiet = 300 * time.Millisecond

// rawConnect dials and connects a v3.1.1 raw client.
func rawConnect(t *testing.T, b *Broker, id string, clean bool, ka uint16) (*rawClient, *packet.Connack) {
	t.Helper()
	r := dialRaw(t, b.Addr)
	ack := r.connect(&packet.Connect{ClientID: id, CleanStart: clean, KeepAlive: ka})
	return r, ack
}

// mustConnect is rawConnect expecting CONNACK 0.
func mustConnect(t *testing.T, b *Broker, id string, clean bool) *rawClient {
	t.Helper()
	r, ack := rawConnect(t, b, id, clean, 60)
	if ack.Code != 0 {
		t.Fatalf("%s: CONNACK %d", id, ack.Code)
	}
	return r
}

// subscribe sends SUBSCRIBE and returns the SUBACK codes.
func (r *rawClient) subscribe(mid uint16, qos byte, filters ...string) []packet.ReasonCode {
	r.t.Helper()
	s := &packet.Subscribe{PacketID: mid}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, packet.Subscription{Filter: f, Options: packet.SubOptions{QoS: qos}})
	}
	r.send(packet.AppendSubscribe(nil, r.v, s))
	p := r.read(5 * time.Second)
	sa, ok := p.(*packet.Suback)
	if !ok || sa.PacketID != mid {
		r.t.Fatalf("expected SUBACK %d, got %#v", mid, p)
	}
	return sa.Codes
}

func (r *rawClient) publish(p *packet.Publish) {
	r.t.Helper()
	r.send(packet.AppendPublish(nil, r.v, p))
}

func (r *rawClient) ack(t packet.Type, mid uint16) {
	r.t.Helper()
	r.send(packet.AppendAck(nil, r.v, &packet.Ack{Type: t, PacketID: mid}))
}

// expectPublish reads the next packet, which must be a PUBLISH.
func (r *rawClient) expectPublish() *packet.Publish {
	r.t.Helper()
	p := r.read(5 * time.Second)
	pub, ok := p.(*packet.Publish)
	if !ok {
		r.t.Fatalf("expected PUBLISH, got %#v", p)
	}
	return pub
}

// expectAck reads the next packet, which must be the given ack for mid.
func (r *rawClient) expectAck(t packet.Type, mid uint16) {
	r.t.Helper()
	p := r.read(5 * time.Second)
	a, ok := p.(*packet.Ack)
	if !ok || a.Type != t || a.PacketID != mid {
		r.t.Fatalf("expected %v %d, got %#v", t, mid, p)
	}
}

// expectNothing checks that no packet arrives within quiet.
func (r *rawClient) expectNothing() {
	r.t.Helper()
	p, err := r.tryRead(quiet)
	if err == nil {
		r.t.Fatalf("expected nothing, got %#v", p)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		r.t.Fatalf("expected nothing, connection ended: %v", err)
	}
}

// ping checks that the connection is open and served.
func (r *rawClient) ping() {
	r.t.Helper()
	r.send(packet.AppendPingreq(nil))
	if p := r.read(5 * time.Second); fmt.Sprintf("%T", p) != "*packet.Pingresp" {
		r.t.Fatalf("expected PINGRESP, got %#v", p)
	}
}

func (r *rawClient) disconnect() {
	r.t.Helper()
	r.send(packet.AppendDisconnect(nil, r.v, &packet.Disconnect{}))
	r.expectClosed(5 * time.Second)
}

// waitLines waits for each pattern in turn, each after the previous match,
// starting at line from; it returns the index after the last match.
func (b *Broker) waitLines(t *testing.T, from int, patterns ...string) int {
	t.Helper()
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		b.WaitLogFrom(t, from, p, 5*time.Second)
		lines := b.Lines()
		for i := from; i < len(lines); i++ {
			if re.MatchString(lines[i]) {
				from = i + 1
				break
			}
		}
	}
	return from
}

// countLines counts log lines from index from that match pattern.
func (b *Broker) countLines(from int, pattern string) int {
	re := regexp.MustCompile(pattern)
	n := 0
	for _, l := range b.Lines()[from:] {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// q quotes a literal log line as an anchored regexp.
func q(line string) string { return "^" + regexp.QuoteMeta(line) + "$" }

// pahoSubscribe subscribes a paho client and returns its messages.
func pahoSubscribe(t *testing.T, c paho.Client, filter string, qos byte) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 2000)
	tok := c.Subscribe(filter, qos, func(_ paho.Client, m paho.Message) { ch <- m })
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

func recvMsg(t *testing.T, ch <-chan paho.Message) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
	return nil
}

// mosquittoPub runs Debian's mosquitto_pub against the broker.
func mosquittoPub(t *testing.T, b *Broker, args ...string) {
	t.Helper()
	args = append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(b.Port)}, args...)
	if out, err := exec.Command("mosquitto_pub", args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
	}
}

// mosquittoSub runs mosquitto_sub -v until it has count messages (-C) or
// times out (-W), and returns its output lines.
func mosquittoSub(t *testing.T, b *Broker, count int, args ...string) []string {
	t.Helper()
	lines, err := runMosquittoSub(b, count, args...)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// runMosquittoSub is mosquittoSub for use from another goroutine.
func runMosquittoSub(b *Broker, count int, args ...string) ([]string, error) {
	args = append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(b.Port), "-v", "-C", fmt.Sprint(count), "-W", "5"}, args...)
	out, err := exec.Command("mosquitto_sub", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("mosquitto_sub %v: %v\n%s", args, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n"), nil
}

// TestQoSFlows replays reference §1.8's observed self-subscribed session:
// QoS 0, 1 and 2 in both directions with every handshake packet and line.
func TestQoSFlows(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	r := mustConnect(t, b, "cli-a", true)
	if codes := r.subscribe(1, 2, "a/#"); len(codes) != 1 || codes[0] != 2 {
		t.Fatalf("SUBACK %v", codes)
	}
	m := b.Mark()

	r.publish(&packet.Publish{Topic: "a/b", Payload: []byte("hello")})
	if p := r.expectPublish(); p.QoS != 0 || string(p.Payload) != "hello" || p.Retain {
		t.Fatalf("QoS 0 delivery %#v", p)
	}

	r.publish(&packet.Publish{Topic: "a/b", QoS: 1, PacketID: 7, Payload: []byte("q1")})
	// The broker forwards before it acknowledges (reference §1.8).
	if p := r.expectPublish(); p.QoS != 1 || p.PacketID != 1 || p.Dup {
		t.Fatalf("QoS 1 delivery %#v", p)
	}
	r.expectAck(packet.PUBACK, 7)
	r.ack(packet.PUBACK, 1)

	// Inbound QoS 2 reaches subscribers only at PUBREL ("method B").
	r.publish(&packet.Publish{Topic: "a/c", QoS: 2, Retain: true, PacketID: 8, Payload: []byte("q2")})
	r.expectAck(packet.PUBREC, 8)
	r.expectNothing()
	r.ack(packet.PUBREL, 8)
	p := r.expectPublish()
	if p.QoS != 2 || p.PacketID != 2 || p.Retain || string(p.Payload) != "q2" {
		t.Fatalf("QoS 2 delivery %#v (live delivery has retain 0)", p)
	}
	r.expectAck(packet.PUBCOMP, 8)
	r.ack(packet.PUBREC, 2)
	r.expectAck(packet.PUBREL, 2)
	r.ack(packet.PUBCOMP, 2)
	r.disconnect()

	b.waitLines(t, m,
		q("Received PUBLISH from cli-a (d0, q0, r0, m0, 'a/b', ... (5 bytes))"),
		q("Sending PUBLISH to cli-a (d0, q0, r0, m0, 'a/b', ... (5 bytes))"),
		q("Received PUBLISH from cli-a (d0, q1, r0, m7, 'a/b', ... (2 bytes))"),
		q("Sending PUBLISH to cli-a (d0, q1, r0, m1, 'a/b', ... (2 bytes))"),
		q("Sending PUBACK to cli-a (m7, rc0)"),
		q("Received PUBACK from cli-a (Mid: 1, RC:0)"),
		q("Received PUBLISH from cli-a (d0, q2, r1, m8, 'a/c', ... (2 bytes))"),
		q("Sending PUBREC to cli-a (m8, rc0)"),
		q("Received PUBREL from cli-a (Mid: 8)"),
		q("Sending PUBLISH to cli-a (d0, q2, r0, m2, 'a/c', ... (2 bytes))"),
		q("Sending PUBCOMP to cli-a (m8)"),
		q("Received PUBREC from cli-a (Mid: 2)"),
		q("Sending PUBREL to cli-a (m2)"),
		q("Received PUBCOMP from cli-a (Mid: 2, RC:0)"),
		q("Received DISCONNECT from cli-a"),
		q("Client cli-a disconnected."),
	)
}

// TestQoSWithPahoAndMosquittoClients sends QoS 0/1/2 from mosquitto_pub to
// a paho subscriber and from paho to mosquitto_sub.
func TestQoSWithPahoAndMosquittoClients(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	sub := pahoConnect(t, b, "paho-sub", "", true, 60*time.Second)
	ch := pahoSubscribe(t, sub, "q/#", 2)
	for qos := 0; qos <= 2; qos++ {
		mosquittoPub(t, b, "-i", "mpub", "-t", fmt.Sprintf("q/%d", qos), "-q", fmt.Sprint(qos), "-m", "x")
		m := recvMsg(t, ch)
		if m.Topic() != fmt.Sprintf("q/%d", qos) || int(m.Qos()) != qos {
			t.Fatalf("got %s q%d, want q/%d q%d", m.Topic(), m.Qos(), qos, qos)
		}
	}
	b.WaitLog(t, q("Received PUBLISH from mpub (d0, q2, r0, m1, 'q/2', ... (1 bytes))"), 5*time.Second)
	b.WaitLog(t, q("Sending PUBLISH to paho-sub (d0, q2, r0, m2, 'q/2', ... (1 bytes))"), 5*time.Second)

	// paho -> mosquitto_sub, QoS 2 end to end.
	type result struct {
		lines []string
		err   error
	}
	done := make(chan result, 1)
	m := b.Mark()
	go func() {
		l, err := runMosquittoSub(b, 1, "-i", "msub", "-q", "2", "-t", "r/1")
		done <- result{l, err}
	}()
	b.WaitLogFrom(t, m, q("msub 2 r/1"), 5*time.Second)
	pub := pahoConnect(t, b, "paho-pub", "", true, 60*time.Second)
	if tok := pub.Publish("r/1", 2, false, "payload"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	if got := <-done; got.err != nil || len(got.lines) != 1 || got.lines[0] != "r/1 payload" {
		t.Fatalf("mosquitto_sub got %q, %v", got.lines, got.err)
	}
	b.WaitLogFrom(t, m, q("Sending PUBLISH to msub (d0, q2, r0, m1, 'r/1', ... (7 bytes))"), 5*time.Second)
}

// TestSubackGrantedQoS: SUBACK grants min(requested, listener max_qos).
func TestSubackGrantedQoS(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "listener PORT 127.0.0.1\nmax_qos 1\n"+logAll)
	r := mustConnect(t, b, "granted", true)
	m := b.Mark()
	codes := r.subscribe(3, 2, "g/2")
	if len(codes) != 1 || codes[0] != 1 {
		t.Fatalf("SUBACK %v, want [1]", codes)
	}
	if codes := r.subscribe(4, 0, "g/0"); codes[0] != 0 {
		t.Fatalf("SUBACK %v, want [0]", codes)
	}
	b.waitLines(t, m, q("Received SUBSCRIBE from granted"), q("\tg/2 (QoS 1)"), q("granted 1 g/2"),
		q("Sending SUBACK to granted"))
}

// TestUnsubscribe: after UNSUBSCRIBE nothing more is delivered.
func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	c := pahoConnect(t, b, "unsub", "", true, 60*time.Second)
	ch := pahoSubscribe(t, c, "u/+", 1)
	c.Publish("u/1", 1, false, "one").WaitTimeout(5 * time.Second)
	if m := recvMsg(t, ch); string(m.Payload()) != "one" {
		t.Fatalf("got %q", m.Payload())
	}
	m := b.Mark()
	if tok := c.Unsubscribe("u/+"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("unsubscribe: %v", tok.Error())
	}
	b.waitLines(t, m, q("Received UNSUBSCRIBE from unsub"), q("\tu/+"), q("unsub u/+"), q("Sending UNSUBACK to unsub"))
	m2 := b.Mark()
	c.Publish("u/1", 1, false, "two").WaitTimeout(5 * time.Second)
	b.WaitLogFrom(t, m2, `^Sending PUBACK to unsub \(m\d+, rc0\)$`, 5*time.Second)
	select {
	case msg := <-ch:
		t.Fatalf("delivered after unsubscribe: %s", msg.Payload())
	case <-time.After(quiet):
	}
	// Counted from m2, taken once the UNSUBACK line was read: the line for
	// the delivery of "one" may be logged after the client already had it.
	if n := b.countLines(m2, `^Sending PUBLISH to unsub`); n != 0 {
		t.Fatalf("%d Sending PUBLISH lines after unsubscribe", n)
	}
}

// TestWildcards checks + and # matching, a/# matching a, and that $ topics
// are not matched by a leading wildcard [MQTT-4.7.2-1]. The $SYS message is
// a log line published by log_dest topic.
func TestWildcards(t *testing.T) {
	t.Parallel()
	// Default log types only: debug lines sent to $SYS would log more lines.
	b := StartBroker(t, "log_dest stderr\nlog_dest topic\n")
	filters := []string{"#", "+/x", "a/#", "a/+", "+", "a/+/c", "+/+", "$foo/#", "$SYS/broker/log/#", "+/broker/log/#"}
	subs := map[string]*rawClient{}
	for i, f := range filters {
		r := mustConnect(t, b, fmt.Sprintf("w%d", i), true)
		r.subscribe(1, 0, f)
		subs[f] = r
	}
	pub := mustConnect(t, b, "wpub", true)
	topics := []string{"a", "a/b", "a/b/c", "/x", "x", "$foo/x", "a//c"}
	for _, tp := range topics {
		pub.publish(&packet.Publish{Topic: tp, Payload: []byte(tp)})
	}
	pub.ping() // every publish has been routed
	want := map[string][]string{
		"#":      {"a", "a/b", "a/b/c", "/x", "x", "a//c"}, // not $foo/x
		"+/x":    {"/x"},                                   // not $foo/x
		"a/#":    {"a", "a/b", "a/b/c", "a//c"},            // a/# matches a [MQTT-4.7.1-2]
		"a/+":    {"a/b"},
		"+":      {"a", "x"},
		"a/+/c":  {"a/b/c", "a//c"}, // + matches an empty level
		"+/+":    {"a/b", "/x"},
		"$foo/#": {"$foo/x"},
	}
	for f, topics := range want {
		r := subs[f]
		for _, tp := range topics {
			if p := r.expectPublish(); p.Topic != tp {
				t.Fatalf("filter %s: got %s, want %s", f, p.Topic, tp) // never a $ topic for + or #
			}
		}
		r.expectNothing()
	}
	// $SYS log messages: only the filter that names $SYS literally.
	if p := subs["$SYS/broker/log/#"].expectPublish(); !strings.HasPrefix(p.Topic, "$SYS/broker/log/") {
		t.Fatalf("$SYS filter got %s", p.Topic)
	}
	subs["+/broker/log/#"].expectNothing()
}

// TestOverlappingSubscriptions: a v3 client with overlapping filters gets one
// copy, from the first match in tree order (literal, then +, then #, deeper
// literal levels first); allow_duplicate_messages true gives one per filter.
func TestOverlappingSubscriptions(t *testing.T) {
	t.Parallel()
	t.Run("one copy", func(t *testing.T) {
		t.Parallel()
		b := StartBroker(t, logAll)
		r := mustConnect(t, b, "ov", true)
		r.subscribe(1, 0, "o/#")
		r.subscribe(2, 2, "o/b")
		r.subscribe(3, 1, "+/c")
		pub := mustConnect(t, b, "ovpub", true)
		m := b.Mark()
		pub.publish(&packet.Publish{Topic: "o/b", QoS: 2, PacketID: 1, Payload: []byte("b")})
		pub.expectAck(packet.PUBREC, 1)
		pub.ack(packet.PUBREL, 1)
		// o/b is met before o/#: delivered once at QoS 2.
		if p := r.expectPublish(); p.QoS != 2 {
			t.Fatalf("o/b delivered at QoS %d, want 2 (first match o/b)", p.QoS)
		}
		r.expectNothing()
		// o/# (under the literal o) comes before the root + of +/c: QoS 0.
		pub.publish(&packet.Publish{Topic: "o/c", QoS: 1, PacketID: 2, Payload: []byte("c")})
		if p := r.expectPublish(); p.QoS != 0 {
			t.Fatalf("o/c delivered at QoS %d, want 0 (first match o/#)", p.QoS)
		}
		r.expectNothing()
		if n := b.countLines(m, `^Sending PUBLISH to ov `); n != 2 {
			t.Fatalf("%d Sending PUBLISH lines, want 2", n)
		}
	})
	t.Run("allow_duplicate_messages", func(t *testing.T) {
		t.Parallel()
		b := StartBroker(t, "allow_duplicate_messages true\n"+logAll)
		r := mustConnect(t, b, "dup", true)
		r.subscribe(1, 0, "o/#")
		r.subscribe(2, 1, "o/b")
		r.subscribe(3, 1, "+/b")
		pub := mustConnect(t, b, "duppub", true)
		pub.publish(&packet.Publish{Topic: "o/b", QoS: 1, PacketID: 1, Payload: []byte("b")})
		var got []byte
		for i := 0; i < 3; i++ {
			got = append(got, r.expectPublish().QoS)
		}
		r.expectNothing()
		if !bytes.Equal(got, []byte{1, 0, 1}) {
			// Tree order: o/b, o/#, then +/b.
			t.Fatalf("QoS of copies %v, want [1 0 1]", got)
		}
	})
}

// TestRetained: set, replace and clear with mosquitto_pub; delivery on
// subscribe with retain 1 (on every re-subscribe for v3), live with retain 0.
func TestRetained(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	mosquittoPub(t, b, "-i", "rpub", "-t", "ret/a", "-m", "v1", "-r", "-q", "1")
	if got := mosquittoSub(t, b, 1, "-t", "ret/#"); got[0] != "ret/a v1" {
		t.Fatalf("retained %q", got)
	}
	mosquittoPub(t, b, "-i", "rpub", "-t", "ret/a", "-m", "v2", "-r")

	r := mustConnect(t, b, "rsub", true)
	m := b.Mark()
	r.subscribe(1, 1, "ret/#")
	p := r.expectPublish()
	if !p.Retain || string(p.Payload) != "v2" || p.QoS != 0 {
		t.Fatalf("on subscribe: %#v (want retain 1, v2, QoS min(0,1))", p)
	}
	b.WaitLogFrom(t, m, q("Sending PUBLISH to rsub (d0, q0, r1, m0, 'ret/a', ... (2 bytes))"), 5*time.Second)
	// v3: retained messages again on every SUBSCRIBE, even of the same filter.
	r.subscribe(2, 1, "ret/#")
	if p := r.expectPublish(); !p.Retain || string(p.Payload) != "v2" {
		t.Fatalf("on re-subscribe: %#v", p)
	}
	// Live forwarding of a retained publish has retain 0.
	mosquittoPub(t, b, "-i", "rpub", "-t", "ret/a", "-m", "v3", "-r", "-q", "1")
	if p := r.expectPublish(); p.Retain || string(p.Payload) != "v3" {
		t.Fatalf("live: %#v", p)
	}
	// An empty retained payload clears it and is still forwarded.
	mosquittoPub(t, b, "-i", "rpub", "-t", "ret/a", "-n", "-r")
	if p := r.expectPublish(); p.Retain || len(p.Payload) != 0 {
		t.Fatalf("clear: %#v", p)
	}
	r2 := mustConnect(t, b, "rsub2", true)
	r2.subscribe(1, 1, "ret/#")
	r2.expectNothing()
}

// TestWills: the will is published on every close but DISCONNECT
// (reference §6.12), with its retain flag.
func TestWills(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	watch := mustConnect(t, b, "watch", true)
	watch.subscribe(1, 1, "will/#")
	withWill := func(id, wt string, retain bool, ka uint16) *rawClient {
		r := dialRaw(t, b.Addr)
		ack := r.connect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: ka, WillFlag: true,
			WillTopic: wt, WillPayload: []byte("gone " + id), WillQoS: 1, WillRetain: retain})
		if ack.Code != 0 {
			t.Fatalf("CONNACK %d", ack.Code)
		}
		return r
	}
	expectWill := func(wt string) {
		t.Helper()
		p := watch.expectPublish()
		if p.Topic != wt || p.Retain {
			t.Fatalf("will %#v, want %s live (retain 0)", p, wt)
		}
		watch.ack(packet.PUBACK, p.PacketID)
	}

	t.Run("socket close", func(t *testing.T) {
		m := b.Mark()
		r := withWill("w-close", "will/close", false, 60)
		b.waitLines(t, m, q("Will message specified (12 bytes) (r0, q1)."), q("\twill/close"))
		r.nc.Close()
		expectWill("will/close")
		b.WaitLogFrom(t, m, q("Client w-close closed its connection."), 5*time.Second)
	})
	t.Run("keepalive timeout", func(t *testing.T) {
		m := b.Mark()
		withWill("w-ka", "will/ka", false, 1)
		expectWill("will/ka")
		b.WaitLogFrom(t, m, q("Client w-ka has exceeded timeout, disconnecting."), 5*time.Second)
	})
	t.Run("protocol error", func(t *testing.T) {
		m := b.Mark()
		r := withWill("w-proto", "will/proto", false, 60)
		r.send(packet.AppendConnect(nil, &packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, Version: 4, ClientID: "w-proto", CleanStart: true}))
		expectWill("will/proto")
		b.waitLines(t, m, q("Bad client w-proto sending multiple CONNECT messages."),
			q("Client w-proto disconnected due to protocol error."))
	})
	t.Run("not after DISCONNECT", func(t *testing.T) {
		m := b.Mark()
		withWill("w-clean", "will/clean", false, 60).disconnect()
		b.WaitLogFrom(t, m, q("Client w-clean disconnected."), 5*time.Second)
		watch.expectNothing()
	})
	t.Run("retained will", func(t *testing.T) {
		withWill("w-ret", "will/ret", true, 60).nc.Close()
		expectWill("will/ret")
		late := mustConnect(t, b, "late", true)
		late.subscribe(1, 1, "will/ret")
		if p := late.expectPublish(); !p.Retain || string(p.Payload) != "gone w-ret" || p.QoS != 1 {
			t.Fatalf("retained will %#v", p)
		}
	})
}

// TestKeepaliveTimeout: a client silent for 1.5 x keepalive is dropped
// [MQTT-3.1.2-24] without a DISCONNECT; one that pings stays.
func TestKeepaliveTimeout(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	pinger, _ := rawConnect(t, b, "pinger", true, 1)
	stop := make(chan struct{})
	pingDone := make(chan struct{})
	go func() {
		defer close(pingDone)
		tk := time.NewTicker(400 * time.Millisecond) // client behaviour: ping well within the keepalive
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				pinger.nc.Write(packet.AppendPingreq(nil))
			}
		}
	}()

	m := b.Mark()
	r, _ := rawConnect(t, b, "sleepy", true, 2)
	start := time.Now()
	r.expectClosed(6 * time.Second)
	el := time.Since(start)
	if el < 2900*time.Millisecond || el > 4500*time.Millisecond {
		t.Fatalf("dropped after %v, want about 3s (1.5 x 2s)", el)
	}
	b.WaitLogFrom(t, m, q("Client sleepy has exceeded timeout, disconnecting."), 5*time.Second)
	close(stop)
	<-pingDone
	if n := b.countLines(0, `^Client pinger `); n != 0 {
		t.Fatalf("pinger was disconnected")
	}
}

// TestNoConnectDropped: a socket that never sends CONNECT is closed after
// connect_timeout (midge option; Mosquitto's fixed value is about 90 s).
func TestNoConnectDropped(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "connect_timeout 1\n"+logAll)
	m := b.Mark()
	r := dialRaw(t, b.Addr)
	start := time.Now()
	r.expectClosed(5 * time.Second)
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("closed after %v, before connect_timeout", el)
	}
	b.waitLines(t, m, `^New connection from 127\.0\.0\.1:\d+ on port \d+\.$`,
		q("Client <unknown> has exceeded timeout, disconnecting."))
}

// TestSessionTakeover: a second CONNECT with the same id closes the first
// connection, with no disconnect line for it (reference §6.2, §1.11).
func TestSessionTakeover(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	old := mustConnect(t, b, "cli-c", false)
	old.subscribe(1, 1, "take/#")
	takeOver(t, b, "cli-c", old)
}

// takeOver connects again as id, whose connection old is subscribed to
// take/#, and checks the takeover: old closed with Mosquitto's lines and
// none of its own, the session and its subscription moved to the new
// connection.
func takeOver(t *testing.T, b *Broker, id string, old *rawClient) {
	t.Helper()
	m := b.Mark()
	nw, ack := rawConnect(t, b, id, false, 10)
	if ack.Code != 0 || !ack.SessionPresent {
		t.Fatalf("CONNACK %+v, want 0 with session present", ack)
	}
	old.expectClosed(5 * time.Second)
	b.waitLines(t, m, `^New connection from 127\.0\.0\.1:\d+ on port \d+\.$`,
		q("Client "+id+" already connected, closing old connection."),
		`^New client connected from 127\.0\.0\.1:\d+ as `+regexp.QuoteMeta(id)+` \(p2, c0, k10\)\.$`,
		q("Sending CONNACK to "+id+" (1, 0)"))
	// The subscription moved to the new connection.
	pub := mustConnect(t, b, id+"-pub", true)
	pub.publish(&packet.Publish{Topic: "take/1", QoS: 1, PacketID: 1, Payload: []byte("x")})
	if p := nw.expectPublish(); p.Topic != "take/1" {
		t.Fatalf("got %#v", p)
	}
	pub.disconnect()
	b.WaitLogFrom(t, m, q("Client "+id+"-pub disconnected."), 5*time.Second)
	if n := b.countLines(m, `^Client `+regexp.QuoteMeta(id)+` (disconnected|closed|has exceeded)`); n != 0 {
		t.Fatalf("%d disconnect lines for the taken-over connection", n)
	}
}

// TestPersistentSession: clean session 0 keeps subscriptions and queues QoS
// 1/2 (not 0) while offline; CONNACK has session present 1.
func TestPersistentSession(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	r := mustConnect(t, b, "pers", false)
	r.subscribe(1, 2, "p/#")
	r.disconnect()

	pub := pahoConnect(t, b, "ppub", "", true, 60*time.Second)
	for i, qos := range []byte{1, 0, 2, 1} {
		if tok := pub.Publish(fmt.Sprintf("p/%d", i), qos, false, fmt.Sprint(i)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	m := b.Mark()
	r2, ack := rawConnect(t, b, "pers", false, 60)
	if ack.Code != 0 || !ack.SessionPresent {
		t.Fatalf("CONNACK %+v, want session present", ack)
	}
	for _, want := range []struct {
		topic string
		qos   byte
		mid   uint16
	}{{"p/0", 1, 1}, {"p/2", 2, 2}, {"p/3", 1, 3}} {
		p := r2.expectPublish()
		if p.Topic != want.topic || p.QoS != want.qos || p.PacketID != want.mid || p.Dup {
			t.Fatalf("got %s q%d m%d dup %v, want %+v", p.Topic, p.QoS, p.PacketID, p.Dup, want)
		}
	}
	r2.expectNothing()
	b.waitLines(t, m, q("Sending CONNACK to pers (1, 0)"),
		q("Sending PUBLISH to pers (d0, q1, r0, m1, 'p/0', ... (1 bytes))"))

	// A clean session 1 reconnect discards it.
	r2.disconnect()
	r3, ack := rawConnect(t, b, "pers", true, 60)
	if ack.SessionPresent {
		t.Fatal("session present after clean start")
	}
	r3.expectNothing()
}

// TestInflightResentWithDup: unacknowledged QoS 1/2 are re-sent with DUP 1
// on reconnect; a QoS 2 already PUBREC'd gets its PUBREL again.
func TestInflightResentWithDup(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, logAll)
	r := mustConnect(t, b, "dupc", false)
	r.subscribe(1, 2, "d/#")
	pub := mustConnect(t, b, "duppub", true)
	pub.publish(&packet.Publish{Topic: "d/1", QoS: 1, PacketID: 1, Payload: []byte("one")})
	pub.publish(&packet.Publish{Topic: "d/2", QoS: 2, PacketID: 2, Payload: []byte("two")})
	pub.expectAck(packet.PUBACK, 1)
	pub.expectAck(packet.PUBREC, 2)
	pub.ack(packet.PUBREL, 2)
	pub.expectAck(packet.PUBCOMP, 2)
	p1, p2 := r.expectPublish(), r.expectPublish()
	r.nc.Close() // no acks

	m := b.Mark()
	r2, ack := rawConnect(t, b, "dupc", false, 60)
	if !ack.SessionPresent {
		t.Fatal("no session present")
	}
	for _, want := range []*packet.Publish{p1, p2} {
		p := r2.expectPublish()
		if !p.Dup || p.PacketID != want.PacketID || p.Topic != want.Topic || p.QoS != want.QoS {
			t.Fatalf("re-sent %#v, want DUP copy of %#v", p, want)
		}
	}
	b.waitLines(t, m, q("Sending PUBLISH to dupc (d1, q1, r0, m1, 'd/1', ... (3 bytes))"),
		q("Sending PUBLISH to dupc (d1, q2, r0, m2, 'd/2', ... (3 bytes))"))
	r2.ack(packet.PUBACK, 1)
	r2.ack(packet.PUBREC, 2)
	r2.expectAck(packet.PUBREL, 2)
	r2.nc.Close() // PUBREL not completed

	m = b.Mark()
	r3, _ := rawConnect(t, b, "dupc", false, 60)
	r3.expectAck(packet.PUBREL, 2)
	r3.ack(packet.PUBCOMP, 2)
	r3.expectNothing()
	b.waitLines(t, m, q("Sending CONNACK to dupc (1, 0)"), q("Sending PUBREL to dupc (m2)"),
		q("Received PUBCOMP from dupc (Mid: 2, RC:0)"))
}

// TestMessageOrdering: 1000 QoS 1 messages arrive in order.
func TestMessageOrdering(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "")
	sub := pahoConnect(t, b, "osub", "", true, 60*time.Second)
	ch := pahoSubscribe(t, sub, "order", 1)
	pub := pahoConnect(t, b, "opub", "", true, 60*time.Second)
	const n = 1000
	toks := make([]paho.Token, n)
	for i := range toks {
		toks[i] = pub.Publish("order", 1, false, fmt.Sprint(i))
	}
	for i := 0; i < n; i++ {
		m := recvMsg(t, ch)
		if string(m.Payload()) != fmt.Sprint(i) {
			t.Fatalf("message %d: got %s", i, m.Payload())
		}
	}
	for _, tok := range toks {
		tok.WaitTimeout(5 * time.Second)
	}
}

var assignedIDPattern = `auto-[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}`

// TestClientIDRules: empty client ids (reference §6.7).
func TestClientIDRules(t *testing.T) {
	t.Parallel()
	t.Run("assigned", func(t *testing.T) {
		t.Parallel()
		b := StartBroker(t, logAll)
		m := b.Mark()
		r, ack := rawConnect(t, b, "", true, 60)
		if ack.Code != 0 {
			t.Fatalf("CONNACK %d", ack.Code)
		}
		r.ping()
		l := b.WaitLogFrom(t, m, `^New client connected from 127\.0\.0\.1:\d+ as `+assignedIDPattern+` \(p2, c1, k60\)\.$`, 5*time.Second)
		id := regexp.MustCompile(assignedIDPattern).FindString(l)
		b.WaitLogFrom(t, m, q("Sending CONNACK to "+id+" (0, 0)"), 5*time.Second)
	})
	t.Run("clean 0 refused", func(t *testing.T) {
		t.Parallel()
		b := StartBroker(t, logAll)
		m := b.Mark()
		r, ack := rawConnect(t, b, "", false, 60)
		if ack.Code != 2 { // [MQTT-3.1.3-8]
			t.Fatalf("CONNACK %d, want 2", ack.Code)
		}
		r.expectClosed(5 * time.Second)
		b.waitLines(t, m, q("Sending CONNACK to 127.0.0.1 (0, 2)"), q("Client <unknown> disconnected due to protocol error."))
	})
	t.Run("allow_zero_length_clientid false", func(t *testing.T) {
		t.Parallel()
		b := StartBroker(t, "allow_zero_length_clientid false\n"+logAll)
		r, ack := rawConnect(t, b, "", true, 60)
		if ack.Code != 2 {
			t.Fatalf("CONNACK %d, want 2", ack.Code)
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("MQTT 3.1", func(t *testing.T) {
		t.Parallel()
		b := StartBroker(t, logAll)
		r := dialRaw(t, b.Addr)
		ack := r.connect(&packet.Connect{ProtocolName: "MQIsdp", ProtocolLevel: 3, Version: 3, CleanStart: true, KeepAlive: 60})
		if ack.Code != 2 {
			t.Fatalf("CONNACK %d, want 2", ack.Code)
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("auto_id_prefix", func(t *testing.T) {
		t.Parallel()
		b := StartBroker(t, "auto_id_prefix midge-\n"+logAll)
		m := b.Mark()
		r, ack := rawConnect(t, b, "", true, 60)
		if ack.Code != 0 {
			t.Fatalf("CONNACK %d", ack.Code)
		}
		r.ping()
		b.WaitLogFrom(t, m, `as midge-[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12} \(p2, c1, k60\)\.$`, 5*time.Second)
	})
}
