// Package bench is `midge bench`, a load generator for any MQTT broker.
//
// It speaks MQTT over plain TCP with midge's own codec (internal/packet),
// encoding into reused buffers and parsing PUBLISH and acks in place, so
// that its own CPU cost per message stays small; it reports that cost, since
// on one machine the generator and the broker share the cores.
//
// Each message carries its send time (monotonic nanoseconds since the run
// started), the publisher index and a sequence number in the first 16 bytes
// of its payload; readers use them for end-to-end latency, loss and
// duplicate accounting. Runs are bounded: warmup + duration, then at most a
// drain period with nothing arriving.
package bench

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/midgemq/midge/internal/heapfloor"
	"github.com/midgemq/midge/internal/packet"
)

const usage = `Usage: midge bench [options]
       midge bench report [-o FILE] RESULTS.jsonl...

A load generator for any MQTT broker (MQTT 3.1.1 or 5 over TCP).

Scenarios (-s):
  fanin    many publishers, one subscriber to all of them (default 10 -> 1)
  fanout   one publisher, many subscribers (default 1 -> 50)
  pairs    N publisher/subscriber pairs, one topic each (default 50)
  shared   publishers to one shared subscription group ($share/bench/...)
  idle     open -conns connections at -connect-rate and hold them idle

Options:
`

// genHeapFloor is the generator's heap goal floor (heapfloor).
const genHeapFloor = 64 << 20

// Main runs `midge bench` with args (after "bench").
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "report" {
		return reportMain(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("midge bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var c Config
	var host string
	var port, qos, mqtt int
	var asJSON bool
	var round int
	fs.StringVar(&host, "h", "127.0.0.1", "broker host")
	fs.IntVar(&port, "p", 1883, "broker port")
	fs.StringVar(&c.Scenario, "s", "fanin", "scenario: fanin, fanout, pairs, shared, idle")
	fs.StringVar(&c.Name, "name", "", "name of this case in the output (default: the scenario)")
	fs.StringVar(&c.Label, "label", "", "name of the broker in the output")
	fs.IntVar(&round, "round", 0, "round number recorded in the output")
	fs.IntVar(&c.Pubs, "pubs", 0, "publishers (default per scenario)")
	fs.IntVar(&c.Subs, "subs", 0, "subscribers (default per scenario)")
	fs.IntVar(&c.Slow, "slow", 0, "extra subscribers that subscribe and then never read")
	fs.IntVar(&qos, "qos", 0, "QoS of publishes and subscriptions (0, 1, 2)")
	fs.IntVar(&c.Size, "size", 64, "payload bytes (at least 16)")
	fs.Float64Var(&c.Rate, "rate", 0, "total messages per second; 0 = closed-loop maximum")
	fs.DurationVar(&c.Warmup, "warmup", time.Second, "run before measuring")
	fs.DurationVar(&c.Duration, "d", 5*time.Second, "measured time")
	fs.Int64Var(&c.Count, "count", 0, "at most this many messages per publisher (0 = no limit)")
	fs.IntVar(&c.Window, "window", 500, "closed loop: undelivered messages allowed per publisher")
	fs.IntVar(&c.Inflight, "inflight", 100, "QoS 1/2: unacknowledged messages allowed per publisher")
	fs.IntVar(&c.Batch, "batch", 64, "at most this many messages per write")
	fs.IntVar(&mqtt, "V", 4, "MQTT protocol level: 4 (3.1.1) or 5")
	fs.IntVar(&c.Pid, "pid", 0, "broker pid: report its CPU and memory from /proc")
	fs.DurationVar(&c.Drain, "drain", 2*time.Second, "after publishing: stop waiting when nothing arrives for this long")
	fs.IntVar(&c.Conns, "conns", 0, "idle: connections (default 1000)")
	fs.Float64Var(&c.ConnectRate, "connect-rate", 0, "idle: connects per second (default 5000)")
	fs.DurationVar(&c.Hold, "hold", 0, "idle: wait after the last CONNACK before sampling memory (default 2s)")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON line")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if qos < 0 || qos > 2 || (mqtt != 4 && mqtt != 5) {
		fmt.Fprintln(stderr, "midge bench: -qos must be 0, 1 or 2 and -V 4 or 5")
		return 2
	}
	c.QoS, c.Version = byte(qos), byte(mqtt)
	if c.Version == 4 {
		c.Version = packet.V311
	}
	c.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	// The generator's own collections pause its clients mid-measurement,
	// whatever the broker: in a storm of 15,000 connects at the default
	// GOGC it collected eight times, each a burst of slow connects for
	// either broker, most of the CONNACK p99 (docs/BENCHMARKS.md). Its
	// heap in that storm stays under 24 MB, so with this floor nothing is
	// collected while it measures; a GOGC variable turns the floor off.
	defer heapfloor.Start(genHeapFloor)()
	res, err := Run(c)
	if err != nil {
		fmt.Fprintln(stderr, "midge bench:", err)
		if res == nil {
			return 1
		}
	}
	res.Round = round
	if asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printText(stdout, res)
	}
	if err != nil || len(res.Errors) > 0 {
		return 1
	}
	return 0
}

