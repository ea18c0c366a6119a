package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/midgemq/midge/internal/packet"
)

// The Prometheus endpoint (issue 8): scraped over HTTP from the real binary,
// parsed with the Prometheus text parser, checked against activity driven
// by real clients, and against the $SYS tree.

// startMetricsBroker starts midge with metrics_address on a free port and
// returns the broker and the endpoint's base URL.
func startMetricsBroker(t *testing.T, conf string) (*Broker, string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b := StartBroker(t, "metrics_address "+addr+"\n"+conf)
	b.WaitLog(t, q("Serving metrics and health checks on http://"+addr+"/."), 10*time.Second)
	return b, "http://" + addr
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// scrape is one parsed /metrics response.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics fetches and parses /metrics. Every scrape also checks that
// no series is negative and that every family has HELP text.
func scrapeMetrics(t *testing.T, base string) scrape {
	t.Helper()
	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: status %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s: no HELP", name)
		}
		for _, m := range f.GetMetric() {
			if v := seriesValue(m); v < 0 {
				t.Errorf("%s%v = %v: negative", name, m.GetLabel(), v)
			}
		}
	}
	return fams
}

func seriesValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// get sums the series of name whose labels include the name=value pairs
// (a histogram counts its observations); -1 when there is no such series.
func (s scrape) get(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return -1
	}
	sum, found := 0.0, false
	for _, m := range f.GetMetric() {
		if hasLabels(m, labels) {
			sum += seriesValue(m)
			found = true
		}
	}
	if !found {
		return -1
	}
	return sum
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		ok := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == pairs[i] && lp.GetValue() == pairs[i+1] {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// pollUntil re-runs check until it reports no problem or d has passed; it
// then fails with the problems of the last run.
func pollUntil(t *testing.T, d time.Duration, check func() []string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		problems := check()
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v:\n%s", d, strings.Join(problems, "\n"))
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

type expect struct {
	name   string
	labels []string
	want   float64
}

func (s scrape) mismatches(exps []expect) []string {
	var out []string
	for _, e := range exps {
		if got := s.get(e.name, e.labels...); got != e.want {
			out = append(out, fmt.Sprintf("%s%v = %v, want %v", e.name, e.labels, got, e.want))
		}
	}
	return out
}

// TestMetricsEndpoint drives known activity through a v3.1.1 subscriber, a
// v5 publisher, raw clients that leave messages unacknowledged, a persistent
// session that went offline and a client that vanishes, then checks the
// figures exactly. $SYS is off, so every PUBLISH sent goes to a test client.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Anonymous rules (before any user line): secret/# may be written but
	// not read, forbidden/# neither.
	acl := writeFile(t, dir, "acl", "topic readwrite load/#\ntopic write secret/#\ntopic readwrite held/#\ntopic readwrite q/#\n")
	b, base := startMetricsBroker(t, "sys_interval 0\nmessage_size_limit 2000\nacl_file "+acl+"\n")
	mqttAddr := b.Addr

	if code, body := httpGet(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	// The MQTT port answers a dial as soon as it is bound, a moment before
	// its accept loop reports it up: ready within a bound, not at once.
	var code int
	var body string
	eventually(t, 10*time.Second, "/readyz 200", func() bool {
		code, body = httpGet(t, base+"/readyz")
		return code == 200
	})
	if body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if p := scrapeMetrics(t, base).mismatches([]expect{
		{"midge_publish_messages_received_total", nil, 0},
		{"midge_sessions", nil, 0},
		{"midge_clients_connected", nil, 0},
		{"midge_publish_latency_seconds", nil, 0},
	}); len(p) > 0 {
		t.Errorf("before any client: %v", p)
	}

	// m-sub (3.1.1) gets load/# and would get secret/#, which it may not read.
	got := make(chan mqtt.Message, 64)
	sub := pahoConnect(t, b, "m-sub", "", true, 60*time.Second)
	for _, f := range []string{"load/#", "secret/#"} {
		if tok := sub.Subscribe(f, 2, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
	}
	// m-held (raw 3.1.1) never acknowledges what it receives.
	held := mustConnect(t, b, "m-held", true)
	held.subscribe(1, 2, "held/#")
	// m-off: a persistent session that goes offline with a subscription.
	off := pahoConnect(t, b, "m-off", "", false, 60*time.Second)
	if tok := off.Subscribe("q/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	off.Disconnect(250)
	// m-lost vanishes without DISCONNECT.
	lost := mustConnect(t, b, "m-lost", true)
	lost.nc.Close()
	pollUntil(t, 5*time.Second, func() []string {
		return scrapeMetrics(t, base).mismatches([]expect{
			{"midge_disconnects_total", []string{"reason", "disconnect"}, 1},
			{"midge_disconnects_total", []string{"reason", "connection_lost"}, 1},
		})
	})

	pub := dialPaho(t, b, "m-pub", nil) // MQTT 5
	send := func(topic string, qos byte, retain bool, size int) byte {
		t.Helper()
		r := pub.publish(t, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(strings.Repeat("x", size))})
		if r == nil {
			return 0
		}
		return r.ReasonCode
	}
	for _, qos := range []byte{0, 1, 2} {
		for range 3 {
			send("load/a", qos, false, int(10*pow10(qos))) // 10, 100 and 1000 bytes
		}
	}
	send("load/retained", 1, true, 7)
	if rc := send("forbidden/x", 1, false, 5); rc != byte(packet.NotAuthorized) {
		t.Errorf("forbidden publish: reason 0x%02x", rc)
	}
	send("secret/x", 0, false, 6)
	if rc := send("load/big", 1, false, 3000); rc != byte(packet.PacketTooLarge) {
		t.Errorf("oversize publish: reason 0x%02x", rc)
	}
	send("held/1", 1, false, 4)
	send("held/2", 2, false, 4)
	send("q/1", 1, false, 3) // queued for m-off
	held.expectPublish()
	held.expectPublish()
	held.publish(&packet.Publish{Topic: "held/in", QoS: 2, PacketID: 9, Payload: []byte("in")})
	held.expectAck(packet.PUBREC, 9) // and no PUBREL follows
	for i := range 10 {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("m-sub got %d messages, want 10", i)
		}
	}

	// 17 PUBLISHes in: 9 to load/a, the retained one, the refused three,
	// 3 for m-held and m-off, m-held's own. 12 out: 10 to m-sub, 2 to m-held.
	inBytes := 3*10 + 3*100 + 3*1000 + 7 + 5 + 6 + 3000 + 4 + 4 + 3 + 2
	outBytes := 3*10 + 3*100 + 3*1000 + 7 + 4 + 4
	exact := []expect{
		{"midge_publish_messages_received_total", nil, 17},
		{"midge_publish_received_bytes_total", nil, float64(inBytes)},
		{"midge_publish_messages_sent_total", nil, 12},
		{"midge_publish_sent_bytes_total", nil, float64(outBytes)},
		{"midge_publish_latency_seconds", nil, 12},
		{"midge_publish_messages_dropped_total", []string{"reason", "acl_write_denied"}, 1},
		{"midge_publish_messages_dropped_total", []string{"reason", "acl_read_denied"}, 1},
		{"midge_publish_messages_dropped_total", []string{"reason", "message_too_large"}, 1},
		{"midge_publish_messages_dropped_total", nil, 3},
		{"midge_sockets_accepted_total", nil, 5},
		{"midge_connects_total", nil, 5},
		{"midge_disconnects_total", []string{"reason", "disconnect"}, 1},
		{"midge_disconnects_total", []string{"reason", "connection_lost"}, 1},
		{"midge_disconnects_total", nil, 2},
		{"midge_clients_connected", []string{"listener", mqttAddr, "protocol", "3.1"}, 0},
		{"midge_clients_connected", []string{"listener", mqttAddr, "protocol", "3.1.1"}, 2},
		{"midge_clients_connected", []string{"listener", mqttAddr, "protocol", "5.0"}, 1},
		{"midge_sockets_open", []string{"listener", mqttAddr}, 3},
		{"midge_sessions", nil, 4},
		{"midge_subscriptions", nil, 4},
		{"midge_shared_subscriptions", nil, 0},
		{"midge_inflight_messages", []string{"qos", "1"}, 1},
		{"midge_inflight_messages", []string{"qos", "2"}, 1},
		{"midge_queued_messages", nil, 1},
		{"midge_inflight_bytes", nil, 8},
		{"midge_queued_bytes", nil, 3},
		{"midge_inbound_qos2_messages", nil, 1},
		{"midge_retained_messages", nil, 1},
		{"midge_retained_bytes", nil, 7},
		{"midge_sessions_expired_total", nil, 0},
		{"midge_build_info", []string{"mosquitto_version", "2.0.20"}, 1},
	}
	var last scrape
	pollUntil(t, 5*time.Second, func() []string {
		last = scrapeMetrics(t, base)
		return last.mismatches(exact)
	})
	// Packets and socket bytes include CONNECTs, acks and headers: at
	// least the figures above.
	if n := last.get("midge_packets_received_total"); n < 17+5 {
		t.Errorf("midge_packets_received_total = %v", n)
	}
	if n := last.get("midge_network_received_bytes_total"); n < float64(inBytes) {
		t.Errorf("midge_network_received_bytes_total = %v < %d", n, inBytes)
	}
	if n := last.get("midge_network_sent_bytes_total"); n < float64(outBytes) {
		t.Errorf("midge_network_sent_bytes_total = %v < %d", n, outBytes)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_start_time_seconds"} {
		if last.get(name) <= 0 {
			t.Errorf("%s = %v", name, last.get(name))
		}
	}
	if h := last["midge_publish_latency_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleSum() <= 0 {
		t.Errorf("latency sum %v", h.GetSampleSum())
	}
	if last["midge_store_up"] != nil {
		t.Error("store metrics without persistence")
	}
}

func pow10(n byte) float64 {
	v := 1.0
	for range n {
		v *= 10
	}
	return v
}

// sysLog records the $SYS messages a subscriber receives, in order.
type sysLog struct {
	mu   sync.Mutex
	msgs []struct{ topic, value string }
}

func (l *sysLog) add(_ mqtt.Client, m mqtt.Message) {
	l.mu.Lock()
	l.msgs = append(l.msgs, struct{ topic, value string }{strings.TrimPrefix(m.Topic(), "$SYS/broker/"), string(m.Payload())})
	l.mu.Unlock()
}

func (l *sysLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.msgs)
}

// latest is the last value received for topic.
func (l *sysLog) latest(topic string) (float64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.msgs) - 1; i >= 0; i-- {
		if l.msgs[i].topic == topic {
			v, err := strconv.ParseFloat(l.msgs[i].value, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// next waits for the first message on topic at index from or later and
// returns its value and the index after it.
func (l *sysLog) next(t *testing.T, from int, topic string) (string, int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		for i := from; i < len(l.msgs); i++ {
			if l.msgs[i].topic == topic {
				v := l.msgs[i].value
				l.mu.Unlock()
				return v, i + 1
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no $SYS/broker/%s after message %d", topic, from)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

// TestMetricsAgreeWithSys: under load, a $SYS/# subscriber and a scrape
// show the same figures. Values that stand still once the load stops must
// be equal; the sent counters, which the $SYS messages themselves keep
// moving, must fall between a scrape before the refresh that published
// them and one after.
func TestMetricsAgreeWithSys(t *testing.T) {
	t.Parallel()
	b, base := startMetricsBroker(t, "sys_interval 1\n")
	var sys sysLog
	sysc := pahoConnect(t, b, "m-sys", "", true, 60*time.Second)
	// QoS 0, so the $SYS subscriber sends nothing back and the received
	// counters stand still once the load stops.
	if tok := sysc.Subscribe("$SYS/#", 0, sys.add); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	got := make(chan mqtt.Message, 64)
	sub := pahoConnect(t, b, "m-agree-sub", "", true, 60*time.Second)
	if tok := sub.Subscribe("agree/#", 2, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub := pahoConnect(t, b, "m-agree-pub", "", true, 60*time.Second)
	n := 0
	for _, qos := range []byte{0, 1, 2} {
		for i := range 5 {
			if tok := pub.Publish(fmt.Sprintf("agree/%d", i), qos, i == 0, strings.Repeat("y", 20+i)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			n++
		}
	}
	for i := range n {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d of %d messages", i, n)
		}
	}
	mustConnect(t, b, "m-agree-lost", true).nc.Close()

	sum := func(s scrape, names ...string) float64 {
		v := 0.0
		for _, name := range names {
			v += s.get(name)
		}
		return v
	}
	stable := []struct {
		topic  string
		metric func(scrape) float64
	}{
		{"clients/total", func(s scrape) float64 { return s.get("midge_sessions") }},
		{"clients/connected", func(s scrape) float64 { return s.get("midge_sockets_open") }},
		{"clients/disconnected", func(s scrape) float64 { return s.get("midge_sessions") - s.get("midge_clients_connected") }},
		{"clients/expired", func(s scrape) float64 { return s.get("midge_sessions_expired_total") }},
		{"messages/received", func(s scrape) float64 { return s.get("midge_packets_received_total") }},
		{"publish/messages/received", func(s scrape) float64 { return s.get("midge_publish_messages_received_total") }},
		{"bytes/received", func(s scrape) float64 { return s.get("midge_network_received_bytes_total") }},
		{"publish/bytes/received", func(s scrape) float64 { return s.get("midge_publish_received_bytes_total") }},
		{"publish/messages/dropped", func(s scrape) float64 {
			return s.get("midge_publish_messages_dropped_total", "reason", "queue_full") +
				s.get("midge_publish_messages_dropped_total", "reason", "outbound_full")
		}},
		{"subscriptions/count", func(s scrape) float64 { return s.get("midge_subscriptions") }},
		{"shared_subscriptions/count", func(s scrape) float64 { return s.get("midge_shared_subscriptions") }},
		{"retained messages/count", func(s scrape) float64 { return s.get("midge_retained_messages") }},
		{"store/messages/count", func(s scrape) float64 {
			return sum(s, "midge_retained_messages", "midge_queued_messages", "midge_inflight_messages")
		}},
	}
	pollUntil(t, 8*time.Second, func() []string {
		s := scrapeMetrics(t, base)
		var out []string
		for _, p := range stable {
			v, ok := sys.latest(p.topic)
			if m := p.metric(s); !ok || v != m {
				out = append(out, fmt.Sprintf("$SYS/broker/%s = %v (received: %v), metric %v", p.topic, v, ok, m))
			}
		}
		return out
	})
	// The load is visible on both sides.
	if v, _ := sys.latest("publish/messages/received"); v != float64(n) {
		t.Errorf("publish/messages/received = %v, want %d", v, n)
	}
	if v, _ := sys.latest("subscriptions/count"); v != 2 {
		t.Errorf("subscriptions/count = %v, want 2 ($SYS/# and agree/#)", v)
	}

	moving := map[string]string{
		"messages/sent":         "midge_packets_sent_total",
		"publish/messages/sent": "midge_publish_messages_sent_total",
		"bytes/sent":            "midge_network_sent_bytes_total",
		"publish/bytes/sent":    "midge_publish_sent_bytes_total",
	}
	before := scrapeMetrics(t, base)
	// The second refresh that starts after the scrape: the first may have
	// read its values before the scrape and still be on its way.
	_, i := sys.next(t, sys.len(), "uptime")
	_, i = sys.next(t, i, "uptime")
	values := map[string]float64{}
	var topics []string
	for topic := range moving {
		topics = append(topics, topic)
	}
	sort.Strings(topics)
	for _, topic := range topics {
		v, _ := sys.next(t, i, topic)
		values[topic], _ = strconv.ParseFloat(v, 64)
	}
	after := scrapeMetrics(t, base)
	for _, topic := range topics {
		lo, hi, v := before.get(moving[topic]), after.get(moving[topic]), values[topic]
		if v < lo || v > hi || lo <= 0 {
			t.Errorf("$SYS/broker/%s = %v, not within %s from %v to %v", topic, v, moving[topic], lo, hi)
		}
	}
	if v := after.get("midge_publish_messages_sent_total"); v < float64(n) {
		t.Errorf("midge_publish_messages_sent_total = %v < %d", v, n)
	}
}

// A metrics_address that cannot be bound stops the start-up, as a
// listener's would, before any MQTT listener opens.
func TestMetricsAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	conf := writeFile(t, dir, "m.conf", fmt.Sprintf("listener %d 127.0.0.1\nuser root\nmetrics_address %s\n", freePort(t), ln.Addr()))
	b := startProcess(t, "-c", conf)
	if code := b.Exited(t, 10*time.Second); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	log := strings.Join(b.Lines(), "\n")
	if want := "Error: Unable to open the metrics listener on " + ln.Addr().String() + ": Address already in use."; !strings.Contains(log, want) {
		t.Errorf("log\n%s\nlacks %q", log, want)
	}
	if strings.Contains(log, "listen socket") {
		t.Error("an MQTT listener opened")
	}
}
