package broker

import (
	"strconv"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/session"
)

// sysValue returns the retained value of $SYS/broker/<topic>.
func sysValue(t *testing.T, s *Server, topic string) string {
	t.Helper()
	m, ok := s.retained.Get(sysPrefix + topic)
	if !ok {
		t.Fatalf("%s%s was never published", sysPrefix, topic)
	}
	return string(m.Payload)
}

// TestSysLoadAverageMatchesMosquitto: the load step reproduces values
// [observed] on Debian's mosquitto 2.0.11 with sys_interval 1 (refreshes 2 s
// apart): 54 packets received in the first 2 s gave 53.11 / 10.76, then 39
// more gave 89.73 / 18.47; one socket gave 0.98 / 0.20 / 0.07 (reference §3).
func TestSysLoadAverageMatchesMosquitto(t *testing.T) {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	for _, tc := range []struct {
		old    float64
		delta  int64
		window float64
		want   string
	}{
		{0, 54, 60, "53.11"},
		{0, 54, 300, "10.76"},
		{53.1130, 39, 60, "89.73"},
		{10.7629, 39, 300, "18.47"},
		{0, 1, 60, "0.98"},
		{0, 1, 300, "0.20"},
		{0, 1, 900, "0.07"},
	} {
		if got := f(loadAverage(tc.old, tc.delta, 2, tc.window)); got != tc.want {
			t.Errorf("loadAverage(%v, %d, 2, %v) = %s, want %s", tc.old, tc.delta, tc.window, got, tc.want)
		}
	}
}

// TestSysLoadPublishThreshold: after the first refresh a load average is
// published only when it moved by at least 0.01 from the previous average,
// as Mosquitto's calc_load compares them, not when its %.2f text changed.
func TestSysLoadPublishThreshold(t *testing.T) {
	s, _ := testServer(DefaultOptions())
	st := newSysState(time.Now())
	s.sysRefresh(st, st.start)
	const topic = "load/sockets/1min"
	if v := sysValue(t, s, topic); v != "0.00" {
		t.Fatalf("first refresh: %s = %q, want 0.00", topic, v)
	}
	// 0.0151 ("0.02") decays to 0.0146 ("0.01") in 2 s with no new socket:
	// the text changes but the value moved by 0.0005, so nothing is sent.
	st.loads[ctrSockets][0] = 0.0151
	s.sysLoads(st, st.lastUp+2)
	st.lastUp += 2
	if v := sysValue(t, s, topic); v != "0.00" {
		t.Errorf("%s re-published as %q after a move below 0.01", topic, v)
	}
	// One socket accepted moves it by ~0.98: published.
	s.Stats.SocketsAccepted.Add(1)
	s.sysLoads(st, st.lastUp+2)
	if v := sysValue(t, s, topic); v != "1.00" {
		t.Errorf("%s = %q after one socket, want 1.00", topic, v)
	}
}

// TestSysClientsNeverNegative: sockets that have not sent CONNECT count as
// connected (as in Mosquitto), but clients/disconnected counts sessions with
// no connection, so it cannot go negative where Mosquitto prints -2
// (reference §3 [observed]; docs/COMPAT.md).
func TestSysClientsNeverNegative(t *testing.T) {
	s, _ := testServer(DefaultOptions())
	persistentSubscriber(t, s, "away") // one offline persistent session
	l := &listener{}
	l.count.Store(3) // three open sockets, no CONNECT yet
	s.lnMu.Lock()
	s.listeners = append(s.listeners, l)
	s.lnMu.Unlock()
	st := newSysState(time.Now())
	s.sysRefresh(st, st.start)
	for topic, want := range map[string]string{
		"clients/total": "1", "clients/maximum": "1",
		"clients/disconnected": "1", "clients/inactive": "1",
		"clients/connected": "3", "clients/active": "3",
	} {
		if v := sysValue(t, s, topic); v != want {
			t.Errorf("%s = %s, want %s", topic, v, want)
		}
	}
}

// TestSysMaximumOnlyWhenClientsExist: like Mosquitto, clients/maximum is
// first published when clients/total exceeds 0 [observed on 2.0.11].
func TestSysMaximumOnlyWhenClientsExist(t *testing.T) {
	s, _ := testServer(DefaultOptions())
	st := newSysState(time.Now())
	s.sysRefresh(st, st.start)
	if _, ok := s.retained.Get(sysPrefix + "clients/maximum"); ok {
		t.Error("clients/maximum published while no client ever existed")
	}
	if v := sysValue(t, s, "clients/total"); v != "0" {
		t.Errorf("clients/total = %s, want 0", v)
	}
}

// TestSysStoreCountsQueuedMessages: store/messages/count and bytes hold the
// retained messages plus what sessions have queued or in flight, and a
// queued message that is also the retained one is counted once (Mosquitto
// stores it once).
func TestSysStoreCountsQueuedMessages(t *testing.T) {
	s, _ := testServer(DefaultOptions())
	persistentSubscriber(t, s, "away") // subscribed to t at QoS 1
	s.Publish(&session.Message{Topic: "t", Payload: []byte("12345"), QoS: 1})
	s.Publish(&session.Message{Topic: "t", Payload: []byte("abc"), QoS: 1, Retain: true})
	r := s.sysScanSessions()
	if r.total != 1 || r.offline != 1 || r.stored != 1 || r.storedBytes != 5 {
		t.Fatalf("with the retained one queued: %+v, want total 1, offline 1, stored 1 (5 bytes)", r)
	}
	// A new retained message replaces "abc", which stays queued only.
	s.Publish(&session.Message{Topic: "t", Payload: []byte("zz"), QoS: 1, Retain: true})
	if r = s.sysScanSessions(); r.stored != 2 || r.storedBytes != 8 {
		t.Fatalf("after the retained one was replaced: %+v, want stored 2 (8 bytes)", r)
	}
	st := newSysState(time.Now())
	s.sysRefresh(st, st.start)
	s.sysRefresh(st, st.start.Add(2*time.Second)) // every $SYS topic exists by now
	if v, want := sysValue(t, s, "store/messages/count"), strconv.Itoa(s.retained.Count()+2); v != want {
		t.Errorf("store/messages/count = %s, want %s (retained + 2 queued)", v, want)
	}
	if v := sysValue(t, s, "messages/stored"); v != sysValue(t, s, "store/messages/count") {
		t.Errorf("messages/stored = %s, not a copy of store/messages/count", v)
	}
}

// TestSysUptimeAndVersion: uptime is whole seconds since start, published on
// every refresh even when unchanged; version is not a refresh topic.
func TestSysUptimeAndVersion(t *testing.T) {
	s, _ := testServer(DefaultOptions())
	st := newSysState(time.Now())
	s.sysRefresh(st, st.start)
	if v := sysValue(t, s, "uptime"); v != "0 seconds" {
		t.Errorf("uptime = %q, want \"0 seconds\"", v)
	}
	s.sysRefresh(st, st.start.Add(2900*time.Millisecond))
	if v := sysValue(t, s, "uptime"); v != "2 seconds" {
		t.Errorf("uptime = %q, want \"2 seconds\"", v)
	}
	if _, ok := s.retained.Get(sysPrefix + "version"); ok {
		t.Error("version published by a refresh; StartSys publishes it once")
	}
}
