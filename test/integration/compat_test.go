package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// The compat test runs one scripted scenario against Debian's mosquitto
// (2.0.11, /usr/sbin/mosquitto) and against midge with the same config, then
// compares the two logs line for line. Debian ships 2.0.11 while midge
// follows 2.0.20, so the mosquitto log first goes through compatRewrites, a
// table of the documented 2.0.11-vs-2.0.20 differences (reference §10 and
// §1.10); everything else must be identical.

const debianMosquitto = "/usr/sbin/mosquitto"

// compatWait bounds every wait for a log line; the keepalive step has its
// own, longer bound because Mosquitto checks keepalives about every 5 s.
const compatWait = 5 * time.Second

// compatRewrite turns one line of Debian's 2.0.11 into its 2.0.20 form.
type compatRewrite struct {
	re   *regexp.Regexp
	repl string
	why  string
}

// compatRewrites are the known differences between the installed 2.0.11 and
// 2.0.20, which midge follows. Each rewrites a (normalised) 2.0.11 line into
// what 2.0.20 prints. docs/COMPAT.md lists the same table.
var compatRewrites = []compatRewrite{
	{
		// Reference §1.1 and §10 "Failed-auth log line": since 2.0.13 the
		// client id is kept when authentication fails; 2.0.0-2.0.12 freed it
		// first and printed <unknown>. The scenario's only refused login is
		// cmp-anon, so the id is restored from it.
		re:   regexp.MustCompile(`^Client <unknown> disconnected, not authorised\.$`),
		repl: "Client cmp-anon disconnected, not authorised.",
		why:  "§1.1/§10: 2.0.13+ keeps the client id on failed auth",
	},
	{
		// Same 2.0.13 change, seen in the CONNACK line: §1.5 prints the
		// client id, or the peer IP "if no id is set yet"; 2.0.20 keeps the
		// id (§1.4 [observed] "Sending CONNACK to cli-pw (0, 5)"), 2.0.11 has
		// already freed it and prints the IP.
		re:   regexp.MustCompile(`^Sending CONNACK to IP \(0, 5\)$`),
		repl: "Sending CONNACK to cmp-anon (0, 5)",
		why:  "§1.1/§1.4/§10: 2.0.13+ keeps the client id on failed auth",
	},
	{
		// Reference §1.10 (history table, ">=2.0.12") and §10
		// "NOT_SUPPORTED disconnect text".
		re:   regexp.MustCompile(`^Client (\S+) disconnected due to QoS too high or retain not supported\.$`),
		repl: "Client $1 disconnected due to using not allowed feature (QoS too high, retain not supported, or bad AUTH method).",
		why:  "§1.10/§10: the not-allowed-feature text changed in 2.0.12",
	},
}

// compatPhase is one broker run: a config and the script driven against it.
type compatPhase struct {
	name string
	conf string // added after the listener, allow_anonymous, log and user lines
	anon bool   // allow_anonymous
	run  func(t *testing.T, b *Broker)
}

var compatPhases = []compatPhase{
	{name: "core", conf: "message_size_limit 64\n", anon: true, run: compatCore},
	{name: "refusals", conf: "retain_available false\n", anon: false, run: compatRefusals},
}

func TestCompatDebianMosquitto(t *testing.T) {
	if _, err := os.Stat(debianMosquitto); err != nil {
		t.Skipf("Debian's mosquitto is not installed (%s): apt-get install mosquitto to run the compat test", debianMosquitto)
	}
	for _, ph := range compatPhases {
		t.Run(ph.name, func(t *testing.T) {
			var logs [2][]string
			for i, bin := range []string{debianMosquitto, midgeBin} {
				name := "mosquitto"
				if i == 1 {
					name = "midge"
				}
				t.Run(name, func(t *testing.T) {
					b := startCompatBroker(t, bin, ph.conf, ph.anon)
					ph.run(t, b)
					b.Stop()
					b.WaitLog(t, `^mosquitto version \S+ terminating$`, compatWait)
					logs[i] = b.Lines()
				})
				if t.Failed() {
					return
				}
			}
			var applied []string
			want := compatNormalise(logs[0], true, &applied)
			got := compatNormalise(logs[1], false, nil)
			if testing.Verbose() {
				t.Logf("2.0.11 lines rewritten to 2.0.20:\n  %s", strings.Join(applied, "\n  "))
				t.Logf("compared %d lines:\n%s", len(got), strings.Join(got, "\n"))
			}
			if d := compatDiff(want, got); d != "" {
				t.Errorf("midge's log differs from Mosquitto's (- mosquitto 2.0.11 rewritten to 2.0.20, + midge):\n%s", d)
			}
		})
	}
}

