package topic

import (
	"fmt"
	"testing"
)

func benchTrie(filters []string) *Trie[*sub] {
	tr := NewTrie[*sub]()
	for i, f := range filters {
		tr.Subscribe(f, &sub{fmt.Sprint(i)}, Options{QoS: 1})
	}
	return tr
}

func benchMatch(b *testing.B, tr *Trie[*sub], topic string) {
	n := 0
	fn := func(*sub, Options, bool) { n++ }
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr.Match(topic, fn)
	}
	b.ReportMetric(float64(n)/float64(b.N), "subs/op")
}

func BenchmarkMatchLiteral(b *testing.B) {
	benchMatch(b, benchTrie([]string{"sensors/house1/room2/temp", "sensors/house1/room2/hum"}), "sensors/house1/room2/temp")
}

func BenchmarkMatchPlus(b *testing.B) {
	benchMatch(b, benchTrie([]string{"sensors/+/room2/temp", "sensors/+/+/hum"}), "sensors/house1/room2/temp")
}

func BenchmarkMatchHash(b *testing.B) {
	benchMatch(b, benchTrie([]string{"sensors/#", "other/#"}), "sensors/house1/room2/temp")
}

// mixedFilters returns n filters: 70% literal, 20% with '+', 10% with '#',
// spread over 100 houses x 10 rooms x 10 measurements.
func mixedFilters(n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		h, r, m := i%100, (i/100)%10, (i/1000)%10
		switch i % 10 {
		case 0, 1:
			out = append(out, fmt.Sprintf("sensors/+/room%d/m%d", r, m))
		case 2:
			out = append(out, fmt.Sprintf("sensors/house%d/#", h))
		default:
			out = append(out, fmt.Sprintf("sensors/house%d/room%d/m%d", h, r, m))
		}
	}
	return out
}

func BenchmarkMatch10k(b *testing.B) {
	benchMatch(b, benchTrie(mixedFilters(10000)), "sensors/house42/room3/m7")
}

func BenchmarkMatch10kShared(b *testing.B) {
	fs := mixedFilters(10000)
	for i := range fs {
		if i%4 == 0 {
			fs[i] = fmt.Sprintf("$share/g%d/%s", i%3, fs[i])
		}
	}
	benchMatch(b, benchTrie(fs), "sensors/house42/room3/m7")
}

// BenchmarkMatch10kParallel measures read-lock scaling across cores.
func BenchmarkMatch10kParallel(b *testing.B) {
	tr := benchTrie(mixedFilters(10000))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		fn := func(*sub, Options, bool) {}
		for pb.Next() {
			tr.Match("sensors/house42/room3/m7", fn)
		}
	})
}

func BenchmarkSubscribe(b *testing.B) {
	fs := mixedFilters(10000)
	subs := make([]*sub, 64)
	for i := range subs {
		subs[i] = &sub{fmt.Sprint(i)}
	}
	tr := NewTrie[*sub]()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tr.Subscribe(fs[i%len(fs)], subs[(i/len(fs))%len(subs)], Options{QoS: 1})
		i++
	}
}

func BenchmarkSubscribeUnsubscribe(b *testing.B) {
	tr := benchTrie(mixedFilters(10000))
	s := &sub{"churn"}
	b.ReportAllocs()
	for b.Loop() {
		tr.Subscribe("sensors/house7/room1/new", s, Options{})
		tr.Unsubscribe("sensors/house7/room1/new", s)
	}
}

func BenchmarkRetainedMatchHash(b *testing.B) {
	r := NewRetained[int]()
	for i, f := range mixedFilters(10000) {
		if ValidName(f) {
			r.Set(f, i)
		}
	}
	n := 0
	fn := func(string, int) bool { n++; return true }
	b.ReportAllocs()
	for b.Loop() {
		r.Match("sensors/house43/#", fn)
	}
	b.ReportMetric(float64(n)/float64(b.N), "msgs/op")
}

func BenchmarkValidName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ValidName("sensors/house42/room3/temperature")
	}
}
