package session

// Methods for the broker's persistence: finding a message in flight to
// update its stored state, and putting a session back after a restart.

// FindInflight returns the message in flight with packet id mid, or nil.
// Lock held.
func (s *Session) FindInflight(mid uint16) *Outbound { return s.lookup(mid) }

// Queued returns the queued messages in order. Lock held.
func (s *Session) Queued() []*Outbound { return s.queue }

// Restore replaces the outbound state with messages read back from a store:
// inflight in send order (they keep their packet ids and states and are
// re-sent with DUP on reconnect), queued in FIFO order. Packet ids continue
// after the highest one in flight. Lock held.
func (s *Session) Restore(inflight, queued []*Outbound) {
	s.inflight, s.queue = inflight, queued
	s.reindex()
	s.inBytes, s.qBytes = 0, 0
	for _, o := range inflight {
		s.inBytes += o.Msg.Size()
		if o.Mid > s.lastMid {
			s.lastMid = o.Mid
		}
	}
	for _, o := range queued {
		s.qBytes += o.Msg.Size()
	}
}
