package session

// DropUnless removes the queued messages (in memory) and the messages in
// flight whose content would still be sent to the client, QoS 1 or 2 before
// PUBREC, for which keep reports false, and returns them. A QoS 2 message
// already PUBREC'd stays: only its PUBREL is left to send. The broker uses it
// to check an inherited session's messages against the new owner's read
// access (reference §6.2). Lock held.
func (s *Session) DropUnless(keep func(*Outbound) bool) (dropped []*Outbound) {
	kept := s.inflight[:0]
	for _, o := range s.inflight {
		if o.State == WaitPubcomp || keep(o) {
			kept = append(kept, o)
			continue
		}
		s.inBytes -= o.Msg.Size()
		dropped = append(dropped, o)
	}
	clear(s.inflight[len(kept):])
	s.inflight = kept
	s.reindex()
	q := s.queue[:0]
	for _, o := range s.queue {
		if keep(o) {
			q = append(q, o)
			continue
		}
		s.qBytes -= o.Msg.Size()
		dropped = append(dropped, o)
	}
	clear(s.queue[len(q):])
	s.queue = q
	return dropped
}
