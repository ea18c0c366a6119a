package broker

import (
	"encoding/binary"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/store"
	"github.com/midgemq/midge/internal/topic"
)

// Persistence (issue 4, docs/PERSISTENCE.md). With a store attached, every
// change to durable state is enqueued to the store's group committer in the
// order it happens in memory (under the lock that orders it: Session.Mu for a
// session's messages and subscriptions, Server.mu for session records), and
// an acknowledgement waits for the writes it covers:
//
//	PUBACK (QoS 1)   the copies queued for persistent sessions and the retained message
//	PUBREC (QoS 2)   the inbound message of a persistent publisher
//	PUBCOMP          the copies routed at PUBREL, atomically with the inbound delete
//	PUBREL (outbound) the subscriber's PUBREC state
//	SUBACK, UNSUBACK the subscriptions of a persistent session
//
// Clean sessions write nothing and never wait; QoS 0 never waits. The
// connection's reader goroutine blocks in Wait, so a client's next packet is
// read once its ack is durable, while other connections go on; one fsync
// covers every connection waiting at that moment.

// persister is the broker's side of the store.
type persister struct {
	db     *store.DB
	seq    atomic.Uint64 // last outbound record key used
	failed atomic.Bool   // the refusal line was logged
	memMax int           // max_queued_in_memory (0 = every queued message in RAM)
}

// SetStore attaches a store. Call before Restore and Serve, after the
// options are set (max_queued_in_memory is read here).
func (s *Server) SetStore(db *store.DB) {
	s.pers = &persister{db: db, memMax: s.Options().MaxQueuedInMemory}
	s.storeRef.Store(db)
}

// storeBacked reports whether the outbound messages of ss are written to
// the store: a persistent session, or one that became clean while some of
// its queued messages were only in the store (spilled), until they are read
// back. ss.Mu held.
func storeBacked(ss *session.Session) bool {
	if ss.Persisted && ss.Expiry != 0 {
		return true
	}
	n, _ := ss.Spilled()
	return n > 0
}

// spillMax is the in-memory bound of the queue of ss (session/spill.go):
// max_queued_in_memory for a store-backed session, none otherwise. ss.Mu held.
func (s *Server) spillMax(ss *session.Session) int {
	if s.pers == nil || !storeBacked(ss) {
		return 0
	}
	return s.pers.memMax
}

// maybePageIn starts reading spilled messages of a connected session back
// from the store when its in-memory queue has drained. ss.Mu held.
func (s *Server) maybePageIn(ss *session.Session) {
	if s.pers == nil || ss.Conn == nil {
		return
	}
	ss.SetSpillMax(s.spillMax(ss))
	if ss.PageWanted() {
		go s.pageIn(ss)
	}
}

// pageIn reads the next spilled messages of ss back from the store into its
// queue and sends what the window admits (which starts the next read when
// the queue drains again). It runs on its own goroutine: it waits for the
// spilled records to be written without holding ss.Mu.
func (s *Server) pageIn(ss *session.Session) {
	ss.Mu.Lock()
	if ss.Conn == nil || ss.Expired {
		ss.Mu.Unlock()
		return
	}
	from, wait, n, ok := ss.BeginPage()
	ss.Mu.Unlock()
	if !ok {
		return
	}
	got, next, err := s.readSpilled(ss.ID, from, wait, n)
	ss.Mu.Lock()
	defer ss.Mu.Unlock()
	if err != nil {
		ss.AbortPage(from)
		s.log.Log(logcat.PersistError, err.Error())
		return
	}
	ss.EndPage(from, wait, got, next, len(got) < n)
	s.dropUnreadable(ss, false) // spilled before a resume: not checked by it (authz.go)
	if c := liveConn(ss); c != nil && !ss.Expired {
		c.promote(ss, time.Now().Unix())
	}
}

// readSpilled waits for the store write wait, then reads up to n queued
// (not in flight) outbound records of session id from key from on. It
// returns them in key order and the key after the last one read.
func (s *Server) readSpilled(id string, from, wait uint64, n int) ([]*session.Outbound, uint64, error) {
	if err := s.pers.db.Wait(wait); err != nil {
		return nil, 0, err
	}
	var got []*session.Outbound
	next := from
	errEnough := errors.New("enough")
	err := s.pers.db.Engine().IterateFrom(store.OutPrefix(id), store.OutKey(id, from), func(k, v []byte) error {
		_, rest, ok := store.SplitID(k, store.PrefixOut)
		if !ok || len(rest) != 8 {
			return nil
		}
		o, err := store.DecodeOutbound(v)
		if err != nil {
			return err
		}
		o.Seq = binary.BigEndian.Uint64(rest)
		next = o.Seq + 1
		if o.Mid != 0 {
			return nil // in flight: in memory already
		}
		got = append(got, o)
		if len(got) == n {
			return errEnough
		}
		return nil
	})
	if err != nil && err != errEnough {
		return nil, 0, err
	}
	return got, next, nil
}

