package session

import "testing"

// Past midIndexMin messages in flight, packet ids come from the index: they
// stay unique, acks in and out of order find their message, and the index
// goes away when the window empties.
func TestInflightIndex(t *testing.T) {
	s := New("c", Limits{})
	m := &Message{Topic: "t", Payload: []byte("x")}
	var mids []uint16
	for i := 0; i < 3*midIndexMin; i++ {
		o, d, _ := s.Deliver(m, 2, false, nil, true)
		if d != SendNow {
			t.Fatalf("decision %v", d)
		}
		mids = append(mids, o.Mid)
	}
	if s.byMid == nil || len(s.byMid) != len(mids) {
		t.Fatalf("index has %d entries, want %d", len(s.byMid), len(mids))
	}
	// Out of order: the middle one first.
	mid := mids[len(mids)/2]
	if !s.Pubrec(mid) || !s.Pubcomp(mid) || s.Pubcomp(mid) {
		t.Fatal("out-of-order completion")
	}
	// Wrap: the next ids skip those still in flight.
	s.lastMid = mids[0] - 1
	seen := map[uint16]bool{}
	for _, x := range mids {
		seen[x] = x != mid
	}
	o, _, _ := s.Deliver(m, 1, false, nil, true)
	if seen[o.Mid] {
		t.Fatalf("id %d reused while in flight", o.Mid)
	}
	if !s.Puback(o.Mid) {
		t.Fatal("puback")
	}
	for _, x := range mids {
		if x == mid {
			continue
		}
		if !s.Pubrec(x) || !s.Pubcomp(x) {
			t.Fatalf("completion of %d", x)
		}
	}
	if n, _ := s.Counts(); n != 0 || s.byMid != nil {
		t.Fatalf("inflight %d, index %v", n, s.byMid != nil)
	}
}

// With max_inflight_messages 0 (unlimited) the window still ends at 65535
// messages, the number of packet ids; later ones queue.
func TestInflightAllIDs(t *testing.T) {
	s := New("c", Limits{})
	m := &Message{Topic: "t", Payload: []byte("x")}
	for i := 0; i < maxMids; i++ {
		if _, d, _ := s.Deliver(m, 1, false, nil, true); d != SendNow {
			t.Fatalf("message %d: decision %v", i, d)
		}
	}
	if _, d, _ := s.Deliver(m, 1, false, nil, true); d != Queued {
		t.Fatalf("past 65535 in flight: decision %v, want Queued", d)
	}
}
