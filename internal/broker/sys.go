package broker

import (
	"math"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/midgemq/midge/internal/session"
)

// The $SYS tree (reference §3), as Mosquitto 2.0's src/sys_tree.c publishes
// it: broker-originated retained QoS 2 messages, so a new subscriber gets the
// current values at once with retain set and an existing one gets each update
// with retain clear, at min(2, subscription QoS).
//
//   - version is published once, before the first refresh; sys_interval 0
//     publishes nothing at all.
//   - The first refresh runs at startup, then every sys_interval+1 s (Mosquitto
//     refreshes when now − sys_interval > last_update, in whole seconds).
//   - uptime is published on every refresh; every other value only when it
//     changed since the last refresh; clients/maximum and heap/maximum only
//     when they grow.
//   - The load averages are published on the first refresh (as 0.00) and then
//     only when the new average moved by at least 0.01 from the previous one
//     (not from the last published one: a slow drift is never published).
//   - A live refresh publishes in Mosquitto's code order (sysRefresh), and
//     reads each value when it publishes it, as Mosquitto's single-threaded
//     loop does: the $SYS messages of a refresh are already counted in the
//     counters published after them.
//
// Deliberate differences (docs/COMPAT.md): clients/disconnected and
// clients/inactive count sessions with no connection, so they never go
// negative (Mosquitto's total − open sockets does while sockets have not sent
// CONNECT yet); the message store counts a message queued for several
// sessions once per session (Mosquitto stores it once); heap/* is the Go
// heap, and heap/maximum the highest value seen at a refresh.
// $SYS retained messages are never persisted (persistable, persist.go), and
// clients cannot publish into $SYS (authz.go).

// SysOptions configure the $SYS publisher.
type SysOptions struct {
	Interval time.Duration // sys_interval; 0 disables $SYS entirely
	Version  string        // value of $SYS/broker/version
}

const sysPrefix = "$SYS/broker/"

// sysLoadWindows are the load average windows, in Mosquitto's order.
var sysLoadWindows = [3]struct {
	name string
	secs float64
}{{"1min", 60}, {"5min", 300}, {"15min", 900}}

// A sysCounter is one event count behind a load average. Seven of them are
// also published as values; Mosquitto takes their load delta from the value
// published at the previous refresh, and the two others (sockets,
// connections) from a counter it resets at each load computation.
type sysCounter int

const (
	ctrMessagesIn sysCounter = iota
	ctrMessagesOut
	ctrPublishDropped
	ctrPublishIn
	ctrPublishOut
	ctrBytesIn
	ctrBytesOut
	ctrSockets
	ctrConnects
	numSysCounters
)

// sysLoadTopics name the load averages, in Mosquitto's order within a window.
var sysLoadTopics = [numSysCounters]string{
	"load/messages/received", "load/messages/sent", "load/publish/dropped", "load/publish/received",
	"load/publish/sent", "load/bytes/received", "load/bytes/sent", "load/sockets", "load/connections",
}

// sysRead returns the current value of counter k.
func (s *Server) sysRead(k sysCounter) int64 {
	st := &s.Stats
	switch k {
	case ctrMessagesIn:
		return st.MessagesReceived.Load()
	case ctrMessagesOut:
		return st.MessagesSent.Load()
	case ctrPublishDropped:
		return s.limitDrops()
	case ctrPublishIn:
		return st.PublishReceived.Load()
	case ctrPublishOut:
		return st.PublishSent.Load()
	case ctrBytesIn:
		return st.BytesReceived.Load()
	case ctrBytesOut:
		return st.BytesSent.Load()
	case ctrSockets:
		return st.SocketsAccepted.Load()
	default:
		return st.Connects.Load()
	}
}

// sysState is the publisher's memory between refreshes; only the StartSys
// goroutine touches it.
type sysState struct {
	start     time.Time
	last      map[string]string // value last published per topic
	refreshes int               // refreshes done
	lastUp    int64             // uptime (whole seconds) of the previous refresh
	maxTotal  int               // clients/maximum; published when it grows
	heapMax   uint64            // heap/maximum; published when it grows
	// prev is each counter's value the load deltas start from.
	prev  [numSysCounters]int64
	loads [numSysCounters][len(sysLoadWindows)]float64
	heap  []metrics.Sample
}