func printText(w io.Writer, r *Result) {
	if r.Idle != nil {
		i := r.Idle
		fmt.Fprintf(w, "%s: %d/%d connections (%d failed) at %.0f/s\n", r.Name, i.Connected, i.Conns, i.Failed, i.ConnectRate)
		fmt.Fprintf(w, "  CONNACK latency us: p50 %.1f  p99 %.1f  p999 %.1f  max %.1f\n",
			i.Connack.P50, i.Connack.P99, i.Connack.P999, i.Connack.Max)
		fmt.Fprintf(w, "  of which TCP connect us: p50 %.1f  p99 %.1f  p999 %.1f  max %.1f\n",
			i.Dial.P50, i.Dial.P99, i.Dial.P999, i.Dial.Max)
		if r.Broker != nil {
			fmt.Fprintf(w, "  broker RSS %d kB (base %d kB): %.0f bytes per connection\n", i.RSSKB, i.RSSBaseKB, i.RSSPerConn)
		}
	} else {
		mode := "closed loop"
		if r.Rate > 0 {
			mode = fmt.Sprintf("%.0f msg/s", r.Rate)
		}
		fmt.Fprintf(w, "%s: %s, %d pub -> %d sub, QoS %d, %d B, %s, %.1fs measured\n",
			r.Name, r.Scenario, r.Pubs, r.Subs, r.QoS, r.Size, mode, r.Window)
		fmt.Fprintf(w, "  delivered %.0f msg/s (published %.0f msg/s); sent %d, due %d, received %d, lost %d, duplicates %d\n",
			r.MsgsPerSec, r.PubPerSec, r.Sent, r.Expected, r.Received, r.Lost, r.Duplicates)
		if r.LossPerSub != nil {
			fmt.Fprintf(w, "  loss per subscription: %v\n", r.LossPerSub)
		}
		l := r.Latency
		fmt.Fprintf(w, "  latency us: p50 %.1f  p99 %.1f  p999 %.1f  max %.1f\n", l.P50, l.P99, l.P999, l.Max)
		if b := r.Broker; b != nil {
			fmt.Fprintf(w, "  broker: %.2f cores, %.2f us CPU per delivered message, RSS %d kB (peak %d kB)\n",
				b.CPU, b.CPUPerMsg, b.RSSKB, b.HWMKB)
		}
	}
	fmt.Fprintf(w, "  generator: %.2f cores, %.2f us CPU per delivered message", r.SelfCPU, r.SelfPer)
	if r.SelfGCs != nil {
		fmt.Fprintf(w, ", %d collections while measuring", *r.SelfGCs)
	}
	fmt.Fprintln(w)
	if r.StealMS != nil {
		fmt.Fprintf(w, "  machine: %.0f ms of CPU taken by the hypervisor (steal) while measuring\n", *r.StealMS)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "  errors: %s\n", strings.Join(r.Errors, "; "))
	}
}
