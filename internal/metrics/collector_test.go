package metrics

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/midgemq/midge/internal/broker"
	"github.com/midgemq/midge/internal/logging"
	"github.com/midgemq/midge/internal/store"
)

func newServer(t *testing.T) *broker.Server {
	t.Helper()
	return broker.New(logging.NewWriter(io.Discard, logging.Options{}), broker.DefaultOptions())
}

// gather collects c alone and indexes the families by name.
func gather(t *testing.T, cs ...prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(cs...)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// sample returns the value of the series of name whose labels include
// the given name=value pairs; ok is false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func want(t *testing.T, fams map[string]*dto.MetricFamily, exp float64, name string, labels ...string) {
	t.Helper()
	v, ok := sample(fams, name, labels...)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if v != exp {
		t.Errorf("%s%v = %v, want %v", name, labels, v, exp)
	}
}

// Each counter reads its own Stats field: a distinct value in every field
// comes out under the metric that names it.
func TestCountersReadStats(t *testing.T) {
	srv := newServer(t)
	st := &srv.Stats
	fields := []struct {
		name string
		ctr  *atomic.Int64
	}{
		{"midge_packets_received_total", &st.MessagesReceived},
		{"midge_packets_sent_total", &st.MessagesSent},
		{"midge_publish_messages_received_total", &st.PublishReceived},
		{"midge_publish_messages_sent_total", &st.PublishSent},
		{"midge_publish_received_bytes_total", &st.PublishBytesIn},
		{"midge_publish_sent_bytes_total", &st.PublishBytesOut},
		{"midge_network_received_bytes_total", &st.BytesReceived},
		{"midge_network_sent_bytes_total", &st.BytesSent},
		{"midge_sockets_accepted_total", &st.SocketsAccepted},
		{"midge_connects_total", &st.Connects},
		{"midge_sessions_expired_total", &st.ClientsExpired},
	}
	for i, f := range fields {
		f.ctr.Add(int64(100 + i))
	}
	for i := range st.Dropped {
		st.Dropped[i].Add(int64(1000 + i))
	}
	for i := range st.Disconnects {
		st.Disconnects[i].Add(int64(2000 + i))
	}
	fams := gather(t, NewCollector(srv, Options{CompatVersion: "2.0.20", Start: time.Unix(1700000000, 0)}))
	for i, f := range fields {
		want(t, fams, float64(100+i), f.name)
	}
	for i := range st.Dropped {
		want(t, fams, float64(1000+i), "midge_publish_messages_dropped_total", "reason", broker.DropCause(i).String())
	}
	counted := 0
	for i := range st.Disconnects {
		if name := broker.DisconnectReason(i); name != "" {
			want(t, fams, float64(2000+i), "midge_disconnects_total", "reason", name)
			counted++
		}
	}
	if got := len(fams["midge_disconnects_total"].GetMetric()); got != counted || counted < 14 {
		t.Errorf("%d disconnect reasons exported, %d named", got, counted)
	}
	want(t, fams, 1, "midge_build_info", "mosquitto_version", "2.0.20")
	want(t, fams, 1700000000, "midge_start_time_seconds")
	// Without a store, no store series.
	for name := range fams {
		if strings.HasPrefix(name, "midge_store_") {
			t.Errorf("%s without persistence", name)
		}
	}
}

// The latency histogram is the broker's, bucket for bucket, cumulated.
func TestLatencyHistogram(t *testing.T) {
	srv := newServer(t)
	for _, d := range []time.Duration{50 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, 2 * time.Hour} {
		srv.Stats.Latency.Observe(d)
	}
	fams := gather(t, NewCollector(srv, Options{}))
	h := fams["midge_publish_latency_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 4 {
		t.Errorf("count %d", h.GetSampleCount())
	}
	wantSum := (50*time.Microsecond + 6*time.Millisecond + 2*time.Hour).Seconds()
	if d := h.GetSampleSum() - wantSum; d > 1e-9 || d < -1e-9 {
		t.Errorf("sum %v, want %v", h.GetSampleSum(), wantSum)
	}
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for bound, n := range map[float64]uint64{0.0001: 1, 0.0025: 1, 0.005: 3, 60: 3} {
		if cum[bound] != n {
			t.Errorf("le=%v: %d, want %d", bound, cum[bound], n)
		}
	}
}

