package topic

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func retainedMatch(r *Retained[string], filter string) []string {
	var got []string
	r.Match(filter, func(topic, m string) bool {
		if m != "m:"+topic {
			panic("message does not belong to " + topic)
		}
		got = append(got, topic)
		return true
	})
	return got
}

func TestRetainedSetGetDelete(t *testing.T) {
	r := NewRetained[string]()
	if _, ok := r.Get("a"); ok {
		t.Fatal("empty index has a")
	}
	r.Set("a/b", "1")
	r.Set("a/b", "2") // [MQTT-3.3.1-5] replaces
	r.Set("a", "3")
	if m, ok := r.Get("a/b"); !ok || m != "2" {
		t.Errorf("Get(a/b) = %q, %v", m, ok)
	}
	if _, ok := r.Get("a/b/c"); ok {
		t.Error("Get(a/b/c) found")
	}
	if r.Count() != 2 {
		t.Errorf("Count = %d", r.Count())
	}
	r.Delete("a/b/c") // missing: no-op
	r.Delete("a/b")   // [MQTT-3.3.1-10]
	r.Delete("a/b")
	if _, ok := r.Get("a/b"); ok {
		t.Error("a/b still retained")
	}
	if m, ok := r.Get("a"); !ok || m != "3" {
		t.Errorf("Get(a) = %q, %v", m, ok)
	}
	r.Delete("a")
	if r.Count() != 0 || r.root.first != nil || r.root.children != nil {
		t.Errorf("not pruned: count %d, root %+v", r.Count(), r.root)
	}
}

func TestRetainedMatch(t *testing.T) {
	r := NewRetained[string]()
	topics := []string{"a", "a/b", "a/b/c", "a/c", "b", "a//b", "/a", "a/", "$SYS/x", "$SYS/x/y", "$foo", "x$"}
	for _, tp := range topics {
		r.Set(tp, "m:"+tp)
	}
	cases := []struct {
		filter string
		want   []string
	}{
		// "a//b" created the empty level below "a" before "a/" was set, so
		// "a/" comes there, before "a//b".
		// [MQTT-4.7.2-1] first-level wildcards skip '$' topics. '#' is a
		// pre-order walk in insertion order.
		{"#", []string{"a", "a/b", "a/b/c", "a/c", "a/", "a//b", "b", "/a", "x$"}},
		// "a/#" matches a itself, after its descendants (mosquitto order).
		{"a/#", []string{"a/b", "a/b/c", "a/c", "a/", "a//b", "a"}},
		{"a/b/#", []string{"a/b/c", "a/b"}},
		{"a/b/c/#", []string{"a/b/c"}},
		{"a/+", []string{"a/b", "a/c", "a/"}},
		{"a/+/b", []string{"a//b"}},
		{"+", []string{"a", "b", "x$"}},
		{"+/+", []string{"a/b", "a/c", "a/", "/a"}},
		{"+/#", []string{"a/b", "a/b/c", "a/c", "a/", "a//b", "a", "b", "/a", "x$"}},
		{"/+", []string{"/a"}},
		{"$SYS/#", []string{"$SYS/x", "$SYS/x/y"}},
		{"$SYS/+", []string{"$SYS/x"}},
		{"$SYS/x/#", []string{"$SYS/x/y", "$SYS/x"}},
		{"$foo", []string{"$foo"}},
		// mosquitto: a first '$' level matches "$foo/#" only if it has children.
		{"$foo/#", nil},
		{"a/b/c", []string{"a/b/c"}},
		{"nope/#", nil},
		{"$share/g/#", nil}, // shared subscriptions get no retained messages
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			if got := retainedMatch(r, tc.filter); !slices.Equal(got, tc.want) {
				t.Errorf("Match(%q) = %q, want %q", tc.filter, got, tc.want)
			}
		})
	}
	r.Set("$foo/bar", "m:$foo/bar")
	if got := retainedMatch(r, "$foo/#"); !slices.Equal(got, []string{"$foo/bar", "$foo"}) {
		t.Errorf("$foo/# with children = %q", got)
	}
}

func TestRetainedOrderAfterDelete(t *testing.T) {
	r := NewRetained[string]()
	for _, tp := range []string{"t/1", "t/2", "t/3"} {
		r.Set(tp, "m:"+tp)
	}
	r.Delete("t/2")
	r.Set("t/2", "m:t/2") // re-created: goes to the end, like uthash
	r.Set("t/1", "m:t/1") // replaced in place
	if got := retainedMatch(r, "t/+"); !slices.Equal(got, []string{"t/1", "t/3", "t/2"}) {
		t.Errorf("got %q", got)
	}
}

func TestRetainedMatchStop(t *testing.T) {
	r := NewRetained[string]()
	for i := range 10 {
		r.Set(fmt.Sprintf("a/%d/x", i), "m")
	}
	for _, f := range []string{"#", "a/#", "a/+/x", "+/+/+"} {
		n := 0
		r.Match(f, func(string, string) bool { n++; return n < 3 })
		if n != 3 {
			t.Errorf("%s: fn called %d times after returning false", f, n)
		}
	}
}

func TestRetainedMatchNoAlloc(t *testing.T) {
	r := NewRetained[int]()
	for i := range 100 {
		r.Set(fmt.Sprintf("a/%d/c", i), i)
	}
	n := 0
	fn := func(string, int) bool { n++; return true }
	for _, f := range []string{"a/5/c", "a/+/c", "#", "a/#"} {
		if allocs := testing.AllocsPerRun(50, func() { r.Match(f, fn) }); allocs != 0 {
			t.Errorf("Match(%q) allocates %v", f, allocs)
		}
	}
}

func TestRetainedConcurrent(t *testing.T) {
	r := NewRetained[int]()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 500 {
				tp := fmt.Sprintf("s/%d/%d", w, i%13)
				if i%2 == 0 {
					r.Set(tp, i)
				} else {
					r.Delete(tp)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				r.Match("s/#", func(string, int) bool { return true })
				r.Get("s/1/1")
			}
		}()
	}
	wg.Wait()
	n := 0
	r.Match("#", func(string, int) bool { n++; return true })
	if n != r.Count() {
		t.Errorf("Count %d, found %d", r.Count(), n)
	}
}

// TestRetainedBytes: the byte sum follows set, replace and delete, '$'
// topics included, and an unsized index keeps none.
func TestRetainedBytes(t *testing.T) {
	r := NewRetainedSized(func(m string) int { return len(m) })
	r.Set("a/b", "12345")
	r.Set("$SYS/x", "123")
	r.Set("$foo/y", "12")
	if got := r.Bytes(); got != 10 {
		t.Fatalf("after three sets: %d, want 10", got)
	}
	r.Set("a/b", "1") // replace
	if got := r.Bytes(); got != 6 {
		t.Fatalf("after replace: %d, want 6", got)
	}
	r.Delete("$foo/y")
	r.Delete("nothing/here")
	if got := r.Bytes(); got != 4 {
		t.Fatalf("after delete: %d, want 4", got)
	}
	u := NewRetained[string]()
	u.Set("a", "xyz")
	if got := u.Bytes(); got != 0 {
		t.Fatalf("unsized index: %d, want 0", got)
	}
}
