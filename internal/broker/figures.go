package broker

import (
	"errors"
	"fmt"
)

// Figures computed from the broker's state when they are read, for the
// metrics endpoint (internal/metrics). They cost a walk over the sessions or
// the retained messages, so they are meant for a scrape every few seconds,
// not for a hot path.

// ProtocolNames label ListenerFigures.Clients: MQTT 3.1, 3.1.1 and 5.0.
var ProtocolNames = [3]string{"3.1", "3.1.1", "5.0"}

// ListenerFigures describe one listening socket.
type ListenerFigures struct {
	Name    string   // the address it listens on (a path for a unix socket)
	Sockets int64    // open sockets, CONNECT received or not
	Clients [3]int64 // connected clients by protocol, as ProtocolNames
}

// ListenerFigures returns the figures of every listener, in opening order.
func (s *Server) ListenerFigures() []ListenerFigures {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	out := make([]ListenerFigures, len(s.listeners))
	for i, l := range s.listeners {
		f := &out[i]
		f.Name = l.ln.Addr().String()
		f.Sockets = l.count.Load()
		for v := range l.clients {
			f.Clients[v] = l.clients[v].Load()
		}
	}
	return out
}

// SessionFigures count what the sessions hold.
type SessionFigures struct {
	Sessions     int // known sessions, connected or not ($SYS clients/total)
	InflightQoS1 int // outbound QoS 1 messages awaiting PUBACK
	InflightQoS2 int // outbound QoS 2 messages awaiting PUBREC or PUBCOMP
	Queued       int // outbound messages waiting for the window or the client, in memory or spilled to the store
	InboundQoS2  int // inbound QoS 2 messages awaiting the publisher's PUBREL
	// Payload bytes of the in-flight and the queued messages.
	InflightBytes, QueuedBytes int64
}

// SessionFigures walks the sessions, taking each one's lock in turn.
func (s *Server) SessionFigures() SessionFigures {
	var f SessionFigures
	for _, ss := range s.allSessions() {
		ss.Mu.Lock()
		if ss.Expired { // ended by a takeover or expiry while being copied
			ss.Mu.Unlock()
			continue
		}
		f.Sessions++
		_, q := ss.Counts()
		f.Queued += q
		ib, qb := ss.Bytes()
		f.InflightBytes += ib
		f.QueuedBytes += qb
		f.InboundQoS2 += ss.InboundCount()
		for _, o := range ss.Inflight() {
			if o.QoS == 2 {
				f.InflightQoS2++
			} else {
				f.InflightQoS1++
			}
		}
		ss.Mu.Unlock()
	}
	return f
}

// RetainedFigures returns the number of retained messages and their payload
// bytes, $SYS values included (as $SYS counts them).
func (s *Server) RetainedFigures() (count int, bytes int64) {
	return s.retained.Count(), s.retainedBytes()
}

// Subscriptions returns the number of non-shared and shared subscriptions.
func (s *Server) Subscriptions() (normal, shared int) { return s.subs.Count() }

// Ready reports why the broker cannot take clients, or nil when every
// listener accepts connections and the store, if any, can write.
func (s *Server) Ready() error {
	if s.closing.Load() {
		return errors.New("shutting down")
	}
	s.lnMu.Lock()
	n := len(s.listeners)
	var down []string
	for _, l := range s.listeners {
		if !l.up.Load() {
			down = append(down, l.ln.Addr().String())
		}
	}
	s.lnMu.Unlock()
	switch {
	case n == 0:
		return errors.New("no listener open yet")
	case len(down) > 0:
		return fmt.Errorf("listeners not accepting: %v", down)
	}
	if db := s.Store(); db != nil {
		if err := db.Err(); err != nil {
			return fmt.Errorf("store cannot write: %w", err)
		}
	}
	return nil
}
