package bench

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/internal/fdtable"
	"github.com/midgemq/midge/internal/packet"
)

// Config is one benchmark run.
type Config struct {
	Addr     string        // broker host:port
	Scenario string        // fanin, fanout, pairs, shared, idle
	Name     string        // free-form name of this case (for reports)
	Label    string        // free-form name of the broker (for reports)
	Pubs     int           // publishers
	Subs     int           // subscribers
	Slow     int           // extra subscribers that subscribe and never read
	QoS      byte          // 0, 1 or 2, for publishing and subscribing
	Size     int           // payload bytes (at least 16)
	Rate     float64       // total messages per second; 0 = closed-loop maximum
	Warmup   time.Duration // before measuring
	Duration time.Duration // measured window
	Count    int64         // at most this many messages per publisher (0 = no limit)
	Window   int           // closed loop: messages a publisher may have undelivered
	Inflight int           // QoS 1/2: unacknowledged messages per publisher
	Batch    int           // at most this many messages per write
	Version  byte          // packet.V311 or packet.V5
	Pid      int           // broker pid for /proc sampling (0 = none)
	Drain    time.Duration // after publishing stops: give up when nothing arrives for this long

	Conns       int           // idle: connections to open
	ConnectRate float64       // idle: connects per second
	Hold        time.Duration // idle: wait after the last CONNACK before sampling memory
}

// Defaults fills unset fields with the scenario's defaults.
func (c *Config) Defaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	switch c.Scenario {
	case "fanin":
		def(&c.Pubs, 10)
		def(&c.Subs, 1)
	case "fanout":
		def(&c.Pubs, 1)
		def(&c.Subs, 50)
	case "pairs":
		def(&c.Pubs, 50)
		c.Subs = c.Pubs
	case "shared":
		def(&c.Pubs, 4)
		def(&c.Subs, 4)
	case "idle":
		def(&c.Conns, 1000)
		if c.ConnectRate == 0 {
			c.ConnectRate = 5000
		}
		if c.Hold == 0 {
			c.Hold = 2 * time.Second
		}
	}
	def(&c.Size, 64)
	if c.Size < 16 {
		c.Size = 16
	}
	def(&c.Window, 500)
	def(&c.Inflight, 100)
	def(&c.Batch, 64)
	if c.Version == 0 {
		c.Version = packet.V311
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Drain == 0 {
		c.Drain = 2 * time.Second
	}
	if c.Name == "" {
		c.Name = c.Scenario
	}
}

// Result is what a run measured. Rates are per second of the measured
// window; CPU figures are cores (CPU seconds per second) and microseconds of
// CPU per delivered message.
type Result struct {
	Name     string  `json:"name"`
	Label    string  `json:"label,omitempty"`
	Round    int     `json:"round,omitempty"`
	Scenario string  `json:"scenario"`
	QoS      byte    `json:"qos"`
	Size     int     `json:"size"`
	Pubs     int     `json:"pubs"`
	Subs     int     `json:"subs"`
	Slow     int     `json:"slow,omitempty"`
	Rate     float64 `json:"rate"` // target; 0 = closed loop
	Window   float64 `json:"window_s"`

	Sent       int64   `json:"sent"`
	Expected   int64   `json:"expected"` // deliveries due to the readers
	Received   int64   `json:"received"` // distinct deliveries
	Lost       int64   `json:"lost"`
	Duplicates int64   `json:"duplicates"`
	LossPerSub []int64 `json:"loss_per_sub,omitempty"` // only when something was lost
	PubPerSec  float64 `json:"published_per_s"`
	MsgsPerSec float64 `json:"delivered_per_s"`
	Latency    Latency `json:"latency"`

	Broker  *BrokerStats `json:"broker,omitempty"`
	SelfCPU float64      `json:"self_cpu_cores"`
	SelfPer float64      `json:"self_cpu_us_per_msg"`
	SelfGCs *uint64      `json:"self_gcs,omitempty"` // the generator's collections in the measured window
	// StealMS is the CPU time the hypervisor took from this machine while
	// measuring (stealTime), in milliseconds summed over CPUs; nil where
	// it cannot be read, or in results from before it was recorded.
	StealMS *float64   `json:"steal_ms,omitempty"`
	Idle    *IdleStats `json:"idle,omitempty"`
	Errors  []string   `json:"errors,omitempty"`
}

