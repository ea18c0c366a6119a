package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/broker"
	"github.com/midgemq/midge/internal/logging"
	"github.com/midgemq/midge/internal/session"
)

// startBroker runs an in-process midge on a free loopback port with the
// limits bench/compare.sh uses (nothing queued or in flight is refused).
func startBroker(t *testing.T) string {
	t.Helper()
	o := broker.DefaultOptions()
	o.Limits = session.Limits{}
	s := broker.New(logging.NewWriter(io.Discard, logging.Options{}), o)
	addr, err := s.Listen(broker.Listener{Network: "tcp4", Addr: "127.0.0.1:0", MaxConnections: -1, MaxQoS: 2,
		Security: broker.Security{AllowAnonymous: true}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(s.Shutdown)
	return addr.String()
}

// TestSmoke runs each scenario briefly against midge and checks that
// messages flowed with no loss and no duplicates. It asserts nothing about
// speed: CI machines are shared.
func TestSmoke(t *testing.T) {
	addr := startBroker(t)
	cases := []Config{
		{Scenario: "fanin", Pubs: 3, QoS: 0},
		{Scenario: "fanout", Subs: 5, QoS: 0},
		{Scenario: "pairs", Pubs: 3, QoS: 1, Size: 256},
		{Scenario: "fanin", Pubs: 2, QoS: 2},
		{Scenario: "shared", Pubs: 2, Subs: 3, QoS: 1},
		{Scenario: "pairs", Pubs: 1, QoS: 1, Rate: 2000},
	}
	for _, c := range cases {
		c.Addr, c.Warmup, c.Duration, c.Pid = addr, 100*time.Millisecond, 700*time.Millisecond, os.Getpid()
		res, err := Run(c)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		name := res.Scenario + "/qos" + string('0'+res.QoS)
		if res.MsgsPerSec <= 0 || res.Received == 0 {
			t.Errorf("%s: nothing delivered: %+v", name, res)
		}
		if res.Lost != 0 || res.Duplicates != 0 || len(res.Errors) > 0 {
			t.Errorf("%s: lost %d, duplicates %d, errors %v", name, res.Lost, res.Duplicates, res.Errors)
		}
		if res.Latency.Count == 0 || res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 {
			t.Errorf("%s: latency %+v", name, res.Latency)
		}
		if res.Broker == nil || res.Broker.RSSKB == 0 {
			t.Errorf("%s: no /proc figures", name)
		}
		checkSteal(t, name, res)
	}
	res, err := Run(Config{Addr: addr, Scenario: "idle", Conns: 200, ConnectRate: 2000, Hold: 50 * time.Millisecond, Pid: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Idle.Connected != 200 || res.Idle.Connack.Count != 200 {
		t.Errorf("idle: %+v", res.Idle)
	}
	checkSteal(t, "idle", res)
}

// checkSteal: on Linux a result records the steal of its window, which is
// never negative (and no more than the machine's CPUs over the run).
func checkSteal(t *testing.T, name string, res *Result) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	if res.StealMS == nil {
		t.Errorf("%s: no steal figure", name)
		return
	}
	if st, most := *res.StealMS, float64(runtime.NumCPU())*res.Window*1000+10; st < 0 || st > most {
		t.Errorf("%s: steal %.0f ms in a %.2f s window", name, st, res.Window)
	}
}

// TestMainJSONAndReport drives the command line: a JSON result, then the
// report over two labelled copies of it.
func TestMainJSONAndReport(t *testing.T) {
	addr := startBroker(t)
	host, port, _ := strings.Cut(addr, ":")
	var out, errb bytes.Buffer
	code := Main([]string{"-h", host, "-p", port, "-s", "fanin", "-pubs", "2", "-warmup", "100ms", "-d", "500ms",
		"-name", "qos0-fanin", "-label", "midge", "-json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.MsgsPerSec <= 0 {
		t.Fatalf("bad JSON %q: %v", out.String(), err)
	}
	other := strings.Replace(out.String(), `"label":"midge"`, `"label":"mosquitto"`, 1)
	f := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(f, []byte(out.String()+other), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := Main([]string{"report", f}, &out, &errb); code != 0 {
		t.Fatalf("report exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"| **qos0-fanin**", "delivered msg/s", "| 1.00 |", "zero loss for midge"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestHistogram(t *testing.T) {
	var h hist
	for i := int64(1); i <= 100000; i++ {
		h.record(i * 1000) // 1 us .. 100 ms
	}
	l := h.summary()
	near := func(got, want float64) bool { return got > want*0.96 && got < want*1.04 }
	if !near(l.P50, 50000) || !near(l.P99, 99000) || !near(l.P999, 99900) || l.Max != 100000 {
		t.Errorf("summary %+v", l)
	}
	for v := uint64(0); v < 1<<30; v = v*5/4 + 1 {
		i := histIndex(v)
		if c := histValue(i); float64(c) < float64(v)*0.96 || float64(c) > float64(v)*1.04+1 {
			t.Fatalf("value %d -> bucket %d -> %d", v, i, c)
		}
	}
}

// TestStalledTargets: the stalled-subscriber rows compare the case with the
// stalled subscriber against the plain fan-out, by throughput and by broker
// CPU per delivered message, each with its own 5% margin.
func TestStalledTargets(t *testing.T) {
	res := func(name string, perS, cpuMsg float64) *Result {
		return &Result{Name: name, Label: "midge", Scenario: "fanout", MsgsPerSec: perS,
			Broker: &BrokerStats{CPUPerMsg: cpuMsg}}
	}
	for _, c := range []struct {
		slowPerS, slowCPU float64
		want              []string
	}{
		{980, 0.51, []string{"| 98% | yes |", "| 102% | yes |"}},
		{900, 0.51, []string{"| 90% | **no** |", "| 102% | yes |"}},
		{990, 0.60, []string{"| 99% | yes |", "| 120% | **no** |"}},
	} {
		var out bytes.Buffer
		writeTargets(&out, []*Result{res("qos0-fanout", 1000, 0.5), res("qos0-fanout-slow", c.slowPerS, c.slowCPU)}, "midge", "mosquitto")
		for _, want := range append(c.want, "qos0-fanout-slow: zero loss for midge | 0 lost | yes") {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: report lacks %q:\n%s", c, want, out.String())
			}
		}
	}
}

// TestLatencyRoundsNoWorse: the p99 row gives the ratio of the medians as
// its verdict, and says in how many rounds midge's p99 was no higher than
// Mosquitto's in the same round (a round missing one broker does not count).
func TestLatencyRoundsNoWorse(t *testing.T) {
	res := func(label string, round int, p99 float64) *Result {
		return &Result{Name: "qos1-latency", Label: label, Round: round, Scenario: "pairs", MsgsPerSec: 5000,
			Latency: Latency{P99: p99}, Broker: &BrokerStats{CPU: 0.2}}
	}
	rs := []*Result{
		res("midge", 1, 300), res("mosquitto", 1, 500),
		res("midge", 2, 2000), res("mosquitto", 2, 600),
		res("midge", 3, 2500), res("mosquitto", 3, 2500),
		res("midge", 4, 100),                             // no Mosquitto run in round 4
		res("midge", 0, 5000), res("mosquitto", 0, 5000), // no -round: left out of the pairs
	}
	var out bytes.Buffer
	writeTargets(&out, rs, "midge", "mosquitto")
	// Medians 2,000 (of 100, 300, 2,000, 2,500, 5,000) against 1,550 (of
	// 500, 600, 2,500, 5,000).
	want := "| qos1-latency: p99 midge / mosquitto <= 1 | 1.29 (midge no higher in 2 of 3 rounds) | **no** |"
	if !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}
	if strings.Contains(out.String(), "broker CPU midge / mosquitto <= 1 | 1.00 (") {
		t.Errorf("the CPU row got a per-round count:\n%s", out.String())
	}
}

// TestParseSteal reads the steal column (the eighth number of the cpu line,
// in USER_HZ ticks) and refuses contents that have none.
func TestParseSteal(t *testing.T) {
	stat := "cpu  2649393 2029 1199045 7357648 138007 0 266354 70020 0 0\n" +
		"cpu0 1301500 990 585150 3736948 59581 0 120250 34042 0 0\n" +
		"intr 1 2 3\n"
	if d, ok := parseSteal([]byte(stat)); !ok || d != 700200*time.Millisecond {
		t.Errorf("got %v %v, want 700.2s", d, ok)
	}
	// The per-CPU lines do not count: only the machine's total.
	if d, ok := parseSteal([]byte("cpu0 1 2 3 4 5 6 7 9 0 0\ncpu  1 2 3 4 5 6 7 8\n")); !ok || d != 80*time.Millisecond {
		t.Errorf("got %v %v, want 80ms", d, ok)
	}
	for _, bad := range []string{"", "cpu  1 2 3 4 5 6 7\n", "cpu0 1 2 3 4 5 6 7 8\n", "cpu  1 2 3 4 5 6 7 x\n",
		"cpu  1 2 3 4 5 6 7 -1\n", "cpu  1 2 3 4 5 6 7 18446744073709551615\n"} {
		if d, ok := parseSteal([]byte(bad)); ok {
			t.Errorf("%q: got %v, want none", bad, d)
		}
	}
	if runtime.GOOS == "linux" {
		if _, ok := stealTime(); !ok {
			t.Error("no steal figure from /proc/stat")
		}
	}
}

// TestLatencyByRound: the report lists the p99 of each round for both
// brokers with the steal during each run, in round order, and leaves out
// runs made without -round.
func TestLatencyByRound(t *testing.T) {
	res := func(label string, round int, p99 float64, steal *float64) *Result {
		return &Result{Name: "qos1-latency", Label: label, Round: round, Scenario: "pairs", Rate: 5000, MsgsPerSec: 5000,
			Latency: Latency{P99: p99}, Broker: &BrokerStats{CPU: 0.2}, StealMS: steal}
	}
	rs := []*Result{
		res("mosquitto", 2, 600, ptr(0.0)), res("midge", 2, 2000, ptr(140.0)),
		res("midge", 1, 300, ptr(10.0)), res("mosquitto", 1, 500, nil),
		res("midge", 3, 250, ptr(0.0)),
		res("midge", 0, 9999, ptr(1.0)),
		{Name: "idle", Label: "midge", Round: 1, Scenario: "idle", StealMS: ptr(30.0),
			Idle: &IdleStats{Conns: 10, Connack: Latency{P99: 1800}}},
		{Name: "idle", Label: "mosquitto", Round: 1, Scenario: "idle", StealMS: ptr(0.0),
			Idle: &IdleStats{Conns: 10, Connack: Latency{P99: 2100}}},
	}
	var out bytes.Buffer
	writeReport(&out, rs, "midge", "mosquitto")
	want := "| round | midge | steal | mosquitto | steal |\n|---:|---:|---:|---:|---:|\n" +
		"| 1 | 300 | 10 | 500 | - |\n" +
		"| 2 | 2000 | 140 | 600 | 0 |\n" +
		"| 3 | 250 | 0 | - | - |\n"
	if !strings.Contains(out.String(), "qos1-latency, latency p99 us by round") || !strings.Contains(out.String(), want) {
		t.Errorf("report lacks the rounds table %q:\n%s", want, out.String())
	}
	if strings.Contains(out.String(), "9999 |") {
		t.Errorf("a run without -round is listed:\n%s", out.String())
	}
	// Median steal over the runs that have it: midge 1, 10, 140 and 0. No
	// ratio: the steal is the machine's, not the broker's.
	if !strings.Contains(out.String(), "| machine steal ms | 6 | 0 | - |") {
		t.Errorf("report lacks the steal row:\n%s", out.String())
	}
	want = "idle, CONNACK p99 us by round, with the CPU time the hypervisor took from the machine during each run (steal, ms):\n\n" +
		"| round | midge | steal | mosquitto | steal |\n|---:|---:|---:|---:|---:|\n| 1 | 1800 | 30 | 2100 | 0 |\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("report lacks the idle rounds table %q:\n%s", want, out.String())
	}
}

// TestMainNoCollectionInStorm: the command keeps its heap floor, so a
// connect storm is measured without the generator collecting (each of its
// collections was a burst of slow connects, whatever the broker), and the
// result says how many collections it made. The broker here is in the same
// process, so its allocations count against the floor too.
func TestMainNoCollectionInStorm(t *testing.T) {
	addr := startBroker(t)
	host, port, _ := strings.Cut(addr, ":")
	runtime.GC() // start from a small live heap: its default goal is a few MB
	var out, errb bytes.Buffer
	code := Main([]string{"-h", host, "-p", port, "-s", "idle", "-conns", "3000", "-connect-rate", "20000",
		"-hold", "10ms", "-json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Idle == nil || r.Idle.Connected != 3000 {
		t.Fatalf("bad JSON %q: %v", out.String(), err)
	}
	if r.SelfGCs == nil {
		t.Errorf("no self_gcs in %s", out.String())
	} else if *r.SelfGCs != 0 {
		t.Errorf("generator collections while connecting: %d, want 0", *r.SelfGCs)
	}
	if debug.SetGCPercent(100) != 100 {
		t.Error("the command left its GC percentage in force")
	}
}
