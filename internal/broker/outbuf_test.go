package broker

import (
	"bytes"
	"testing"
)

// TestGrowOut: an output buffer that must grow keeps its bytes and moves to
// the next pooled size that holds twice its capacity or what is needed;
// past the largest pooled size it is left as it is, for append to grow.
func TestGrowOut(t *testing.T) {
	fill := func(b []byte, n int) []byte {
		for i := 0; i < n; i++ {
			b = append(b, byte(i))
		}
		return b
	}
	for _, tc := range []struct {
		cap, len, need, wantCap int
	}{
		{readBufSize, 100, 100, readBufSize}, // fits: the same buffer
		{readBufSize, 4000, 200, 16 << 10},
		{readBufSize, 4000, 20000, 64 << 10},
		{16 << 10, 16000, 1000, 64 << 10},
		{64 << 10, 65000, 1000, 256 << 10},
		{64 << 10, 65000, 150000, 256 << 10},
		{64 << 10, 65000, 200000, 64 << 10},  // more than the largest pooled size: left to append
		{256 << 10, 262000, 1000, 256 << 10}, // past the pools: left to append
	} {
		b := fill(getBufCap(tc.cap), tc.len)
		if cap(b) != tc.cap {
			t.Fatalf("getBufCap(%d) has cap %d", tc.cap, cap(b))
		}
		want := append([]byte(nil), b...)
		g := growOut(b, tc.need)
		if cap(g) != tc.wantCap {
			t.Errorf("cap %d len %d need %d: grown to cap %d, want %d", tc.cap, tc.len, tc.need, cap(g), tc.wantCap)
		}
		if !bytes.Equal(g, want) {
			t.Errorf("cap %d len %d need %d: bytes not kept", tc.cap, tc.len, tc.need)
		}
		if len(g)+tc.need <= 256<<10 && cap(g)-len(g) < tc.need {
			t.Errorf("cap %d len %d need %d: room %d", tc.cap, tc.len, tc.need, cap(g)-len(g))
		}
		putBuf(g)
	}
}