// Store returns the attached store, or nil.
// It may be called from any goroutine (a metrics scrape during a restore):
// it reads storeRef, not pers, which the broker's own paths read unlocked
// once SetStore has run.
func (s *Server) Store() *store.DB { return s.storeRef.Load() }

// storeFailed reports (and logs once) a store that can no longer write:
// new QoS 1/2 work is refused rather than acknowledged.
func (s *Server) storeFailed() bool {
	p := s.pers
	if p == nil {
		return false
	}
	err := p.db.Err()
	if err == nil {
		return false
	}
	if !p.failed.Swap(true) {
		s.log.Log(logcat.PersistWriteFailed, err.Error())
	}
	return true
}

// waitDurable waits for the writes up to seq (0 = none). It reports false
// if the store failed: the caller must not acknowledge.
func (s *Server) waitDurable(seq uint64) bool {
	if seq == 0 || s.pers == nil {
		return true
	}
	if s.pers.db.Wait(seq) != nil {
		s.storeFailed()
		return false
	}
	return true
}

// hold makes the writes until release one atomic batch (nil-safe).
func (s *Server) hold() func() {
	if s.pers == nil {
		return func() {}
	}
	return s.pers.db.Hold()
}

func persistable(t string) bool { return !strings.HasPrefix(t, "$SYS") }

// persistRetained records a retained message change.
func (s *Server) persistRetained(m *session.Message) uint64 {
	if s.pers == nil || !persistable(m.Topic) {
		return 0
	}
	if len(m.Payload) == 0 {
		return s.pers.db.Enqueue(store.Op{Key: store.RetainedKey(m.Topic), Kind: store.Delete})
	}
	return s.pers.db.Enqueue(store.Op{Key: store.RetainedKey(m.Topic), Value: store.EncodeMessage(m)})
}

// persistOut records an outbound message newly queued or sent to a
// persistent session, or its new state. ss.Mu held.
func (s *Server) persistOut(ss *session.Session, o *session.Outbound) uint64 {
	if s.pers == nil || o == nil || !storeBacked(ss) {
		return 0
	}
	if o.Seq == 0 {
		o.Seq = s.pers.seq.Add(1)
	}
	o.WriteSeq = s.pers.db.Enqueue(store.Op{Key: store.OutKey(ss.ID, o.Seq), Value: store.EncodeOutbound(o)})
	return o.WriteSeq
}

// persistOutDone removes a completed outbound message. ss.Mu held.
func (s *Server) persistOutDone(ss *session.Session, o *session.Outbound) uint64 {
	if s.pers == nil || o == nil || o.Seq == 0 {
		return 0
	}
	return s.pers.db.Enqueue(store.Op{Key: store.OutKey(ss.ID, o.Seq), Kind: store.Delete})
}

// persistSession writes the session record of a persistent session, or
// removes every key of one that ended. ss.Mu held (and Server.mu, which
// orders records of one client id, except for SaveStore's rewrite of a
// record that is still Persisted).
func (s *Server) persistSession(ss *session.Session) uint64 {
	if s.pers == nil {
		return 0
	}
	if ss.Expiry == 0 || ss.Expired {
		if !ss.Persisted {
			if n, _ := ss.Spilled(); n > 0 && ss.Expired {
				return s.pers.db.Enqueue(store.DeleteSession(ss.ID)...)
			}
			return 0
		}
		ss.Persisted = false
		ops := store.DeleteSession(ss.ID)
		if n, _ := ss.Spilled(); n > 0 && !ss.Expired {
			// A persistent session resumed as a clean one: its spilled
			// messages are still read back from their records, which go as
			// they are delivered (after a crash they are orphans, dropped).
			ops = keepOut(ops)
		}
		return s.pers.db.Enqueue(ops...)
	}
	ss.Persisted = true
	rec := &store.Session{Version: ss.Version, Expiry: ss.Expiry, DisconnectedAt: ss.DisconnectedAt}
	if ss.Will != nil && ss.Conn == nil {
		rec.Will, rec.WillDelay = ss.Will.Msg, ss.Will.Delay
	}
	return s.pers.db.Enqueue(store.Op{Key: store.SessionKey(ss.ID), Value: store.EncodeSession(rec)})
}