// BrokerStats come from /proc/<pid> of the broker.
type BrokerStats struct {
	Pid       int     `json:"pid"`
	CPU       float64 `json:"cpu_cores"`
	CPUPerMsg float64 `json:"cpu_us_per_msg"`
	RSSKB     int64   `json:"rss_kb"`
	HWMKB     int64   `json:"peak_rss_kb"`
}

// IdleStats are the idle-connections scenario's figures.
type IdleStats struct {
	Conns       int     `json:"conns"`
	Connected   int     `json:"connected"`
	Failed      int     `json:"failed"`
	ConnectRate float64 `json:"connect_rate"`
	Connack     Latency `json:"connack"` // from dialling to CONNACK
	Dial        Latency `json:"dial"`    // the TCP connect alone: the generator's and kernel's share
	RSSBaseKB   int64   `json:"rss_base_kb"`
	RSSKB       int64   `json:"rss_kb"`
	RSSPerConn  float64 `json:"rss_bytes_per_conn"`
}

type publisher struct {
	idx       int
	c         *client
	topic     string
	k         int64 // readers due each message
	sent      atomic.Int64
	delivered atomic.Int64 // deliveries counted by readers
	acked     atomic.Int64
	kick      chan struct{}
	wmu       sync.Mutex // the ack reader writes PUBREL too
}

func (p *publisher) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

type subscriber struct {
	idx    int
	c      *client
	filter string
	shared bool
	only   int // the one publisher it hears from, -1 for all
	slow   bool

	seen    [][]uint64 // per publisher, a bit per sequence number
	dups    int64
	bad     int64
	hist    hist
	local   []int64
	touched []int
	count   atomic.Int64 // deliveries, duplicates included
	uniq    atomic.Int64
}

type runner struct {
	cfg       Config
	epoch     time.Time
	pubs      []*publisher
	subs      []*subscriber
	stop      atomic.Bool
	measuring atomic.Bool
	errMu     sync.Mutex
	errs      []string
}

func (r *runner) fail(format string, a ...any) {
	r.errMu.Lock()
	if len(r.errs) < 20 {
		r.errs = append(r.errs, fmt.Sprintf(format, a...))
	}
	r.errMu.Unlock()
}

const dialTimeout = 10 * time.Second