// startCompatBroker starts bin (mosquitto or midge) with the compat config
// and waits until it accepts connections.
func startCompatBroker(t *testing.T, bin, extra string, anon bool) *Broker {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous %v\nlog_type all\nlog_dest stderr\n", port, anon)
	if os.Geteuid() == 0 {
		// Mosquitto drops privileges to user mosquitto when started as root;
		// stay root so both brokers behave (and log) the same.
		conf += "user root\n"
	}
	conf += extra
	path := filepath.Join(dir, "compat.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b := startBin(t, bin, "-c", path)
	b.Port, b.Addr, b.Dir = port, fmt.Sprintf("127.0.0.1:%d", port), dir
	// Mosquitto logs "Opening ipv4 listen socket" before it listens, so
	// wait for "running" (both brokers print it once listeners are up).
	b.WaitLog(t, `^mosquitto version \S+ running$`, 10*time.Second)
	return b
}

var (
	compatVersionRE = regexp.MustCompile(`^mosquitto version \S+ (starting|running|terminating)$`)
	compatConfRE    = regexp.MustCompile(`^Config loaded from .*\.$`)
	compatAutoIDRE  = regexp.MustCompile(`\bauto-[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\b`)
)

// compatNormalise removes what legitimately differs between two runs
// (timestamps are already gone: Lines strips them) and, for Mosquitto's
// log (rewrite true), applies compatRewrites, noting each use in applied.
func compatNormalise(lines []string, rewrite bool, applied *[]string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = compatVersionRE.ReplaceAllString(l, "mosquitto version X $1")
		l = compatConfRE.ReplaceAllString(l, "Config loaded from CONF.")
		l = compatAutoIDRE.ReplaceAllString(l, "auto-ID")
		l = normalise(l)
		if rewrite {
			for _, rw := range compatRewrites {
				if rw.re.MatchString(l) {
					l = rw.re.ReplaceAllString(l, rw.repl)
					if applied != nil {
						*applied = append(*applied, rw.why+": "+l)
					}
				}
			}
		}
		out = append(out, l)
	}
	return out
}

// compatDiff returns a readable diff of two line lists (longest common
// subsequence), or "" when they are equal.
func compatDiff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	same := true
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			fmt.Fprintf(&sb, "   %s\n", a[i])
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&sb, " + %s\n", b[j])
			j, same = j+1, false
		default:
			fmt.Fprintf(&sb, " - %s\n", a[i])
			i, same = i+1, false
		}
	}
	if same {
		return ""
	}
	return sb.String()
}

// ---- the scenario --------------------------------------------------------

// recv reads one packet and checks its type.
func compatRecv[T any](t *testing.T, r *rawClient) T {
	t.Helper()
	p := r.read(compatWait)
	v, ok := p.(T)
	if !ok {
		var zero T
		t.Fatalf("expected %T, got %T", zero, p)
	}
	return v
}

func compatPublish(r *rawClient, topic string, qos byte, retain bool, mid uint16, payload string) {
	r.send(packet.AppendPublish(nil, r.v, &packet.Publish{QoS: qos, Retain: retain, Topic: topic, PacketID: mid, Payload: []byte(payload)}))
}

func compatAck(r *rawClient, typ packet.Type, mid uint16) {
	r.send(packet.AppendAck(nil, r.v, &packet.Ack{Type: typ, PacketID: mid}))
}

// compatDeliverQoS1 reads a QoS 1 PUBLISH on r and acknowledges it.
func compatDeliverQoS1(t *testing.T, r *rawClient, topic string) {
	t.Helper()
	p := compatRecv[*packet.Publish](t, r)
	if p.Topic != topic || p.QoS != 1 {
		t.Fatalf("got PUBLISH %q q%d, want %q q1", p.Topic, p.QoS, topic)
	}
	compatAck(r, packet.PUBACK, p.PacketID)
}

