package session

// Spilling (issue 4, docs/PERSISTENCE.md). With the broker's store attached,
// every queued message of a persistent session is written to the store
// anyway; a session with a spill bound (SetSpillMax) keeps at most that many
// queued messages in memory and the later ones only in the store. Deliver
// then returns Spilled: the broker writes the message and reports its keys
// with NoteSpill. Spilled messages are read back in order, by the broker,
// while a connection is attached and the in-memory queue has drained to half
// the bound (BeginPage, EndPage). The queue limits (max_queued_messages,
// max_queued_bytes) and Counts include spilled messages.
//
// Every spilled message comes after every message in memory: once one
// message is spilled, later ones are spilled too until the spill is read
// back. The store keys (Outbound.Seq) of one session grow with delivery
// order, so reading the session's keys from the first spilled one returns
// the spilled messages in FIFO order.

type spill struct {
	max    int    // in-memory bound of the queue (0 = no spilling)
	n      int    // messages spilled
	bytes  int64  // their payload bytes
	from   uint64 // store key (Outbound.Seq) to read back from; 0 = none
	wait   uint64 // store write sequence number of the last spilled message
	paging bool   // a read back is running
}

// SetSpillMax sets the in-memory bound of the queue (0 = keep every queued
// message in memory). Lock held.
func (s *Session) SetSpillMax(n int) { s.sp.max = n }

// NoteSpill records where a message Deliver spilled was written: its store
// key and the store write sequence number to wait for before reading it
// back. Lock held.
func (s *Session) NoteSpill(key, write uint64) {
	if s.sp.from == 0 {
		s.sp.from = key
	}
	s.sp.wait = write
}

// Spilled returns the number and payload bytes of spilled messages. Lock held.
func (s *Session) Spilled() (n int, bytes int64) { return s.sp.n, s.sp.bytes }

// RestoreSpill records n messages of bytes payload bytes left in the store
// by Restore, the first at key from. Lock held.
func (s *Session) RestoreSpill(n int, bytes int64, from uint64) {
	s.sp.n, s.sp.bytes, s.sp.from, s.sp.wait = n, bytes, from, 0
}

// PageWanted reports whether spilled messages should be read back now: some
// are spilled, none is being read back, and the in-memory queue is at or
// below half the bound. Lock held.
func (s *Session) PageWanted() bool {
	return s.sp.n > 0 && !s.sp.paging && s.sp.from != 0 && len(s.queue) <= s.sp.max/2
}

// BeginPage starts a read back if PageWanted: it returns the store key to
// read from, the store write to wait for first, and how many messages to
// read. Lock held.
func (s *Session) BeginPage() (from, wait uint64, n int, ok bool) {
	if !s.PageWanted() {
		return 0, 0, 0, false
	}
	s.sp.paging = true
	n = min(max(s.sp.max-len(s.queue), 1), s.sp.n)
	return s.sp.from, s.sp.wait, n, true
}

// EndPage ends a read back that BeginPage started (from and wait as it
// returned them): got are the messages read, in key order; next is the key
// after the last one read. short says the store held fewer than asked
// after wait was waited for: if nothing was spilled since BeginPage, the
// spilled messages still counted are not in the store (their records were
// removed with the session) and are no longer counted. Lock held.
func (s *Session) EndPage(from, wait uint64, got []*Outbound, next uint64, short bool) {
	if from != s.sp.from {
		return // the session was reset meanwhile
	}
	s.sp.paging = false
	for _, o := range got {
		s.queue = append(s.queue, o)
		s.qBytes += o.Msg.Size()
		s.sp.n--
		s.sp.bytes -= o.Msg.Size()
	}
	if len(got) > 0 {
		s.sp.from = next
	}
	if short && s.sp.wait == wait {
		s.sp.n = 0
	}
	if s.sp.n <= 0 {
		s.sp = spill{max: s.sp.max}
	}
}

// AbortPage ends a read back that failed. Lock held.
func (s *Session) AbortPage(from uint64) {
	if from == s.sp.from {
		s.sp.paging = false
	}
}