// Run runs one benchmark and returns what it measured. It stops by itself:
// warmup + duration, then at most a drain period.
func Run(cfg Config) (*Result, error) {
	cfg.Defaults()
	// The generator opens a descriptor per client: growing its table in
	// the middle of a connect storm would stall every dial in flight at
	// each power of two (fdtable), in the measurement of any broker.
	clients := cfg.Pubs + cfg.Subs + cfg.Slow
	if cfg.Scenario == "idle" {
		clients = cfg.Conns
	}
	fdtable.Reserve(clients + 64)
	if cfg.Scenario == "idle" {
		return runIdle(cfg)
	}
	switch cfg.Scenario {
	case "fanin", "fanout", "pairs", "shared":
	default:
		return nil, fmt.Errorf("unknown scenario %q (fanin, fanout, pairs, shared, idle)", cfg.Scenario)
	}
	if cfg.QoS > 2 {
		return nil, fmt.Errorf("qos must be 0, 1 or 2")
	}
	r := &runner{cfg: cfg, epoch: time.Now()}
	run := strconv.FormatInt(r.epoch.UnixNano()%1e9, 36)
	base := "midge-bench/" + run
	for i := 0; i < cfg.Pubs; i++ {
		r.pubs = append(r.pubs, &publisher{idx: i, topic: base + "/p" + strconv.Itoa(i), kick: make(chan struct{}, 1)})
	}
	for j := 0; j < cfg.Subs+cfg.Slow; j++ {
		s := &subscriber{idx: j, filter: base + "/+", only: -1, slow: j >= cfg.Subs}
		switch {
		case s.slow:
		case cfg.Scenario == "pairs":
			s.filter, s.only = r.pubs[j%cfg.Pubs].topic, j%cfg.Pubs
		case cfg.Scenario == "shared":
			s.filter, s.shared = "$share/bench/"+base+"/+", true
		}
		s.seen = make([][]uint64, cfg.Pubs)
		s.local = make([]int64, cfg.Pubs)
		r.subs = append(r.subs, s)
	}
	for _, p := range r.pubs {
		for _, s := range r.subs {
			if !s.slow && !s.shared && (s.only < 0 || s.only == p.idx) {
				p.k++
			}
		}
		if cfg.Scenario == "shared" && cfg.Subs > 0 {
			p.k++
		}
	}
	defer r.closeAll()
	for _, s := range r.subs {
		c, err := dial(cfg.Addr, dialTimeout)
		if err != nil {
			return nil, err
		}
		s.c = c
		if err := c.connect("mb-"+run+"-s"+strconv.Itoa(s.idx), cfg.Version, dialTimeout); err != nil {
			return nil, fmt.Errorf("subscriber %d: %v", s.idx, err)
		}
		if err := c.subscribe(s.filter, cfg.QoS, dialTimeout); err != nil {
			return nil, fmt.Errorf("subscriber %d: %v", s.idx, err)
		}
	}
	for _, p := range r.pubs {
		c, err := dial(cfg.Addr, dialTimeout)
		if err != nil {
			return nil, err
		}
		p.c = c
		if err := c.connect("mb-"+run+"-p"+strconv.Itoa(p.idx), cfg.Version, dialTimeout); err != nil {
			return nil, fmt.Errorf("publisher %d: %v", p.idx, err)
		}
	}

	var readers, writers sync.WaitGroup
	for _, s := range r.subs {
		if s.slow {
			continue
		}
		s.c.grow(64 << 10)
		readers.Add(1)
		go func() { defer readers.Done(); r.readSub(s) }()
	}
	for _, p := range r.pubs {
		if cfg.QoS > 0 {
			p.c.grow(16 << 10)
			readers.Add(1)
			go func() { defer readers.Done(); r.readAcks(p) }()
		}
		writers.Add(1)
		go func() { defer writers.Done(); r.publish(p) }()
	}

	time.Sleep(cfg.Warmup)
	del0, self0, b0, t0 := r.delivered(), selfCPU(), sampleProc(cfg.Pid), time.Now()
	gc0 := selfGCs()
	st0, stOK0 := stealTime()
	r.measuring.Store(true)
	time.Sleep(cfg.Duration)
	r.measuring.Store(false)
	del1, self1, b1, t1 := r.delivered(), selfCPU(), sampleProc(cfg.Pid), time.Now()
	gc1 := selfGCs()
	st1, stOK1 := stealTime()
	sent1 := r.sent()
	r.stop.Store(true)
	for _, p := range r.pubs {
		p.wake()
	}
	writers.Wait()
	r.drain()
	r.closeAll()
	readers.Wait()

	win := t1.Sub(t0).Seconds()
	res := &Result{Name: cfg.Name, Label: cfg.Label, Scenario: cfg.Scenario, QoS: cfg.QoS, Size: cfg.Size,
		Pubs: cfg.Pubs, Subs: cfg.Subs, Slow: cfg.Slow, Rate: cfg.Rate, Window: win}
	res.MsgsPerSec = float64(del1-del0) / win
	res.PubPerSec = float64(sent1) / t1.Sub(r.epoch).Seconds()
	r.account(res)
	res.SelfGCs = ptr(gc1 - gc0)
	if stOK0 && stOK1 {
		res.StealMS = ptr(float64(st1-st0) / float64(time.Millisecond))
	}
	if d := del1 - del0; d > 0 {
		res.SelfCPU = (self1 - self0).Seconds() / win
		res.SelfPer = float64((self1 - self0).Microseconds()) / float64(d)
		if b0.ok && b1.ok {
			res.Broker = &BrokerStats{Pid: cfg.Pid, CPU: (b1.cpu - b0.cpu).Seconds() / win,
				CPUPerMsg: float64((b1.cpu - b0.cpu).Microseconds()) / float64(d), RSSKB: b1.rssKB, HWMKB: b1.hwmKB}
		}
	}
	res.Errors = r.errs
	return res, nil
}

func (r *runner) delivered() int64 {
	var n int64
	for _, s := range r.subs {
		n += s.count.Load()
	}
	return n
}

func (r *runner) sent() int64 {
	var n int64
	for _, p := range r.pubs {
		n += p.sent.Load()
	}
	return n
}

// expected is the deliveries due to subscriber s given what was sent.
func (r *runner) expected(s *subscriber) int64 {
	if s.slow {
		return 0
	}
	if s.only >= 0 {
		return r.pubs[s.only].sent.Load()
	}
	return r.sent()
}

