package broker

import (
	"time"

	"github.com/midgemq/midge/internal/acl"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
)

// Where authorisation happens (docs/SECURITY.md):
//   - CONNECT: Security.Auth.Login (or allow_anonymous alone when Auth is
//     nil); a refusal waits loginFailDelay in the connection's goroutine
//     before the CONNACK.
//   - PUBLISH in and wills: WRITE, Mosquitto's $SYS/$share pre-check first.
//   - SUBSCRIBE: SUBSCRIBE (the built-in ACL file always allows it).
//   - Every delivery, live, queued or retained: READ, with the subscriber's
//     identity, so wildcards and shared subscriptions grant nothing extra.
//   - A resumed session: its queued and in-flight messages, READ again with
//     the new connection's identity (dropUnreadable).
//   - SIGHUP: Recheck logs in every connected client again.

// loginFailDelay is how long a refused login waits before its CONNACK. It
// runs in the refused connection's own goroutine, so it slows down a
// password-guessing client without delaying anyone else.
var loginFailDelay = time.Second

// owner is who a connection, its session and its will belong to: the
// identity every later check uses, including checks made on other
// goroutines (deliveries, wills, reload).
type owner struct {
	client      Client
	l           *listener
	password    []byte
	hasPassword bool
	// src is the identity without the password, kept as the Source of the
	// client's messages (check_retain_source); the owner itself when it
	// has no password, which saves a record per connection.
	src *owner
}

// auth returns the listener's current Auth (nil: none configured).
func (o *owner) auth() Auth {
	if o == nil {
		return nil
	}
	return o.l.sec.Load().Auth
}

// allow decides an access: Mosquitto's $ pre-check (which applies with or
// without an ACL), then the listener's Auth.
func (o *owner) allow(topic string, a Access) bool {
	if !acl.Dollar(topic, acl.Access(a)) {
		return false
	}
	if au := o.auth(); au != nil {
		return au.Allow(o.client, topic, a)
	}
	return true
}

// readAllowed is the per-delivery READ check for a subscriber session.
// ss.Mu held. With no Auth configured nothing is checked (the $ pre-check
// refuses only $share reads, and no message has such a topic).
func readAllowed(ss *session.Session, topic string) bool {
	o, _ := ss.Owner.(*owner)
	au := o.auth()
	if au == nil {
		return true
	}
	return au.Allow(o.client, topic, AccessRead)
}

// dropUnreadable checks the messages a session holds against its current
// owner's READ access and drops the denied ones silently, removing their
// store records. Mosquitto re-checks every inherited message when a session
// is resumed, because the username (or the ACL file) may have changed since
// they were queued (reference §6.2); resume calls it with inflight true.
// Spilled messages are checked as they are read back from the store
// (inflight false: only the queue). ss.Mu held.
func (s *Server) dropUnreadable(ss *session.Session, inflight bool) {
	if o, _ := ss.Owner.(*owner); o.auth() == nil {
		return
	}
	dropped := ss.DropUnless(func(ob *session.Outbound) bool {
		return (!inflight && ob.Mid != 0) || readAllowed(ss, ob.Msg.Topic)
	})
	for _, ob := range dropped {
		s.persistOutDone(ss, ob)
	}
	s.Stats.Dropped[DropACLRead].Add(int64(len(dropped)))
}

// retainSourceAllowed is check_retain_source: a retained message goes to a
// new subscriber only if its publisher may still write its topic, with the
// ACLs as they are now (Mosquitto's retain__process). Messages without a
// source (the broker's own, restored from the store) are not checked.
func retainSourceAllowed(m *session.Message) bool {
	o, _ := m.Source.(*owner)
	if o == nil {
		return true
	}
	return o.allow(m.Topic, AccessWrite)
}

// willAllowed is the WRITE check Mosquitto makes when a will is sent.
func willAllowed(w *session.Will) bool {
	o, _ := w.Owner.(*owner)
	if o == nil {
		return acl.Dollar(w.Msg.Topic, acl.Write)
	}
	return o.allow(w.Msg.Topic, AccessWrite)
}

// login decides a CONNECT's credentials. A refusal is delayed (see
// loginFailDelay) unless the broker is shutting down.
func (c *conn) login(sec *Security, o *owner) bool {
	if c.onAccept == acceptInline && sec.Auth != nil {
		if q, quick := sec.Auth.(QuickLogin); !quick || !q.QuickLogin(o.client) {
			c.onAccept = acceptRetry // on the connection's own goroutine
			return false
		}
	}
	ok := sec.AllowAnonymous
	if sec.Auth != nil {
		ok = sec.Auth.Login(o.client, o.password, o.hasPassword)
	}
	if !ok && sec.Auth != nil && loginFailDelay > 0 {
		if c.onAccept == acceptInline {
			c.onAccept = acceptRetry // the reader's goroutine waits instead
			return false
		}
		t := time.NewTimer(loginFailDelay)
		select {
		case <-t.C:
		case <-c.srv.quit:
			t.Stop()
		}
	}
	return ok
}

// subscribeDenied is the SUBACK code for a refused filter (reference §6.9):
// 0x87 for v5, 0x80 for 3.1.1, and the requested QoS for 3.1.
func (c *conn) subscribeDenied(requested byte) packet.ReasonCode {
	switch c.version {
	case packet.V5:
		return packet.NotAuthorized
	case packet.V311:
		return 0x80
	}
	return packet.ReasonCode(requested)
}

// Recheck logs in every connected client again after a reload (reference
// §2.5): a client that its listener's settings no longer admit is
// disconnected with "Client %s disconnected." and its will is published.
//
// It holds no lock while it logs clients in: with a password file each
// login hashes a password, and under the sessions' lock (as it was) every
// CONNECT waited for all of them.
func (s *Server) Recheck() {
	var revoked []*conn
	for _, ss := range s.allSessions() {
		ss.Mu.Lock()
		c, _ := ss.Conn.(*conn)
		ss.Mu.Unlock()
		if c == nil || c.bridge || c.owner == nil || certIdentified(c) {
			continue
		}
		o := c.owner
		sec := o.l.sec.Load()
		ok := sec.AllowAnonymous
		if sec.Auth != nil {
			ok = sec.Auth.Login(o.client, o.password, o.hasPassword)
		}
		if !ok {
			revoked = append(revoked, c)
		}
	}
	for _, c := range revoked {
		c.fail(reasonRevoked)
	}
}

// certIdentified reports whether the client's username came from its TLS
// certificate (use_identity_as_username / use_subject_as_username): its
// password is never checked, at CONNECT or on reload.
func certIdentified(c *conn) bool {
	cu, ok := c.nc.(interface{ TLSUsername() (string, bool, bool) })
	if !ok {
		return false
	}
	_, _, active := cu.TLSUsername()
	return active
}
