package broker

import (
	"github.com/midgemq/midge/internal/session"
)

// MQTT 5 Will Delay Interval against the session expiry (reference §6.12,
// §1.11; MQTT 5 §3.1.2.5, §3.1.3.2.2).
//
// When a connection closes without a clean DISCONNECT, its will is published
// at once unless it has a Will Delay Interval and the session outlives the
// connection. Such a will stays on the offline session (Session.Will, with
// Session.DisconnectedAt as its start) and is published by the once-a-second
// expiry loop when the delay has passed, or when the session expires,
// whichever comes first [MQTT5-3.1.2-8]. A reconnect resumes the session and
// discards the held will [MQTT5-3.1.3-9]; a clean-start reconnect ends the
// session, so the will is published then (attach), as Mosquitto does.

// holdWill reports whether the will of a closing connection must wait on the
// session instead of being published now. ss.Mu held.
func holdWill(ss *session.Session, w *session.Will, r closeReason) bool {
	if w == nil || w.Delay == 0 || ss.Expiry == 0 {
		return false // no delay, or the session ends now: published now
	}
	// Mosquitto sends every pending will when it stops (will_delay__send_all).
	return r != reasonShutdown && r != reasonTakenOver
}

// takeDueWill removes and returns the held will of an offline session whose
// delay has passed by now. ss.Mu held.
func takeDueWill(ss *session.Session, now int64) *session.Will {
	if !willDue(ss, now) {
		return nil
	}
	w := ss.Will
	ss.Will = nil // [MQTT5-3.1.2-10] removed once published
	return w
}

// willDue reports whether ss holds a will whose delay has passed. ss.Mu held.
func willDue(ss *session.Session, now int64) bool {
	w := ss.Will
	return w != nil && ss.Conn == nil && ss.DisconnectedAt != 0 && now-ss.DisconnectedAt >= int64(w.Delay)
}

// publishDueWill publishes the held will of ss if it is still due. With a
// store, the session record loses the will in the same atomic batch as the
// copies the will routes (persist.go): after a crash the will is either
// still held (and published then) or delivered, never both.
func (s *Server) publishDueWill(ss *session.Session, now int64) {
	release := s.hold()
	defer release()
	s.mu.Lock()
	ss.Mu.Lock()
	w := takeDueWill(ss, now)
	s.noteOffline(ss) // due next when it expires, if it does
	if w != nil && ss.Persisted && !ss.Expired {
		s.persistSession(ss) // the record without the will
	}
	ss.Mu.Unlock()
	s.mu.Unlock()
	if w != nil {
		s.publishWill(w)
	}
}

// takeHeldWills removes the held wills of every offline session, for
// publication at shutdown.
func (s *Server) takeHeldWills() []*session.Will {
	var wills []*session.Will
	s.mu.Lock()
	for _, ss := range s.sessions {
		ss.Mu.Lock()
		if ss.Conn == nil && ss.Will != nil {
			wills = append(wills, ss.Will)
			ss.Will = nil
		}
		ss.Mu.Unlock()
	}
	s.mu.Unlock()
	return wills
}