// drain waits until the readers have everything or nothing arrives for
// cfg.Drain; QoS 1/2 publishers also wait for their acks.
func (r *runner) drain() {
	progress := func() int64 {
		n := r.delivered()
		for _, p := range r.pubs {
			n += p.acked.Load()
		}
		return n
	}
	done := func() bool {
		var exp, got int64
		for _, s := range r.subs {
			if !s.shared {
				exp += r.expected(s)
			}
			got += s.uniq.Load()
		}
		if r.cfg.Scenario == "shared" {
			exp += r.sent()
		}
		if got < exp {
			return false
		}
		if r.cfg.QoS > 0 {
			for _, p := range r.pubs {
				if p.acked.Load() < p.sent.Load() {
					return false
				}
			}
		}
		return true
	}
	last, lastAt := progress(), time.Now()
	for !done() {
		time.Sleep(10 * time.Millisecond)
		if n := progress(); n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > r.cfg.Drain {
			return
		}
	}
}

func (r *runner) closeAll() {
	for _, s := range r.subs {
		if s.c != nil {
			s.c.close()
		}
	}
	for _, p := range r.pubs {
		if p.c != nil {
			p.wmu.Lock()
			p.c.close()
			p.wmu.Unlock()
		}
	}
}

// account fills loss, duplicates and latency once every reader has stopped.
func (r *runner) account(res *Result) {
	var h hist
	lossPer := make([]int64, 0, len(r.subs))
	anyLoss := false
	var union [][]uint64 // the shared group's
	var groupSum int64
	for _, s := range r.subs {
		if s.slow {
			continue
		}
		h.merge(&s.hist)
		res.Duplicates += s.dups
		var got int64
		for pi, bm := range s.seen {
			got += popcount(bm)
			if s.shared {
				if union == nil {
					union = make([][]uint64, len(r.pubs))
				}
				for len(union[pi]) < len(bm) {
					union[pi] = append(union[pi], 0)
				}
				for i, w := range bm {
					union[pi][i] |= w
				}
			}
		}
		if s.shared {
			groupSum += got
			continue
		}
		exp := r.expected(s)
		res.Expected += exp
		res.Received += got
		lossPer = append(lossPer, exp-got)
		if exp != got {
			anyLoss = true
		}
	}
	if union != nil {
		var got int64
		for _, bm := range union {
			got += popcount(bm)
		}
		exp := r.sent()
		res.Expected += exp
		res.Received += got
		res.Duplicates += groupSum - got
		lossPer = append(lossPer, exp-got)
		if exp != got {
			anyLoss = true
		}
	}
	res.Sent = r.sent()
	res.Lost = res.Expected - res.Received
	if anyLoss {
		res.LossPerSub = lossPer
	}
	res.Latency = h.summary()
}