func newSysState(now time.Time) *sysState {
	return &sysState{start: now, last: map[string]string{},
		heap: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
}

// StartSys publishes the version and the first refresh now, before any
// client can connect (Mosquitto's first refresh precedes its first accept),
// and returns the refresh loop for the caller to run on its own goroutine;
// nil when the interval is 0.
func (s *Server) StartSys(o SysOptions) (loop func()) {
	if o.Interval <= 0 {
		return nil
	}
	st := newSysState(time.Now())
	s.sysPublish(st, "version", "mosquitto version "+o.Version, true)
	s.sysRefresh(st, st.start)
	return func() {
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
}

// sysPublish publishes $SYS/broker/<topic> if its value changed since it was
// last published, or always with force.
func (s *Server) sysPublish(st *sysState, topic, value string, force bool) {
	if prev, ok := st.last[topic]; ok && prev == value && !force {
		return
	}
	st.last[topic] = value
	s.deliverAll(&session.Message{Topic: sysPrefix + topic, Payload: []byte(value), QoS: 2, Retain: true})
}

// sysSessions is what the $SYS tree needs from the session registry.
type sysSessions struct {
	total, offline int
	stored         int   // messages queued or in flight, over every session
	storedBytes    int64 // their payload bytes
}

// sysScanSessions counts sessions and the messages they hold. A queued
// message that is also the current retained message of its topic is the
// same message object, and Mosquitto's store holds it once: it is counted
// with the retained messages only.
func (s *Server) sysScanSessions() sysSessions {
	var r sysSessions
	var maybeRetained []*session.Message
	add := func(m *session.Message) {
		if m.Retain {
			maybeRetained = append(maybeRetained, m)
			return
		}
		r.stored++
		r.storedBytes += m.Size()
	}
	for _, ss := range s.allSessions() {
		ss.Mu.Lock()
		if ss.Expired {
			ss.Mu.Unlock()
			continue
		}
		r.total++
		if ss.Conn == nil {
			r.offline++
		}
		for _, o := range ss.Inflight() {
			add(o.Msg)
		}
		for _, o := range ss.Queued() {
			add(o.Msg)
		}
		n, b := ss.Spilled()
		r.stored += n
		r.storedBytes += b
		ss.Mu.Unlock()
	}
	// Outside the session locks: a retained lookup under one could wait on
	// a retained writer that waits on a reader that waits on the session.
	for _, m := range maybeRetained {
		if cur, ok := s.retained.Get(m.Topic); ok && cur == m {
			continue
		}
		r.stored++
		r.storedBytes += m.Size()
	}
	return r
}

// allSessions returns the sessions known now, for a walk that takes each
// one's lock in turn (s.mu is not held during the walk).
func (s *Server) allSessions() []*session.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]*session.Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	return all
}

// connectedSockets counts open client sockets, including those that have
// not sent CONNECT yet (Mosquitto's contexts_by_sock).
func (s *Server) connectedSockets() int {
	n := 0
	s.lnMu.Lock()
	for _, l := range s.listeners {
		n += int(l.count.Load())
	}
	s.lnMu.Unlock()
	return n
}

