package broker

import (
	"testing"

	"github.com/midgemq/midge/internal/packet"
)

// Every close reason a connection can end with has its own metrics label.
func TestDisconnectReasonNames(t *testing.T) {
	seen := map[string]closeReason{}
	for r := reasonDisconnect; r <= reasonRevoked; r++ {
		name := DisconnectReason(int(r))
		if name == "" {
			t.Errorf("close reason %d has no name", r)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("reasons %d and %d are both %q", prev, r, name)
		}
		seen[name] = r
	}
	if DisconnectReason(int(reasonNone)) != "" {
		t.Error("reasonNone is never counted, so it has no name")
	}
}

// countClient indexes by protocol version minus 3, as ProtocolNames.
func TestCountClientIndex(t *testing.T) {
	l := &listener{}
	for i, v := range []byte{packet.V31, packet.V311, packet.V5} {
		l.countClient(v, 1)
		if l.clients[i].Load() != 1 {
			t.Errorf("version %d counted at the wrong index (%s)", v, ProtocolNames[i])
		}
	}
	l.countClient(0, 1) // not a version: ignored, no panic
	for _, v := range []byte{packet.V31, packet.V311, packet.V5} {
		l.countClient(v, -1)
	}
	for i := range l.clients {
		if n := l.clients[i].Load(); n != 0 {
			t.Errorf("%s left at %d", ProtocolNames[i], n)
		}
	}
}

// Observe puts a duration in the first bucket whose bound is not below it.
func TestHistogramBuckets(t *testing.T) {
	var h Histogram
	h.Observe(LatencyBuckets[0])     // on a bound: that bucket
	h.Observe(LatencyBuckets[0] + 1) // just above: the next
	h.Observe(LatencyBuckets[len(LatencyBuckets)-1] * 2)
	n, sum, b := h.Snapshot()
	want := 2*LatencyBuckets[0] + 1 + LatencyBuckets[len(LatencyBuckets)-1]*2
	if n != 3 || sum != want || b[0] != 1 || b[1] != 1 || b[len(b)-1] != 1 {
		t.Errorf("n=%d sum=%v buckets=%v", n, sum, b)
	}
}
