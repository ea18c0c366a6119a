package session

import (
	"bytes"
	"testing"
)

func msg(qos byte, size int) *Message {
	return &Message{Topic: "t", QoS: qos, Payload: bytes.Repeat([]byte{'x'}, size)}
}

// deliverN delivers n messages and returns the decisions.
func deliverN(s *Session, n int, qos byte, size int, online bool) []Decision {
	var ds []Decision
	for i := 0; i < n; i++ {
		_, d, _ := s.Deliver(msg(qos, size), qos, false, nil, online)
		ds = append(ds, d)
	}
	return ds
}

func equal(a, b []Decision) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDeliverWindowAndQueue(t *testing.T) {
	tests := []struct {
		name   string
		lim    Limits
		qos    byte
		size   int
		n      int
		online bool
		want   []Decision
	}{
		{"window 2 online", Limits{MaxInflight: 2, MaxQueued: 1000}, 1, 1, 3, true, []Decision{SendNow, SendNow, Queued}},
		// Connected: max_queued_messages beyond the window (db__ready_for_queue).
		{"queue online counts past the window", Limits{MaxInflight: 2, MaxQueued: 1}, 1, 1, 6, true,
			[]Decision{SendNow, SendNow, Queued, Queued, Queued, Dropped}},
		{"queue offline", Limits{MaxInflight: 2, MaxQueued: 3}, 2, 1, 5, false, []Decision{Queued, Queued, Queued, Dropped, Dropped}},
		{"unlimited queue", Limits{MaxInflight: 1}, 1, 1, 4, false, []Decision{Queued, Queued, Queued, Queued}},
		// Bytes: admitted while the bytes already held are below the limit.
		{"inflight bytes", Limits{MaxInflightBytes: 10, MaxQueued: 1000}, 1, 6, 3, true, []Decision{SendNow, SendNow, Queued}},
		{"queued bytes offline", Limits{MaxQueuedBytes: 10}, 1, 4, 5, false, []Decision{Queued, Queued, Queued, Dropped, Dropped}},
		{"queued bytes online less inflight bytes", Limits{MaxInflightBytes: 4, MaxQueuedBytes: 4}, 1, 4, 4, true,
			[]Decision{SendNow, Queued, Queued, Dropped}},
		{"qos0 offline dropped", Limits{MaxQueued: 10}, 0, 1, 2, false, []Decision{Dropped, Dropped}},
		{"qos0 offline queued", Limits{MaxQueued: 2, QueueQoS0: true}, 0, 1, 3, false, []Decision{Queued, Queued, Dropped}},
		{"qos0 online never windowed", Limits{MaxInflight: 1}, 0, 1, 3, true, []Decision{SendNow, SendNow, SendNow}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New("c", tc.lim)
			if got := deliverN(s, tc.n, tc.qos, tc.size, tc.online); !equal(got, tc.want) {
				t.Fatalf("decisions %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDropReasons(t *testing.T) {
	s := New("c", Limits{MaxQueued: 1})
	if _, d, why := s.Deliver(msg(0, 1), 0, false, nil, false); d != Dropped || why != DropQoS0Offline {
		t.Fatalf("qos0 offline: %v %v", d, why)
	}
	s.Deliver(msg(1, 1), 1, false, nil, false)
	if _, d, why := s.Deliver(msg(1, 1), 1, false, nil, false); d != Dropped || why != DropQueueFull {
		t.Fatalf("queue full: %v %v", d, why)
	}
	if _, _, why := New("d", Limits{MaxQueued: 1}).Deliver(msg(1, 1), 1, false, nil, true); why != NotDropped {
		t.Fatalf("online: %v", why)
	}
}

// TestPubackPromotes: acks free window slots; Promote fills them in FIFO
// order and allocates sequential packet ids.
func TestPubackPromotes(t *testing.T) {
	s := New("c", Limits{MaxInflight: 2})
	var sent []*Outbound
	for i := 0; i < 5; i++ {
		o, d, _ := s.Deliver(&Message{Topic: "t", Payload: []byte{byte('0' + i)}}, 1, false, nil, true)
		if d == SendNow {
			sent = append(sent, o)
		}
	}
	if len(sent) != 2 || sent[0].Mid != 1 || sent[1].Mid != 2 {
		t.Fatalf("sent %v", sent)
	}
	if in, qd := s.Counts(); in != 2 || qd != 3 {
		t.Fatalf("counts %d %d", in, qd)
	}
	if out, _ := s.Promote(0); len(out) != 0 {
		t.Fatalf("promoted %d with a full window", len(out))
	}
	if s.Puback(9) {
		t.Fatal("unknown mid acked")
	}
	if !s.Puback(1) {
		t.Fatal("puback 1")
	}
	out, _ := s.Promote(0)
	if len(out) != 1 || string(out[0].Msg.Payload) != "2" || out[0].Mid != 3 || out[0].State != WaitPuback {
		t.Fatalf("promoted %+v", out)
	}
	s.Puback(2)
	s.Puback(3)
	out, _ = s.Promote(0)
	if len(out) != 2 || string(out[0].Msg.Payload) != "3" || string(out[1].Msg.Payload) != "4" {
		t.Fatalf("promoted %+v", out)
	}
	if in, qd := s.Counts(); in != 2 || qd != 0 {
		t.Fatalf("counts %d %d", in, qd)
	}
}

// TestQoS2Handshake: PUBREC moves to WaitPubcomp; PUBACK does not complete a
// QoS 2 message; PUBCOMP does.
func TestQoS2Handshake(t *testing.T) {
	s := New("c", Limits{MaxInflight: 1})
	o, _, _ := s.Deliver(msg(2, 1), 2, false, nil, true)
	if o.State != WaitPubrec {
		t.Fatalf("state %v", o.State)
	}
	if s.Puback(o.Mid) || s.Pubcomp(o.Mid) {
		t.Fatal("completed before PUBREC")
	}
	if !s.Pubrec(o.Mid) || o.State != WaitPubcomp {
		t.Fatal("pubrec")
	}
	if !s.Pubcomp(o.Mid) {
		t.Fatal("pubcomp")
	}
	if in, _ := s.Counts(); in != 0 {
		t.Fatalf("inflight %d", in)
	}
}

// TestMidSkipsZeroAndInflight: packet ids wrap past 0 and skip ids in use.
func TestMidSkipsZeroAndInflight(t *testing.T) {
	s := New("c", Limits{})
	s.lastMid = 65534
	a, _, _ := s.Deliver(msg(1, 1), 1, false, nil, true)
	b, _, _ := s.Deliver(msg(1, 1), 1, false, nil, true)
	if a.Mid != 65535 || b.Mid != 1 {
		t.Fatalf("mids %d %d", a.Mid, b.Mid)
	}
	s.lastMid = 65534
	c, _, _ := s.Deliver(msg(1, 1), 1, false, nil, true)
	if c.Mid != 2 {
		t.Fatalf("mid %d, want 2 (65535 and 1 in flight)", c.Mid)
	}
}

func TestPromoteDropsExpired(t *testing.T) {
	s := New("c", Limits{MaxQueuedBytes: 100})
	s.Deliver(&Message{Topic: "t", Payload: []byte("old"), ExpiresAt: 5}, 1, false, nil, false)
	s.Deliver(&Message{Topic: "t", Payload: []byte("new")}, 1, false, nil, false)
	out, expired := s.Promote(10)
	if len(out) != 1 || string(out[0].Msg.Payload) != "new" || expired != 1 {
		t.Fatalf("promoted %+v, expired %d", out, expired)
	}
	if s.qBytes != 0 {
		t.Fatalf("queued bytes %d after promote", s.qBytes)
	}
}

func TestResetAndInbound(t *testing.T) {
	s := New("c", Limits{})
	s.Deliver(msg(1, 1), 1, false, nil, true)
	s.StoreInbound(7, msg(2, 1))
	if _, ok := s.InboundQoS2(7); !ok || s.InboundCount() != 1 {
		t.Fatal("inbound not stored")
	}
	if m, ok := s.ReleaseInbound(7); !ok || m == nil || s.InboundCount() != 0 {
		t.Fatal("release")
	}
	s.StoreInbound(8, msg(2, 1))
	s.Reset()
	if in, qd := s.Counts(); in != 0 || qd != 0 || s.InboundCount() != 0 || len(s.Subs) != 0 {
		t.Fatal("reset left state")
	}
}
