package broker

import (
	"sync"
	"time"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/topic"
)

// delivery is one matched subscription of one publish.
type delivery struct {
	ss     *session.Session
	opts   topic.Options
	shared bool
}

type matchScratch struct {
	ds []delivery
}

var scratchPool = sync.Pool{New: func() any { return &matchScratch{ds: make([]delivery, 0, 16)} }}

// Publish injects a message from inside the broker (wills, $SYS). It is
// routed like a client's message, forwarder included. It returns the number
// of subscriptions that received it.
func (s *Server) Publish(m *session.Message) int { return s.route(m) }

// Forwarder receives every message the broker routes, except those injected
// with PublishFromPeer: the hook a bridge or cluster link uses to carry local
// traffic elsewhere. It runs on the publisher's goroutine and must not block.
type Forwarder func(m *session.Message)

// SetForwarder installs (or, with nil, removes) the forwarder.
func (s *Server) SetForwarder(f Forwarder) {
	if f == nil {
		s.forward.Store(nil)
		return
	}
	s.forward.Store(&f)
}

// PublishFromPeer routes a message that arrived from a bridge or cluster
// peer: delivered locally, not handed back to the forwarder.
func (s *Server) PublishFromPeer(m *session.Message) int { n, _ := s.deliverAll(m); return n }

// route stores a retained message and delivers m to every matching
// subscription, as Mosquitto does: one copy per session for v3 clients
// (the first match in tree order) unless allow_duplicate_messages, one per
// subscription for v5. It returns the number of deliveries.
func (s *Server) route(m *session.Message) int {
	n, _ := s.routeSeq(m)
	return n
}

// routeSeq is route that also returns the store sequence number of the
// writes it made (0 = none), for an ack to wait on (persist.go).
func (s *Server) routeSeq(m *session.Message) (int, uint64) {
	if f := s.forward.Load(); f != nil {
		(*f)(m)
	}
	return s.deliverAll(m)
}

// deliverAll stores a retained message and delivers it to local subscribers.
func (s *Server) deliverAll(m *session.Message) (int, uint64) {
	var seq uint64
	if m.Retain {
		if len(m.Payload) == 0 {
			s.retained.Delete(m.Topic)
		} else {
			s.retained.Set(m.Topic, m)
		}
		seq = s.persistRetained(m)
	}
	sc := scratchPool.Get().(*matchScratch)
	ds := sc.ds[:0]
	s.subs.Match(m.Topic, func(ss *session.Session, o topic.Options, shared bool) {
		ds = append(ds, delivery{ss, o, shared})
	})
	o := s.Options()
	n := 0
	now := time.Now().Unix()
	for i, d := range ds {
		// seenBefore first: it is cheap and rarely true, and the version
		// needs the session's lock (a takeover may be changing it).
		if !o.AllowDuplicateMessages && seenBefore(ds[:i], d.ss) && d.ss.ProtocolVersion() != packet.V5 {
			continue
		}
		if d.opts.NoLocal && d.ss.ID == m.Origin {
			continue
		}
		qos := m.QoS
		if o.UpgradeOutgoingQoS || d.opts.QoS < qos {
			qos = d.opts.QoS
		}
		var ids []uint32
		if d.opts.ID != 0 {
			ids = []uint32{d.opts.ID}
		}
		retain := m.Retain && d.opts.RetainAsPublished
		seq = max(seq, s.deliver(d.ss, m, qos, retain, ids, now))
		n++
	}
	for i := range ds {
		ds[i] = delivery{}
	}
	sc.ds = ds[:0]
	scratchPool.Put(sc)
	return n, seq
}

func seenBefore(ds []delivery, ss *session.Session) bool {
	for _, d := range ds {
		if d.ss == ss {
			return true
		}
	}
	return false
}

// deliver hands one message to one session: written now, queued, or dropped
// by a limit (counted, and logged once until the client reconnects). It
// returns the store sequence number of the message's record (0 = none).
func (s *Server) deliver(ss *session.Session, m *session.Message, qos byte, retain bool, ids []uint32, now int64) (seq uint64) {
	ss.Mu.Lock()
	defer ss.Mu.Unlock()
	if ss.Expired {
		return 0
	}
	if !readAllowed(ss, m.Topic) {
		s.Stats.Dropped[DropACLRead].Add(1)
		return 0
	}
	// Not yet CONNACKed, or closing: queue (sent by resume, or by the next
	// connection, without DUP).
	c := liveConn(ss)
	if c != nil && qos > c.l.spec.MaxQoS {
		qos = c.l.spec.MaxQoS
	}
	if s.pers != nil {
		ss.SetSpillMax(s.spillMax(ss)) // persist.go
	}
	o, dec, why := ss.Deliver(m, qos, retain, ids, c != nil)
	if dec == session.Queued || dec == session.Spilled || (dec == session.SendNow && o.QoS > 0) {
		seq = s.persistOut(ss, o)
	}
	if dec == session.Spilled {
		ss.NoteSpill(o.Seq, seq) // only in the store now (session/spill.go)
	}
	switch dec {
	case session.SendNow:
		c.writePublish(ss, o, now, true)
	case session.Dropped:
		cause := DropQueueFull
		if why == session.DropQoS0Offline {
			s.Stats.Dropped[DropQoS0Offline].Add(1)
			return 0 // not a limit Mosquitto logs
		}
		s.Stats.Dropped[cause].Add(1)
		if !ss.Dropping {
			ss.Dropping = true
			s.log.Log(logcat.Dropping, ss.ID)
		}
	}
	return seq
}