// sysRefresh publishes one refresh in Mosquitto 2.0's order (reference §3
// "Order of delivery"). It runs on the StartSys loop's goroutine only.
func (s *Server) sysRefresh(st *sysState, now time.Time) {
	i := strconv.Itoa
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	pub := func(topic, v string) { s.sysPublish(st, topic, v, false) }
	// pubCounter publishes a counter that also feeds a load average; the
	// next load delta starts from the value published.
	pubCounter := func(topic string, k sysCounter) {
		v := s.sysRead(k)
		st.prev[k] = v
		pub(topic, i64(v))
	}

	up := max(int64(now.Sub(st.start)/time.Second), 0)
	s.sysPublish(st, "uptime", i64(up)+" seconds", true)

	ss := s.sysScanSessions()
	connected := s.connectedSockets()
	pub("clients/total", i(ss.total))
	if ss.total > st.maxTotal {
		st.maxTotal = ss.total
		pub("clients/maximum", i(st.maxTotal))
	}
	// Mosquitto publishes total − connected here, which goes negative while
	// sockets have not sent CONNECT; midge counts the sessions with no
	// connection instead (docs/COMPAT.md).
	pub("clients/inactive", i(ss.offline))
	pub("clients/disconnected", i(ss.offline))
	pub("clients/active", i(connected))
	pub("clients/connected", i(connected))
	pub("clients/expired", i64(s.Stats.ClientsExpired.Load()))

	s.sysLoads(st, up)

	stored := i(s.retained.Count() + ss.stored)
	pub("messages/stored", stored)
	pub("store/messages/count", stored)
	pub("store/messages/bytes", i64(s.retainedBytes()+ss.storedBytes))
	normal, shared := s.subs.Count()
	pub("subscriptions/count", i(normal))
	pub("shared_subscriptions/count", i(shared))
	pub("retained messages/count", i(s.retained.Count()))
	metrics.Read(st.heap)
	heap := st.heap[0].Value.Uint64()
	st.heapMax = max(st.heapMax, heap)
	pub("heap/current", strconv.FormatUint(heap, 10))
	pub("heap/maximum", strconv.FormatUint(st.heapMax, 10))
	pubCounter("messages/received", ctrMessagesIn)
	pubCounter("messages/sent", ctrMessagesOut)
	pubCounter("publish/messages/dropped", ctrPublishDropped)
	pubCounter("publish/messages/received", ctrPublishIn)
	pubCounter("publish/messages/sent", ctrPublishOut)
	pubCounter("bytes/received", ctrBytesIn)
	pubCounter("bytes/sent", ctrBytesOut)
	pub("publish/bytes/received", i64(s.Stats.PublishBytesIn.Load()))
	pub("publish/bytes/sent", i64(s.Stats.PublishBytesOut.Load()))
	st.refreshes++
	st.lastUp = up
}

// sysLoads advances and publishes the load averages: every 1min average,
// then every 5min, then every 15min. The first refresh publishes them all as
// 0.00; later ones publish an average that moved by at least 0.01.
func (s *Server) sysLoads(st *sysState, up int64) {
	first := st.refreshes == 0
	var delta [numSysCounters]int64
	for k := range numSysCounters {
		v := s.sysRead(k)
		delta[k] = v - st.prev[k]
		if k == ctrSockets || k == ctrConnects {
			st.prev[k] = v // Mosquitto resets these two here
		}
	}
	dt := up - st.lastUp // whole seconds, as Mosquitto's db.now_s
	if !first && dt <= 0 {
		return
	}
	for w, win := range sysLoadWindows {
		for k := range numSysCounters {
			old := st.loads[k][w]
			v := old
			if !first {
				v = loadAverage(old, delta[k], float64(dt), win.secs)
			}
			st.loads[k][w] = v
			if first || math.Abs(v-old) >= 0.01 {
				s.sysPublish(st, sysLoadTopics[k]+"/"+win.name, strconv.FormatFloat(v, 'f', 2, 64), true)
			}
		}
	}
}

// loadAverage is Mosquitto's load average step: the rate of delta events
// over dt seconds, per minute, smoothed over a window of window seconds as
// rate + e^(−dt/window)·(old − rate) (reference §3).
func loadAverage(old float64, delta int64, dt, window float64) float64 {
	rate := float64(delta) * 60 / dt
	return rate + math.Exp(-dt/window)*(old-rate)
}

// limitDrops counts what Mosquitto's publish/messages/dropped counts: drops
// by queue and outbound limits.
func (s *Server) limitDrops() int64 {
	return s.Stats.Dropped[DropQueueFull].Load() + s.Stats.Dropped[DropOutboundFull].Load()
}

// retainedBytes is the sum of the retained messages' payloads, $-topics
// included, kept by the retained index as messages are set and cleared.
func (s *Server) retainedBytes() int64 { return s.retained.Bytes() }