func popcount(bm []uint64) int64 {
	var n int
	for _, w := range bm {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// publish writes messages until stopped: paced at the configured rate, or
// as fast as the closed-loop window and the QoS inflight window allow.
func (r *runner) publish(p *publisher) {
	cfg := &r.cfg
	payload := make([]byte, cfg.Size)
	binary.BigEndian.PutUint32(payload[8:], uint32(p.idx))
	msg := packet.Publish{QoS: cfg.QoS, Topic: p.topic, Payload: payload}
	buf := make([]byte, 0, cfg.Batch*packet.PublishSize(cfg.Version, &msg))
	perPub := cfg.Rate / float64(len(r.pubs))
	timer := time.NewTimer(time.Hour)
	wait := func(d time.Duration) {
		timer.Reset(d)
		select {
		case <-p.kick:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
	var seq int64
	for !r.stop.Load() {
		if cfg.Count > 0 && seq >= cfg.Count {
			return
		}
		n := int64(cfg.Batch)
		if cfg.Count > 0 {
			n = min(n, cfg.Count-seq)
		}
		if perPub > 0 {
			el := time.Since(r.epoch)
			due := int64(el.Seconds()*perPub) + 1 - seq
			if due <= 0 {
				next := time.Duration(float64(seq) / perPub * float64(time.Second))
				time.Sleep(next - el)
				continue
			}
			n = min(n, due)
		} else if p.k > 0 {
			out := seq - p.delivered.Load()/p.k
			if room := int64(cfg.Window) - out; room < n {
				if room <= 0 {
					wait(50 * time.Millisecond)
					continue
				}
				n = room
			}
		}
		if cfg.QoS > 0 {
			if room := int64(cfg.Inflight) - (seq - p.acked.Load()); room < n {
				if room <= 0 {
					wait(50 * time.Millisecond)
					continue
				}
				n = room
			}
		}
		now := time.Since(r.epoch)
		binary.BigEndian.PutUint64(payload, uint64(now))
		buf = buf[:0]
		for i := int64(0); i < n; i++ {
			binary.BigEndian.PutUint32(payload[12:], uint32(seq))
			msg.PacketID = uint16(seq%65535 + 1)
			buf = packet.AppendPublish(buf, cfg.Version, &msg)
			seq++
		}
		if cfg.QoS == 2 {
			p.wmu.Lock()
		}
		_, err := p.c.nc.Write(buf)
		if cfg.QoS == 2 {
			p.wmu.Unlock()
		}
		if err != nil {
			r.fail("publisher %d: %v", p.idx, err)
			return
		}
		p.sent.Store(seq)
	}
}

// readAcks reads a QoS 1/2 publisher's acks, answering PUBREC with PUBREL.
func (r *runner) readAcks(p *publisher) {
	c := p.c
	var out []byte
	for {
		if err := c.fill(); err != nil {
			if !r.stop.Load() {
				r.fail("publisher %d: %v", p.idx, err)
			}
			return
		}
		out = out[:0]
		var acked int64
		for {
			first, body, ok, err := c.parse()
			if err != nil {
				r.fail("publisher %d: %v", p.idx, err)
				return
			}
			if !ok {
				break
			}
			switch packet.Type(first >> 4) {
			case packet.PUBACK, packet.PUBCOMP:
				acked++
			case packet.PUBREC:
				out = appendAck(out, c.version, packet.PUBREL, ackID(body))
			}
		}
		if len(out) > 0 {
			p.wmu.Lock()
			_, err := c.nc.Write(out)
			p.wmu.Unlock()
			if err != nil {
				return
			}
		}
		if acked > 0 {
			p.acked.Add(acked)
			p.wake()
		}
	}
}

// readSub reads a subscriber's messages: counts, duplicates, latency, and
// acks for QoS 1/2, written once per read.
func (r *runner) readSub(s *subscriber) {
	c := s.c
	var out []byte
	for {
		if err := c.fill(); err != nil {
			if !r.stop.Load() {
				r.fail("subscriber %d: %v", s.idx, err)
			}
			return
		}
		now := int64(time.Since(r.epoch))
		measuring := r.measuring.Load()
		out = out[:0]
		var n, uniq int64
		for {
			first, body, ok, err := c.parse()
			if err != nil {
				r.fail("subscriber %d: %v", s.idx, err)
				return
			}
			if !ok {
				break
			}
			switch packet.Type(first >> 4) {
			case packet.PUBLISH:
				v, err := parsePublish(first, body, c.version)
				if err != nil || len(v.payload) < 16 {
					s.bad++
					continue
				}
				switch v.qos {
				case 1:
					out = appendAck(out, c.version, packet.PUBACK, v.id)
				case 2:
					out = appendAck(out, c.version, packet.PUBREC, v.id)
				}
				ts := int64(binary.BigEndian.Uint64(v.payload))
				pi := int(binary.BigEndian.Uint32(v.payload[8:]))
				seq := int(binary.BigEndian.Uint32(v.payload[12:]))
				if pi >= len(s.seen) {
					s.bad++
					continue
				}
				n++
				bm := s.seen[pi]
				w := seq >> 6
				for len(bm) <= w {
					bm = append(bm, 0)
				}
				s.seen[pi] = bm
				if bm[w]&(1<<(seq&63)) != 0 {
					s.dups++
					continue
				}
				bm[w] |= 1 << (seq & 63)
				uniq++
				if measuring {
					s.hist.record(now - ts)
				}
				if s.local[pi] == 0 {
					s.touched = append(s.touched, pi)
				}
				s.local[pi]++
			case packet.PUBREL:
				out = appendAck(out, c.version, packet.PUBCOMP, ackID(body))
			}
		}
		if len(out) > 0 {
			if _, err := c.nc.Write(out); err != nil {
				return
			}
		}
		if n > 0 {
			s.count.Add(n)
			s.uniq.Add(uniq)
		}
		for _, pi := range s.touched {
			r.pubs[pi].delivered.Add(s.local[pi])
			s.local[pi] = 0
			r.pubs[pi].wake()
		}
		s.touched = s.touched[:0]
	}
}
