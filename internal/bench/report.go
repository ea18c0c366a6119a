package bench

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// reportMain is `midge bench report`: it reads JSON results of several
// rounds for two brokers and writes Markdown tables of their medians and
// ratios, and the targets for the standard case names used by
// bench/compare.sh.
func reportMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("midge bench report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := fs.String("a", "midge", "label of the broker measured")
	b := fs.String("b", "mosquitto", "label of the reference broker")
	out := fs.String("o", "", "write to FILE instead of standard output")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var rs []*Result
	for _, f := range fs.Args() {
		got, err := readResults(f)
		if err != nil {
			fmt.Fprintln(stderr, "midge bench report:", err)
			return 1
		}
		rs = append(rs, got...)
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(stderr, "midge bench report:", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	writeReport(w, rs, *a, *b)
	return 0
}

func readResults(name string) ([]*Result, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []*Result
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		r := &Result{}
		if err := json.Unmarshal([]byte(line), r); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// metric extracts one figure from a result; ok false when it has none.
type metric struct {
	title string
	get   func(*Result) (float64, bool)
	fmt   string
}

var (
	mDelivered = metric{"delivered msg/s", func(r *Result) (float64, bool) { return r.MsgsPerSec, r.Idle == nil }, "%.0f"}
	mLost      = metric{"lost (max of rounds)", func(r *Result) (float64, bool) { return float64(r.Lost), r.Idle == nil }, "%.0f"}
	mDups      = metric{"duplicates (max)", func(r *Result) (float64, bool) { return float64(r.Duplicates), r.Idle == nil }, "%.0f"}
	mP50       = metric{"latency p50 us", func(r *Result) (float64, bool) { return r.Latency.P50, r.Idle == nil }, "%.0f"}
	mP99       = metric{"latency p99 us", func(r *Result) (float64, bool) { return r.Latency.P99, r.Idle == nil }, "%.0f"}
	mP999      = metric{"latency p999 us", func(r *Result) (float64, bool) { return r.Latency.P999, r.Idle == nil }, "%.0f"}
	mCPU       = metric{"broker cores", func(r *Result) (float64, bool) { return cpu(r) }, "%.2f"}
	mCPUMsg    = metric{"broker CPU us/msg", func(r *Result) (float64, bool) {
		if r.Broker == nil || r.Idle != nil {
			return 0, false
		}
		return r.Broker.CPUPerMsg, true
	}, "%.2f"}
	mPeak = metric{"broker peak RSS kB", func(r *Result) (float64, bool) {
		if r.Broker == nil {
			return 0, false
		}
		return float64(r.Broker.HWMKB), true
	}, "%.0f"}
	mSelf    = metric{"generator CPU us/msg", func(r *Result) (float64, bool) { return r.SelfPer, r.Idle == nil }, "%.2f"}
	mRSSConn = metric{"broker RSS bytes/conn", func(r *Result) (float64, bool) {
		if r.Idle == nil || r.Broker == nil {
			return 0, false
		}
		return r.Idle.RSSPerConn, true
	}, "%.0f"}
	mConnP99 = metric{"CONNACK p99 us", func(r *Result) (float64, bool) {
		if r.Idle == nil {
			return 0, false
		}
		return r.Idle.Connack.P99, true
	}, "%.0f"}
	mConnP50 = metric{"CONNACK p50 us", func(r *Result) (float64, bool) {
		if r.Idle == nil {
			return 0, false
		}
		return r.Idle.Connack.P50, true
	}, "%.0f"}
	mSelfGCs = metric{"generator GCs (max)", func(r *Result) (float64, bool) {
		if r.SelfGCs == nil { // results from before it was counted
			return 0, false
		}
		return float64(*r.SelfGCs), true
	}, "%.0f"}
	mSteal = metric{"machine steal ms", func(r *Result) (float64, bool) {
		if r.StealMS == nil {
			return 0, false
		}
		return *r.StealMS, true
	}, "%.0f"}
	mFailed = metric{"failed connects (max)", func(r *Result) (float64, bool) {
		if r.Idle == nil {
			return 0, false
		}
		return float64(r.Idle.Failed), true
	}, "%.0f"}
)

func cpu(r *Result) (float64, bool) {
	if r.Broker == nil {
		return 0, false
	}
	return r.Broker.CPU, true
}

var maxMetrics = map[string]bool{mLost.title: true, mDups.title: true, mFailed.title: true, mSelfGCs.title: true}

// stat is the median (or maximum, for counts of failures) of a metric over
// the rounds of one case and broker.
func stat(rs []*Result, name, label string, m metric) (float64, int, bool) {
	var v []float64
	for _, r := range rs {
		if r.Name != name || r.Label != label {
			continue
		}
		if x, ok := m.get(r); ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0, 0, false
	}
	if maxMetrics[m.title] {
		mx := v[0]
		for _, x := range v {
			mx = max(mx, x)
		}
		return mx, len(v), true
	}
	return median(v), len(v), true
}

func writeReport(w io.Writer, rs []*Result, a, b string) {
	var names []string
	seen := map[string]bool{}
	desc := map[string]string{}
	for _, r := range rs {
		if !seen[r.Name] {
			seen[r.Name] = true
			names = append(names, r.Name)
			desc[r.Name] = describe(r)
		}
	}
	fmt.Fprintf(w, "| case | metric | %s | %s | %s / %s |\n|---|---|---:|---:|---:|\n", a, b, a, b)
	for _, n := range names {
		ms := []metric{mDelivered, mLost, mDups, mP50, mP99, mP999, mCPU, mCPUMsg, mPeak, mSelf, mSelfGCs, mSteal}
		if desc[n] == "idle" || strings.HasPrefix(desc[n], "idle") {
			ms = []metric{mRSSConn, mConnP50, mConnP99, mFailed, mCPU, mPeak, mSelfGCs, mSteal}
		}
		first := true
		for _, m := range ms {
			va, na, oka := stat(rs, n, a, m)
			vb, nb, okb := stat(rs, n, b, m)
			if !oka && !okb {
				continue
			}
			label := ""
			if first {
				label = fmt.Sprintf("**%s** (%s; %d/%d rounds)", n, desc[n], na, nb)
				first = false
			}
			ratio := "-"
			if oka && okb && vb != 0 && m.title != mSteal.title { // the machine's, not a broker's
				ratio = fmt.Sprintf("%.2f", va/vb)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", label, m.title, cell(m, va, oka), cell(m, vb, okb), ratio)
		}
	}
	writeTargets(w, rs, a, b)
	writeRounds(w, rs, "qos1-latency", mP99, a, b)
	writeRounds(w, rs, "idle", mConnP99, a, b)
}

// roundRun is one broker's run of a round: a metric's value and the
// run's steal.
type roundRun struct {
	v, steal   float64
	ok, stolen bool
}

// byRound pairs the runs of a case by round, a's first: the rounds in
// order, and each round's two runs (either may be missing). Runs without
// -round (round 0) are left out: they are not paired.
func byRound(rs []*Result, name string, m metric, a, b string) ([]int, map[int]*[2]roundRun) {
	at := map[int]*[2]roundRun{}
	var rounds []int
	for _, r := range rs {
		if r.Name != name || r.Round == 0 || (r.Label != a && r.Label != b) {
			continue
		}
		v, ok := m.get(r)
		if !ok {
			continue
		}
		p := at[r.Round]
		if p == nil {
			p = &[2]roundRun{}
			at[r.Round] = p
			rounds = append(rounds, r.Round)
		}
		i := 0
		if r.Label == b {
			i = 1
		}
		p[i] = roundRun{v: v, ok: true}
		if r.StealMS != nil {
			p[i].steal, p[i].stolen = *r.StealMS, true
		}
	}
	sort.Ints(rounds)
	return rounds, at
}

// writeRounds lists a latency figure of one case round by round for both
// brokers, each with the CPU time the hypervisor took from the machine
// during that run (steal). On a shared virtual machine the p99 of a run of
// a few seconds goes with the steal in that run more than with the broker;
// the medians alone do not show which runs lost time.
func writeRounds(w io.Writer, rs []*Result, name string, m metric, a, b string) {
	rounds, at := byRound(rs, name, m, a, b)
	if len(rounds) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s, %s by round, with the CPU time the hypervisor took from the machine during each run (steal, ms):\n\n", name, m.title)
	fmt.Fprintf(w, "| round | %s | steal | %s | steal |\n|---:|---:|---:|---:|---:|\n", a, b)
	col := func(x roundRun) string {
		if !x.ok {
			return "- | -"
		}
		st := "-"
		if x.stolen {
			st = fmt.Sprintf("%.0f", x.steal)
		}
		return fmt.Sprintf(m.fmt+" | %s", x.v, st)
	}
	for _, round := range rounds {
		p := at[round]
		fmt.Fprintf(w, "| %d | %s | %s |\n", round, col(p[0]), col(p[1]))
	}
}

func cell(m metric, v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf(m.fmt, v)
}

func describe(r *Result) string {
	if r.Idle != nil {
		return fmt.Sprintf("idle, %d connections, %.0f connects/s offered", r.Idle.Conns, r.Rate)
	}
	mode := "closed loop"
	if r.Rate > 0 {
		mode = fmt.Sprintf("%.0f msg/s", r.Rate)
	}
	s := fmt.Sprintf("%s %d->%d, QoS %d, %d B, %s", r.Scenario, r.Pubs, r.Subs, r.QoS, r.Size, mode)
	if r.Slow > 0 {
		s += fmt.Sprintf(", +%d stalled subscribers", r.Slow)
	}
	return s
}

// writeTargets checks the targets for the case names that
// bench/compare.sh uses; cases that were not run are left out.
func writeTargets(w io.Writer, rs []*Result, a, b string) {
	type row struct{ target, got, verdict string }
	var rows []row
	get := func(name, label string, m metric) (float64, bool) {
		v, _, ok := stat(rs, name, label, m)
		return v, ok
	}
	// ratio checks a/b >= want, or <= want when atMost.
	ratio := func(name string, m metric, want float64, atMost bool, what string) {
		va, oka := get(name, a, m)
		vb, okb := get(name, b, m)
		if !oka || !okb || vb == 0 {
			return
		}
		r := va / vb
		ok, op := r >= want, ">="
		if atMost {
			ok, op = r <= want, "<="
		}
		rows = append(rows, row{fmt.Sprintf("%s: %s %s / %s %s %.2g", name, what, a, b, op, want),
			fmt.Sprintf("%.2f", r), verdict(ok)})
	}
	// noWorse annotates the row ratio just added for a latency (lower is
	// better) with the rounds in which a was no worse than b, the two runs
	// of a round made one after the other: a per-round view of the same
	// runs, as a tail percentile of a few seconds is bimodal on a shared
	// machine. The verdict stays the ratio's.
	noWorse := func(name string, m metric) {
		if len(rows) == 0 || !strings.HasPrefix(rows[len(rows)-1].target, name+":") {
			return
		}
		rounds, at := byRound(rs, name, m, a, b)
		n, k := 0, 0
		for _, round := range rounds {
			if p := at[round]; p[0].ok && p[1].ok {
				n++
				if p[0].v <= p[1].v {
					k++
				}
			}
		}
		if n > 0 {
			rows[len(rows)-1].got += fmt.Sprintf(" (%s no higher in %d of %d rounds)", a, k, n)
		}
	}
	zero := func(name string) {
		v, ok := get(name, a, mLost)
		if !ok {
			return
		}
		rows = append(rows, row{fmt.Sprintf("%s: zero loss for %s", name, a), fmt.Sprintf("%.0f lost", v), verdict(v == 0)})
	}
	ratio("qos0-fanin", mDelivered, 3, false, "msg/s")
	zero("qos0-fanin")
	ratio("qos0-fanout", mDelivered, 3, false, "msg/s")
	zero("qos0-fanout")
	ratio("qos1-pairs", mDelivered, 2, false, "msg/s")
	ratio("qos2-fanin", mDelivered, 2, false, "msg/s")
	zero("qos2-fanin")
	ratio("qos1-latency", mP99, 1, true, "p99")
	noWorse("qos1-latency", mP99)
	ratio("qos1-latency", mCPU, 1, true, "broker CPU")
	ratio("qos0-fanin", mCPUMsg, 1.0/3, true, "broker CPU per message")
	ratio("qos0-fanout", mCPUMsg, 1.0/3, true, "broker CPU per message")
	if v, ok := get("idle", a, mRSSConn); ok {
		rows = append(rows, row{"idle: " + a + " RSS per connection <= 4096 bytes", fmt.Sprintf("%.0f", v), verdict(v <= 4096)})
	}
	ratio("idle", mConnP99, 1, true, "CONNACK p99")
	noWorse("idle", mConnP99)
	if v, ok := get("qos0-fanout-slow", a, mDelivered); ok {
		if v0, ok := get("qos0-fanout", a, mDelivered); ok && v0 > 0 {
			rows = append(rows, row{"qos0-fanout-slow: " + a + " throughput with a stalled subscriber >= 95% of qos0-fanout",
				fmt.Sprintf("%.0f%%", 100*v/v0), verdict(v >= 0.95*v0)})
		}
	}
	// The same question asked of the broker's work, which a closed loop's
	// run-to-run swings in throughput do not move: what each delivered
	// message costs with the stalled subscriber, against without.
	if v, ok := get("qos0-fanout-slow", a, mCPUMsg); ok {
		if v0, ok := get("qos0-fanout", a, mCPUMsg); ok && v0 > 0 {
			rows = append(rows, row{"qos0-fanout-slow: " + a + " broker CPU per delivered message with a stalled subscriber <= 105% of qos0-fanout",
				fmt.Sprintf("%.0f%%", 100*v/v0), verdict(v <= 1.05*v0)})
		}
	}
	zero("qos0-fanout-slow")
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n| target | measured | met |\n|---|---:|---|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s |\n", r.target, r.got, r.verdict)
	}
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