// attach binds a connection to the session for its client id, taking over a
// connected session and resuming or discarding a stored one (reference §6.2).
// It reports whether a session was resumed (CONNACK session present).
func (s *Server) attach(c *conn, id string, clean bool, expiry uint32, lim session.Limits) (*session.Session, bool) {
	s.mu.Lock()
	return s.attachLocked(c, id, clean, expiry, lim)
}

// attachLocked is attach with s.mu already held; it releases it.
func (s *Server) attachLocked(c *conn, id string, clean bool, expiry uint32, lim session.Limits) (*session.Session, bool) {
	old := s.sessions[id]
	var oldConn *conn
	var oldWill *session.Will
	present := false
	ss := old
	if old != nil {
		delete(s.offline, old) // online again, or ended below
		old.Mu.Lock()
		oldConn, _ = old.Conn.(*conn)
		if oldConn != nil && s.log.On(logcat.Takeover) {
			s.log.Log(logcat.Takeover, id)
		}
		// The old will is published if the old session was clean, or the new
		// connection starts clean; otherwise it is discarded.
		if old.Will != nil && (old.Expiry == 0 || clean) {
			oldWill = old.Will
		}
		old.Will = nil
		old.Conn = nil
		if clean || old.Expiry == 0 {
			old.Expired = true
			s.persistDiscard(old)
			old.Mu.Unlock()
			ss = nil
		} else {
			present = true
			old.Mu.Unlock()
		}
	}
	if ss == nil {
		ss = session.New(id, lim)
		s.sessions[id] = ss
	}
	ss.Mu.Lock()
	ss.Conn = c
	ss.Owner = c.owner
	ss.Version = c.version
	ss.Clean = clean
	ss.Expiry = expiry
	ss.DisconnectedAt = 0
	ss.Dropping = false
	ss.SetLimits(lim)
	s.persistSession(ss)
	ss.Mu.Unlock()
	s.mu.Unlock()

	if old != nil && ss != old {
		s.dropSubscriptions(old)
	}
	if oldConn != nil {
		oldConn.fail(reasonTakenOver)
	}
	if oldWill != nil {
		s.publishWill(oldWill)
	}
	return ss, present
}

// detach unbinds a closing connection from its session; clean sessions end,
// persistent ones stay for later. It returns the will to publish: nil if the
// client disconnected cleanly or the session was taken over.
func (s *Server) detach(c *conn, r closeReason) *session.Will {
	ss := c.sess
	s.mu.Lock()
	ss.Mu.Lock()
	if ss.Conn != c {
		ss.Mu.Unlock()
		s.mu.Unlock()
		return nil
	}
	ss.Conn = nil
	will := ss.Will
	ss.Will = nil
	end := ss.Expiry == 0
	if holdWill(ss, will, r) {
		ss.Will, will = will, nil // published later by the expiry loop (willdelay.go)
	}
	if end {
		ss.Expired = true
		if s.sessions[ss.ID] == ss {
			delete(s.sessions, ss.ID)
		}
	} else {
		ss.DisconnectedAt = time.Now().Unix()
		s.noteOffline(ss)
	}
	s.persistSession(ss)
	ss.Mu.Unlock()
	s.mu.Unlock()
	if end {
		s.dropSubscriptions(ss)
	}
	// A DISCONNECT leaves the will only with v5 reason 0x04 (handleDisconnect
	// clears it otherwise) [MQTT5-3.14.4-3].
	if r == reasonTakenOver {
		return nil
	}
	return will
}

func (s *Server) publishWill(w *session.Will) {
	if !willAllowed(w) {
		s.Stats.Dropped[DropACLWrite].Add(1)
		return // refused silently, as Mosquitto does
	}
	m := w.Msg
	if m.ExpiresAt < 0 {
		cp := *m
		cp.ExpiresAt = time.Now().Unix() - m.ExpiresAt
		m = &cp
	}
	s.route(m)
}
