package broker

import (
	"math"
	"runtime"
	"strconv"
	"time"

	"github.com/midgemq/midge/internal/session"
)

// The $SYS tree (reference §3): broker-originated retained QoS 2 messages,
// refreshed every sys_interval (+1, as Mosquitto's whole-second comparison
// makes it), published only when a value changed, except uptime.

// SysOptions configure the $SYS publisher.
type SysOptions struct {
	Interval time.Duration // sys_interval; 0 disables $SYS entirely
	Version  string        // value of $SYS/broker/version
}

type loadAvg struct {
	topic string
	val   [3]float64 // 1, 5, 15 min
	last  int64
	seen  bool
}

type sysState struct {
	start    time.Time
	last     map[string]string
	maxTotal int
	lastTick time.Time
	loads    []*loadAvg
	heapMax  uint64
}

var loadWindows = [3]struct {
	name string
	secs float64
}{{"1min", 60}, {"5min", 300}, {"15min", 900}}

// RunSys publishes the $SYS tree until the server shuts down. It is started
// by the program; it returns at once when the interval is 0.
func (s *Server) RunSys(o SysOptions) {
	if o.Interval <= 0 {
		return
	}
	st := &sysState{start: time.Now(), last: map[string]string{}}
	for _, t := range []string{"messages/received", "messages/sent", "publish/received", "publish/sent",
		"publish/dropped", "bytes/received", "bytes/sent", "sockets", "connections"} {
		st.loads = append(st.loads, &loadAvg{topic: t})
	}
	s.sysPublish(st, "$SYS/broker/version", "mosquitto version "+o.Version, true)
	s.sysRefresh(st, time.Now())
	t := time.NewTicker(o.Interval + time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			s.sysRefresh(st, now)
		}
	}
}

// sysPublish publishes a value if it changed (or always when force).
func (s *Server) sysPublish(st *sysState, topic, value string, force bool) {
	if !force && st.last[topic] == value {
		return
	}
	st.last[topic] = value
	s.deliverAll(&session.Message{Topic: topic, Payload: []byte(value), QoS: 2, Retain: true})
}

func (s *Server) counts() (total, connected, inStore int, storeBytes int64) {
	s.lnMu.Lock()
	for _, l := range s.listeners {
		connected += int(l.count.Load())
	}
	s.lnMu.Unlock()
	s.mu.Lock()
	sessions := make([]*session.Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.Mu.Lock()
		inf, q := ss.Counts()
		ss.Mu.Unlock()
		inStore += inf + q
	}
	return len(sessions), connected, inStore, 0
}

// sysRefresh runs on the RunSys goroutine only.
func (s *Server) sysRefresh(st *sysState, now time.Time) {
	i := strconv.Itoa
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	pub := func(topic, v string) { s.sysPublish(st, "$SYS/broker/"+topic, v, false) }

	s.sysPublish(st, "$SYS/broker/uptime", i64(int64(now.Sub(st.start)/time.Second))+" seconds", true)
	total, connected, queued, _ := s.counts()
	if total > st.maxTotal {
		st.maxTotal = total
	}
	pub("clients/total", i(total))
	pub("clients/maximum", i(st.maxTotal))
	pub("clients/connected", i(connected))
	pub("clients/active", i(connected))
	pub("clients/disconnected", i(total-connected))
	pub("clients/inactive", i(total-connected))
	pub("clients/expired", i64(s.Stats.ClientsExpired.Load()))

	st.loadUpdate(now, s)
	for w := range loadWindows {
		for _, l := range st.loads {
			v := strconv.FormatFloat(l.val[w], 'f', 2, 64)
			s.sysPublish(st, "$SYS/broker/load/"+l.topic+"/"+loadWindows[w].name, v, false)
		}
	}
	retained := s.retained.Count()
	stored := retained + queued
	pub("messages/stored", i(stored))
	pub("store/messages/count", i(stored))
	pub("store/messages/bytes", i64(s.retainedBytes()))
	normal, shared := s.subs.Count()
	pub("subscriptions/count", i(normal))
	pub("shared_subscriptions/count", i(shared))
	pub("retained messages/count", i(retained))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > st.heapMax {
		st.heapMax = ms.HeapAlloc
	}
	pub("heap/current", strconv.FormatUint(ms.HeapAlloc, 10))
	pub("heap/maximum", strconv.FormatUint(st.heapMax, 10))
	pub("messages/received", i64(s.Stats.MessagesReceived.Load()))
	pub("messages/sent", i64(s.Stats.MessagesSent.Load()))
	pub("publish/messages/dropped", i64(s.limitDrops()))
	pub("publish/messages/received", i64(s.Stats.PublishReceived.Load()))
	pub("publish/messages/sent", i64(s.Stats.PublishSent.Load()))
	pub("bytes/received", i64(s.Stats.BytesReceived.Load()))
	pub("bytes/sent", i64(s.Stats.BytesSent.Load()))
	pub("publish/bytes/received", i64(s.Stats.PublishBytesIn.Load()))
	pub("publish/bytes/sent", i64(s.Stats.PublishBytesOut.Load()))
}

// limitDrops counts what Mosquitto's publish/messages/dropped counts: drops
// by queue and outbound limits.
func (s *Server) limitDrops() int64 {
	return s.Stats.Dropped[DropQueueFull].Load() + s.Stats.Dropped[DropOutboundFull].Load()
}

func (s *Server) retainedBytes() int64 {
	var n int64
	s.retained.Match("#", func(_ string, m *session.Message) bool { n += int64(len(m.Payload)); return true })
	s.retained.Match("$SYS/#", func(_ string, m *session.Message) bool { n += int64(len(m.Payload)); return true })
	return n
}

// loadUpdate advances the load averages: the per-minute rate over the last
// interval, smoothed as rate + e^(-dt/W)·(old − rate) (reference §3).
func (st *sysState) loadUpdate(now time.Time, s *Server) {
	vals := []int64{s.Stats.MessagesReceived.Load(), s.Stats.MessagesSent.Load(), s.Stats.PublishReceived.Load(),
		s.Stats.PublishSent.Load(), s.limitDrops(), s.Stats.BytesReceived.Load(), s.Stats.BytesSent.Load(),
		s.Stats.SocketsAccepted.Load(), s.Stats.Connects.Load()}
	dt := now.Sub(st.lastTick).Seconds()
	first := st.lastTick.IsZero()
	st.lastTick = now
	for k, l := range st.loads {
		cur := vals[k]
		if first || !l.seen {
			l.last, l.seen = cur, true
			continue
		}
		if dt <= 0 {
			continue
		}
		rate := float64(cur-l.last) * 60 / dt
		l.last = cur
		for w := range loadWindows {
			l.val[w] = rate + math.Exp(-dt/loadWindows[w].secs)*(l.val[w]-rate)
		}
	}
}