// keepOut drops the range delete of outbound records from DeleteSession's ops.
func keepOut(ops []store.Op) []store.Op {
	out := ops[:0]
	for _, op := range ops {
		if op.Kind == store.DeleteRange && strings.HasPrefix(string(op.Key), store.PrefixOut) {
			continue
		}
		out = append(out, op)
	}
	return out
}

// persistDiscard removes the keys of a session that is replaced or expired.
// ss.Mu held.
func (s *Server) persistDiscard(ss *session.Session) {
	if n, _ := ss.Spilled(); s.pers == nil || (!ss.Persisted && n == 0) {
		return
	}
	ss.Persisted = false
	s.pers.db.Enqueue(store.DeleteSession(ss.ID)...)
}

// persistSub records a subscription change. ss.Mu held.
func (s *Server) persistSub(ss *session.Session, filter string, opts *topic.Options) uint64 {
	if s.pers == nil || !ss.Persisted || ss.Expiry == 0 {
		return 0
	}
	if opts == nil {
		return s.pers.db.Enqueue(store.Op{Key: store.SubKey(ss.ID, filter), Kind: store.Delete})
	}
	return s.pers.db.Enqueue(store.Op{Key: store.SubKey(ss.ID, filter), Value: store.EncodeSub(*opts)})
}

// persistInbound records (m != nil) or removes an inbound QoS 2 message of a
// persistent session. ss.Mu held.
func (s *Server) persistInbound(ss *session.Session, mid uint16, m *session.Message) uint64 {
	if s.pers == nil || !ss.Persisted || ss.Expiry == 0 {
		return 0
	}
	if m == nil {
		return s.pers.db.Enqueue(store.Op{Key: store.InKey(ss.ID, mid), Kind: store.Delete})
	}
	return s.pers.db.Enqueue(store.Op{Key: store.InKey(ss.ID, mid), Value: store.EncodeMessage(m)})
}

// SaveStore makes everything written so far durable (SIGUSR1, shutdown):
// session records are rewritten first, so wills published at shutdown are
// not published again after the restart.
func (s *Server) SaveStore() error {
	if s.pers == nil {
		return nil
	}
	// A copy of the list, each session under its own lock only: a save of
	// many sessions does not hold up every CONNECT. Persisted, checked under
	// that lock, keeps a session that was replaced or ended meanwhile from
	// being written back: every path that removes a record clears it in the
	// same critical section, and one that writes a successor's record takes
	// the old session's lock after that.
	for _, ss := range s.allSessions() {
		ss.Mu.Lock()
		if ss.Persisted {
			s.persistSession(ss)
		}
		ss.Mu.Unlock()
	}
	return s.pers.db.Flush()
}

// Restored counts what Restore put back.
type Restored struct {
	Retained, Sessions, Subscriptions, Queued, Inflight, Inbound, Expired int
}