// compatTool runs mosquitto_pub or mosquitto_sub against b.
func compatTool(t *testing.T, b *Broker, tool string, args ...string) {
	t.Helper()
	args = append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(b.Port)}, args...)
	cmd := exec.Command(tool, args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(compatWait):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish within %v", tool, compatWait)
	}
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

// compatCore is the main scenario: it is driven identically against both
// brokers, one client action at a time, each followed by a wait for the
// last log line that action produces.
func compatCore(t *testing.T, b *Broker) {
	mark := b.Mark()
	waitNew := func(pattern string) {
		t.Helper()
		b.WaitLogFrom(t, mark, pattern, compatWait)
		mark = b.Mark()
	}

	// MQTT 3.1.1 subscriber with a username.
	sub := dialRaw(t, b.Addr)
	if ack := sub.connect(&packet.Connect{ClientID: "cmp-sub", KeepAlive: 60, CleanStart: true, Username: "alice"}); ack.Code != 0 {
		t.Fatalf("cmp-sub CONNACK %d", ack.Code)
	}
	waitNew(`^Sending CONNACK to cmp-sub `)

	// Several filters, QoS 0/1/2.
	sub.send(packet.AppendSubscribe(nil, sub.v, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{
		{Filter: "cmp/a", Options: packet.SubOptions{QoS: 0}},
		{Filter: "cmp/b", Options: packet.SubOptions{QoS: 1}},
		{Filter: "cmp/c/+", Options: packet.SubOptions{QoS: 2}},
		{Filter: "will/#", Options: packet.SubOptions{QoS: 1}},
	}}))
	compatRecv[*packet.Suback](t, sub)
	waitNew(`^Sending SUBACK to cmp-sub$`)

	// MQTT 3.1 (MQIsdp) publisher without a username.
	pub := dialRaw(t, b.Addr)
	if ack := pub.connect(&packet.Connect{ProtocolName: "MQIsdp", ProtocolLevel: 3, Version: packet.V31, ClientID: "cmp-pub31", KeepAlive: 60, CleanStart: true}); ack.Code != 0 {
		t.Fatalf("cmp-pub31 CONNACK %d", ack.Code)
	}
	waitNew(`^Sending CONNACK to cmp-pub31 `)

	// QoS 0 in and out.
	compatPublish(pub, "cmp/a", 0, false, 0, "zero")
	compatRecv[*packet.Publish](t, sub)
	waitNew(`^Sending PUBLISH to cmp-sub .*'cmp/a'`)

	// QoS 1 in and out.
	compatPublish(pub, "cmp/b", 1, false, 10, "one")
	compatRecv[*packet.Ack](t, pub)
	waitNew(`^Sending PUBACK to cmp-pub31 `)
	compatDeliverQoS1(t, sub, "cmp/b")
	waitNew(`^Received PUBACK from cmp-sub `)

	// QoS 2 in (delivered on PUBREL) and out.
	compatPublish(pub, "cmp/c/x", 2, false, 11, "two")
	compatRecv[*packet.Ack](t, pub) // PUBREC
	waitNew(`^Sending PUBREC to cmp-pub31 `)
	compatAck(pub, packet.PUBREL, 11)
	compatRecv[*packet.Ack](t, pub) // PUBCOMP
	waitNew(`^Sending PUBCOMP to cmp-pub31 `)
	p := compatRecv[*packet.Publish](t, sub)
	compatAck(sub, packet.PUBREC, p.PacketID)
	compatRecv[*packet.Ack](t, sub) // PUBREL
	waitNew(`^Sending PUBREL to cmp-sub `)
	compatAck(sub, packet.PUBCOMP, p.PacketID)
	waitNew(`^Received PUBCOMP from cmp-sub `)

	// Retained message, then a subscription that receives it.
	compatPublish(pub, "cmp/r", 1, true, 12, "kept")
	compatRecv[*packet.Ack](t, pub)
	waitNew(`^Sending PUBACK to cmp-pub31 `)
	sub.send(packet.AppendSubscribe(nil, sub.v, &packet.Subscribe{PacketID: 2, Subscriptions: []packet.Subscription{
		{Filter: "cmp/r", Options: packet.SubOptions{QoS: 1}},
	}}))
	for got := 0; got < 2; got++ { // SUBACK and the retained PUBLISH
		switch p := sub.read(compatWait).(type) {
		case *packet.Suback:
		case *packet.Publish:
			compatAck(sub, packet.PUBACK, p.PacketID)
		default:
			t.Fatalf("expected SUBACK or PUBLISH, got %T", p)
		}
	}
	waitNew(`^Received PUBACK from cmp-sub `)

	// Unsubscribe two filters.
	sub.send(packet.AppendUnsubscribe(nil, sub.v, &packet.Unsubscribe{PacketID: 3, Filters: []string{"cmp/a", "cmp/r"}}))
	compatRecv[*packet.Unsuback](t, sub)
	waitNew(`^Sending UNSUBACK to cmp-sub$`)

	// PINGREQ.
	sub.send(packet.AppendPingreq(nil))
	compatRecv[*packet.Pingresp](t, sub)
	waitNew(`^Sending PINGRESP to cmp-sub$`)

	// A publish nobody is subscribed to any more.
	compatPublish(pub, "cmp/a", 0, false, 0, "nobody")
	waitNew(`^Received PUBLISH from cmp-pub31 .*'cmp/a'`)

	// DISCONNECT.
	pub.send(packet.AppendDisconnect(nil, pub.v, &packet.Disconnect{}))
	waitNew(`^Client cmp-pub31 disconnected\.$`)

	// A will, published when the socket closes without DISCONNECT.
	will := dialRaw(t, b.Addr)
	will.connect(&packet.Connect{ClientID: "cmp-will", KeepAlive: 60, CleanStart: true,
		WillFlag: true, WillQoS: 1, WillTopic: "will/cmp", WillPayload: []byte("gone")})
	waitNew(`^Sending CONNACK to cmp-will `)
	will.nc.Close()
	compatDeliverQoS1(t, sub, "will/cmp")
	waitNew(`^Received PUBACK from cmp-sub `)

	// Takeover: the same id connects again; the old client's will goes out.
	old := dialRaw(t, b.Addr)
	old.connect(&packet.Connect{ClientID: "cmp-take", KeepAlive: 60, CleanStart: true,
		WillFlag: true, WillQoS: 1, WillTopic: "will/take", WillPayload: []byte("taken")})
	waitNew(`^Sending CONNACK to cmp-take `)
	taker := dialRaw(t, b.Addr)
	taker.connect(&packet.Connect{ClientID: "cmp-take", KeepAlive: 60, CleanStart: true})
	old.expectClosed(compatWait)
	compatDeliverQoS1(t, sub, "will/take")
	waitNew(`^Received PUBACK from cmp-sub `)
	taker.send(packet.AppendDisconnect(nil, taker.v, &packet.Disconnect{}))
	waitNew(`^Client cmp-take disconnected\.$`)

	// Keepalive 1: dropped after 1.5 s of silence (Mosquitto checks about
	// every 5 s).
	ka := dialRaw(t, b.Addr)
	ka.connect(&packet.Connect{ClientID: "cmp-ka", KeepAlive: 1, CleanStart: true})
	b.WaitLogFrom(t, mark, `^Client cmp-ka has exceeded timeout, disconnecting\.$`, 15*time.Second)
	mark = b.Mark()

	// Empty client id, MQTT 3.1.1: an auto- id is generated.
	anon := dialRaw(t, b.Addr)
	if ack := anon.connect(&packet.Connect{KeepAlive: 60, CleanStart: true}); ack.Code != 0 {
		t.Fatalf("empty id v3.1.1: CONNACK %d", ack.Code)
	}
	anon.send(packet.AppendDisconnect(nil, anon.v, &packet.Disconnect{}))
	waitNew(`^Client auto-\S+ disconnected\.$`)

	// Empty client id, MQTT 3.1: identifier rejected.
	e31 := dialRaw(t, b.Addr)
	if ack := e31.connect(&packet.Connect{ProtocolName: "MQIsdp", ProtocolLevel: 3, Version: packet.V31, KeepAlive: 60, CleanStart: true}); ack.Code != 2 {
		t.Fatalf("empty id v3.1: CONNACK %d, want 2", ack.Code)
	}
	e31.expectClosed(compatWait)
	waitNew(`^Client <unknown> disconnected due to protocol error\.$`)

	// Bad protocol version: MQTT level 7.
	bv := dialRaw(t, b.Addr)
	if ack := bv.connect(&packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 7, Version: 7, ClientID: "cmp-v7", KeepAlive: 60, CleanStart: true}); ack.Code != 1 {
		t.Fatalf("protocol level 7: CONNACK %d, want 1", ack.Code)
	}
	bv.expectClosed(compatWait)
	waitNew(`^Client <unknown> disconnected due to protocol error\.$`)

	// Bad protocol name "MQTX" (level 4, clean, k60, id "cmp-x").
	bn := dialRaw(t, b.Addr)
	bn.send([]byte{0x10, 17, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 60, 0, 5, 'c', 'm', 'p', '-', 'x'})
	bn.expectClosed(compatWait)
	waitNew(`^Client <unknown> disconnected due to protocol error\.$`)

	// A second CONNECT on an active connection.
	twice := dialRaw(t, b.Addr)
	c2 := &packet.Connect{ClientID: "cmp-twice", KeepAlive: 60, CleanStart: true}
	twice.connect(c2)
	twice.send(packet.AppendConnect(nil, c2))
	twice.expectClosed(compatWait)
	waitNew(`^Client cmp-twice disconnected due to protocol error\.$`)

	// message_size_limit 64: QoS 0, 1 and 2 payloads over it are dropped
	// (QoS 1 and 2 still acknowledged), the connection stays.
	big := dialRaw(t, b.Addr)
	big.connect(&packet.Connect{ClientID: "cmp-big", KeepAlive: 60, CleanStart: true})
	waitNew(`^Sending CONNACK to cmp-big `)
	compatPublish(big, "cmp/b", 0, false, 0, strings.Repeat("x", 100))
	waitNew(`^Dropped too large PUBLISH from cmp-big `)
	compatPublish(big, "cmp/b", 1, false, 20, strings.Repeat("y", 65))
	compatRecv[*packet.Ack](t, big)
	waitNew(`^Sending PUBACK to cmp-big `)
	compatPublish(big, "cmp/b", 2, false, 22, strings.Repeat("w", 65))
	compatRecv[*packet.Ack](t, big) // PUBREC
	waitNew(`^Sending PUBREC to cmp-big `)
	compatAck(big, packet.PUBREL, 22)
	compatRecv[*packet.Ack](t, big) // PUBCOMP
	waitNew(`^Sending PUBCOMP to cmp-big `)
	compatPublish(big, "cmp/b", 1, false, 21, strings.Repeat("z", 64)) // at the limit: delivered
	compatRecv[*packet.Ack](t, big)
	compatDeliverQoS1(t, sub, "cmp/b")
	waitNew(`^Received PUBACK from cmp-sub `)
	big.send(packet.AppendDisconnect(nil, big.v, &packet.Disconnect{}))
	waitNew(`^Client cmp-big disconnected\.$`)

	// Real clients: mosquitto_pub (QoS 1, nobody subscribed) and
	// mosquitto_sub receiving the retained message.
	compatTool(t, b, "mosquitto_pub", "-i", "cmp-mpub", "-q", "1", "-t", "cmp/none", "-m", "hello")
	waitNew(`^Client cmp-mpub disconnected\.$`)
	compatTool(t, b, "mosquitto_sub", "-i", "cmp-msub", "-q", "1", "-t", "cmp/r", "-C", "1", "-u", "bob")
	waitNew(`^Client cmp-msub disconnected\.$`)

	// Persistent session: subscribe with clean session 0, go away, get a
	// QoS 1 message queued, come back with session present.
	per := dialRaw(t, b.Addr)
	per.connect(&packet.Connect{ClientID: "cmp-per", KeepAlive: 60})
	per.send(packet.AppendSubscribe(nil, per.v, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{
		{Filter: "cmp/p", Options: packet.SubOptions{QoS: 1}},
	}}))
	compatRecv[*packet.Suback](t, per)
	per.send(packet.AppendDisconnect(nil, per.v, &packet.Disconnect{}))
	waitNew(`^Client cmp-per disconnected\.$`)
	compatTool(t, b, "mosquitto_pub", "-i", "cmp-mpub2", "-q", "1", "-t", "cmp/p", "-m", "queued")
	waitNew(`^Client cmp-mpub2 disconnected\.$`)
	per = dialRaw(t, b.Addr)
	if ack := per.connect(&packet.Connect{ClientID: "cmp-per", KeepAlive: 60}); !ack.SessionPresent {
		t.Fatal("cmp-per: no session present")
	}
	compatDeliverQoS1(t, per, "cmp/p")
	waitNew(`^Received PUBACK from cmp-per `)
	per.send(packet.AppendDisconnect(nil, per.v, &packet.Disconnect{}))
	waitNew(`^Client cmp-per disconnected\.$`)

	// Clear the retained message (empty retained payload).
	compatTool(t, b, "mosquitto_pub", "-i", "cmp-clear", "-q", "1", "-r", "-n", "-t", "cmp/r")
	waitNew(`^Client cmp-clear disconnected\.$`)

	// A client may not publish to $SYS: denied, still acknowledged.
	sys := dialRaw(t, b.Addr)
	sys.connect(&packet.Connect{ClientID: "cmp-sys", KeepAlive: 60, CleanStart: true})
	compatPublish(sys, "$SYS/cmp", 1, false, 30, "no")
	compatRecv[*packet.Ack](t, sys)
	waitNew(`^Sending PUBACK to cmp-sys `)
	// QoS 3 in a PUBLISH.
	sys.send([]byte{0x36, 7, 0, 3, 'a', '/', 'b', 0, 1})
	sys.expectClosed(compatWait)
	waitNew(`^Client cmp-sys disconnected due to `)

	// An invalid subscription filter.
	bad := dialRaw(t, b.Addr)
	bad.connect(&packet.Connect{ClientID: "cmp-badsub", KeepAlive: 60, CleanStart: true})
	bad.send(packet.AppendSubscribe(nil, bad.v, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{
		{Filter: "cmp/#/x", Options: packet.SubOptions{QoS: 1}},
	}}))
	bad.expectClosed(compatWait)
	waitNew(`^Client cmp-badsub disconnected due to `)

	// Will QoS 3.
	wq := dialRaw(t, b.Addr)
	wq.send(packet.AppendConnect(nil, &packet.Connect{Version: packet.V311, ProtocolLevel: 4, ClientID: "cmp-wq3", KeepAlive: 60, CleanStart: true,
		WillFlag: true, WillQoS: 3, WillTopic: "will/q", WillPayload: []byte("q")}))
	wq.expectClosed(compatWait)
	waitNew(`^Client <unknown> disconnected due to `)

	// Password without username (v3.1.1).
	pw := dialRaw(t, b.Addr)
	pw.send(packet.AppendConnect(nil, &packet.Connect{Version: packet.V311, ProtocolLevel: 4, ClientID: "cmp-pw", KeepAlive: 60, CleanStart: true,
		PasswordFlag: true, Password: []byte("secret")}))
	pw.expectClosed(compatWait)
	waitNew(`^Client \S+ disconnected due to `)

	// First packet not CONNECT.
	nc := dialRaw(t, b.Addr)
	nc.send(packet.AppendPingreq(nil))
	nc.expectClosed(compatWait)
	waitNew(`^Client <unknown> disconnected due to `)

	// Socket closed without DISCONNECT.
	sub.nc.Close()
	waitNew(`^Client cmp-sub closed its connection\.$`)
}

// compatRefusals runs with allow_anonymous false and retain_available false:
// a refused login and a will that asks for retain.
func compatRefusals(t *testing.T, b *Broker) {
	mark := b.Mark()
	waitNew := func(pattern string) {
		t.Helper()
		b.WaitLogFrom(t, mark, pattern, compatWait)
		mark = b.Mark()
	}

	anon := dialRaw(t, b.Addr)
	if ack := anon.connect(&packet.Connect{ClientID: "cmp-anon", KeepAlive: 60, CleanStart: true}); ack.Code != 5 {
		t.Fatalf("anonymous with allow_anonymous false: CONNACK %d, want 5", ack.Code)
	}
	anon.expectClosed(compatWait)
	waitNew(`disconnected, not authorised\.$`)

	wr := dialRaw(t, b.Addr)
	wr.send(packet.AppendConnect(nil, &packet.Connect{Version: packet.V311, ProtocolLevel: 4, ClientID: "cmp-wret", KeepAlive: 60, CleanStart: true,
		WillFlag: true, WillRetain: true, WillTopic: "will/r", WillPayload: []byte("r"), Username: "u"}))
	wr.expectClosed(compatWait)
	waitNew(`^Client \S+ disconnected due to `)
}
