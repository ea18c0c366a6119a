package bench

import "math/bits"

// hist is a log-linear latency histogram in nanoseconds: exact below 64 ns,
// then 32 buckets per power of two (about 3% resolution). Recording never
// allocates; histograms of several goroutines are merged at the end.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	max    uint64
}

const (
	histSub     = 5 // log2 of the sub-buckets per power of two
	histBuckets = 64 + 58*(1<<histSub)
)

func histIndex(v uint64) int {
	if v < 64 {
		return int(v)
	}
	msb := bits.Len64(v) - 1
	shift := msb - histSub
	mant := v >> uint(shift)
	i := 64 + (shift-1)<<histSub + int(mant-(1<<histSub))
	if i >= histBuckets {
		i = histBuckets - 1
	}
	return i
}

// histValue is the middle of bucket i.
func histValue(i int) uint64 {
	if i < 64 {
		return uint64(i)
	}
	shift := (i-64)>>histSub + 1
	mant := uint64((i-64)&(1<<histSub-1)) + 1<<histSub
	return mant<<uint(shift) + (uint64(1)<<uint(shift))/2
}

func (h *hist) record(v int64) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	h.counts[histIndex(u)]++
	h.n++
	if u > h.max {
		h.max = u
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the value at quantile q (0..1), 0 for an empty histogram.
func (h *hist) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histValue(i)
			if v > h.max {
				v = h.max
			}
			return v
		}
	}
	return h.max
}

// Latency is a summary of a histogram, in microseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

func (h *hist) summary() Latency {
	us := func(v uint64) float64 { return float64(v/100) / 10 }
	return Latency{Count: h.n, P50: us(h.quantile(0.50)), P99: us(h.quantile(0.99)),
		P999: us(h.quantile(0.999)), Max: us(h.max)}
}