// Restore loads retained messages and persistent sessions (subscriptions,
// queued and in-flight messages both ways, held wills) from the store. Call
// before Serve. Records that do not decode are skipped and counted as
// errors; messages whose expiry has passed are dropped.
func (s *Server) Restore(now int64) (Restored, error) {
	var r Restored
	if s.pers == nil {
		return r, nil
	}
	eng := s.pers.db.Engine()
	var drop []store.Op
	err := eng.Iterate([]byte(store.PrefixRetained), func(k, v []byte) error {
		m, err := store.DecodeMessage(v)
		if err != nil {
			return err
		}
		if m.ExpiresAt > 0 && m.ExpiresAt <= now {
			drop = append(drop, store.Op{Key: append([]byte(nil), k...), Kind: store.Delete})
			r.Expired++
			return nil
		}
		s.retained.Set(m.Topic, m)
		r.Retained++
		return nil
	})
	if err != nil {
		return r, err
	}
	lim := s.Options().Limits
	err = eng.Iterate([]byte(store.PrefixSession), func(k, v []byte) error {
		rec, err := store.DecodeSession(v)
		if err != nil {
			return err
		}
		id := string(k[len(store.PrefixSession):])
		ss := session.New(id, lim)
		ss.Version, ss.Expiry, ss.DisconnectedAt, ss.Persisted = rec.Version, rec.Expiry, rec.DisconnectedAt, true
		if ss.DisconnectedAt == 0 {
			ss.DisconnectedAt = now // online when the broker stopped
		}
		if rec.Will != nil {
			ss.Will = &session.Will{Msg: rec.Will, Delay: rec.WillDelay}
		}
		s.sessions[id] = ss
		s.noteOffline(ss)
		r.Sessions++
		return nil
	})
	if err != nil {
		return r, err
	}
	orphan := func(k []byte) error {
		drop = append(drop, store.Op{Key: append([]byte(nil), k...), Kind: store.Delete})
		return nil
	}
	err = eng.Iterate([]byte(store.PrefixSub), func(k, v []byte) error {
		id, rest, ok := store.SplitID(k, store.PrefixSub)
		ss := s.sessions[id]
		if !ok || ss == nil {
			return orphan(k)
		}
		o, err := store.DecodeSub(v)
		if err != nil {
			return err
		}
		f := string(rest)
		s.subs.Subscribe(f, ss, o)
		if ss.Subs == nil {
			ss.Subs = map[string]topic.Options{}
		}
		ss.Subs[f] = o
		r.Subscriptions++
		return nil
	})
	if err != nil {
		return r, err
	}
	type outs struct {
		inflight, queued []*session.Outbound
		spilled          int // queued beyond max_queued_in_memory: left in the store
		spBytes          int64
		spFrom           uint64
	}
	per := map[*session.Session]*outs{}
	var maxSeq uint64
	err = eng.Iterate([]byte(store.PrefixOut), func(k, v []byte) error {
		id, rest, ok := store.SplitID(k, store.PrefixOut)
		ss := s.sessions[id]
		if !ok || ss == nil || len(rest) != 8 {
			return orphan(k)
		}
		o, err := store.DecodeOutbound(v)
		if err != nil {
			return err
		}
		o.Seq = binary.BigEndian.Uint64(rest)
		if o.Seq > maxSeq {
			maxSeq = o.Seq
		}
		if o.Msg.ExpiresAt > 0 && o.Msg.ExpiresAt <= now && o.Mid == 0 {
			r.Expired++
			return orphan(k)
		}
		x := per[ss]
		if x == nil {
			x = &outs{}
			per[ss] = x
		}
		switch {
		case o.Mid != 0:
			x.inflight = append(x.inflight, o)
			r.Inflight++
		case s.pers.memMax > 0 && (x.spilled > 0 || len(x.queued) >= s.pers.memMax):
			if x.spilled == 0 {
				x.spFrom = o.Seq
			}
			x.spilled++
			x.spBytes += o.Msg.Size()
			r.Queued++
		default:
			x.queued = append(x.queued, o)
			r.Queued++
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	s.pers.seq.Store(maxSeq)
	for ss, x := range per {
		ss.Restore(x.inflight, x.queued)
		ss.SetSpillMax(s.pers.memMax)
		ss.RestoreSpill(x.spilled, x.spBytes, x.spFrom)
	}
	err = eng.Iterate([]byte(store.PrefixIn), func(k, v []byte) error {
		id, rest, ok := store.SplitID(k, store.PrefixIn)
		ss := s.sessions[id]
		if !ok || ss == nil || len(rest) != 2 {
			return orphan(k)
		}
		m, err := store.DecodeMessage(v)
		if err != nil {
			return err
		}
		ss.StoreInbound(binary.BigEndian.Uint16(rest), m)
		r.Inbound++
		return nil
	})
	if err != nil {
		return r, err
	}
	if len(drop) > 0 {
		s.pers.db.Enqueue(drop...)
	}
	return r, nil
}

// refusePublish answers a QoS 1/2 PUBLISH the broker cannot keep because
// its store failed: v5 clients get Quota exceeded (0x97) in the PUBACK or
// PUBREC; v3 has no failure ack, so the connection is closed unacknowledged
// and the client sends the message again when it reconnects.
func (c *conn) refusePublish(p *packet.Publish) bool {
	if c.version == packet.V5 {
		c.ackPublish(p, packet.QuotaExceeded)
		return true
	}
	c.failText(reasonBadSocket, "Persistent store write failed.")
	return false
}