// startBroker serves MQTT on a loopback port in process.
func startBroker(t *testing.T, srv *broker.Server) string {
	t.Helper()
	addr, err := srv.Listen(broker.Listener{Network: "tcp4", Addr: "127.0.0.1:0", MaxConnections: -1, MaxQoS: 2,
		Security: broker.Security{AllowAnonymous: true}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(); close(done) }()
	t.Cleanup(func() { srv.Shutdown(); <-done })
	return addr.String()
}

func connect(t *testing.T, addr, id string, version uint) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetProtocolVersion(version).
		SetAutoReconnect(false).SetConnectRetry(false)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	return c
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

// Connected clients by listener and protocol rise with CONNECT and fall
// back to zero, not below, when the clients leave; the other gauges follow
// the broker's state.
func TestGaugesFollowClients(t *testing.T) {
	srv := newServer(t)
	addr := startBroker(t, srv)
	col := NewCollector(srv, Options{})
	v31 := connect(t, addr, "g-31", 3)
	v311 := connect(t, addr, "g-311", 4)
	if tok := v311.Subscribe("g/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	got := make(chan paho.Message, 1)
	v311.AddRoute("g/#", func(_ paho.Client, m paho.Message) { got <- m })
	if tok := v31.Publish("g/r", 1, true, "retained!"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}

	fams := gather(t, col)
	want(t, fams, 1, "midge_clients_connected", "listener", addr, "protocol", "3.1")
	want(t, fams, 1, "midge_clients_connected", "listener", addr, "protocol", "3.1.1")
	want(t, fams, 0, "midge_clients_connected", "listener", addr, "protocol", "5.0")
	want(t, fams, 2, "midge_sockets_open", "listener", addr)
	want(t, fams, 2, "midge_sessions")
	want(t, fams, 1, "midge_subscriptions")
	want(t, fams, 0, "midge_shared_subscriptions")
	want(t, fams, 1, "midge_retained_messages")
	want(t, fams, float64(len("retained!")), "midge_retained_bytes")
	want(t, fams, 1, "midge_publish_latency_seconds") // one delivery of a client's message

	// A quiesce time lets paho write its DISCONNECT before closing.
	v31.Disconnect(250)
	v311.Disconnect(250)
	eventually(t, "both disconnects counted", func() bool {
		v, _ := sample(gather(t, col), "midge_disconnects_total", "reason", "disconnect")
		return v == 2
	})
	fams = gather(t, col)
	for _, p := range broker.ProtocolNames {
		want(t, fams, 0, "midge_clients_connected", "listener", addr, "protocol", p)
	}
	want(t, fams, 0, "midge_sessions")
	want(t, fams, 0, "midge_subscriptions")
	eventually(t, "sockets closed", func() bool {
		v, _ := sample(gather(t, col), "midge_sockets_open", "listener", addr)
		return v == 0
	})
}

// With a store, its health, size and activity are exported.
func TestStoreMetrics(t *testing.T) {
	srv := newServer(t)
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv.SetStore(db)
	if err := db.Wait(db.Enqueue(store.Op{Key: store.MetaKey("probe"), Value: []byte("x")})); err != nil {
		t.Fatal(err)
	}
	fams := gather(t, NewCollector(srv, Options{}))
	want(t, fams, 1, "midge_store_up")
	if v, ok := sample(fams, "midge_store_disk_bytes"); !ok || v <= 0 {
		t.Errorf("midge_store_disk_bytes = %v, %v", v, ok)
	}
	if v, _ := sample(fams, "midge_store_batches_total"); v < 1 {
		t.Errorf("midge_store_batches_total = %v", v)
	}
}

// The three endpoints, and /metrics in the text format with HELP for every
// family, the Go runtime and process ones included.
func TestHandler(t *testing.T) {
	srv := newServer(t)
	var notReady atomic.Pointer[error]
	ready := func() error {
		if e := notReady.Load(); e != nil {
			return *e
		}
		return nil
	}
	ts := httptest.NewServer(Handler(NewRegistry(srv, Options{CompatVersion: "2.0.20"}), ready))
	defer ts.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	e := fmt.Errorf("listeners not accepting: [127.0.0.1:1883]")
	notReady.Store(&e)
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "127.0.0.1:1883") {
		t.Errorf("/readyz not ready: %d %q", code, body)
	}
	if code, _ := get("/nothing"); code != 404 {
		t.Errorf("/nothing: %d", code)
	}

	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name, f := range fams {
		names = append(names, name)
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	sort.Strings(names)
	for _, need := range []string{"midge_packets_received_total", "midge_publish_latency_seconds", "go_goroutines",
		"go_memstats_heap_alloc_bytes"} {
		if fams[need] == nil {
			t.Errorf("no %s in %v", need, names)
		}
	}
}

// Ready follows the listeners: not ready before one is open and accepting,
// ready while they accept, not ready once shutting down.
func TestReadyFollowsListeners(t *testing.T) {
	srv := newServer(t)
	if srv.Ready() == nil {
		t.Error("ready without listeners")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.AddListener(ln, broker.Listener{MaxConnections: -1, MaxQoS: 2})
	if err := srv.Ready(); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("before Serve: %v", err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(); close(done) }()
	eventually(t, "ready", func() bool { return srv.Ready() == nil })
	srv.Shutdown()
	<-done
	if srv.Ready() == nil {
		t.Error("ready after Shutdown")
	}
}
