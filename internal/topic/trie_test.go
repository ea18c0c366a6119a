package topic

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// sub is a test subscriber handle.
type sub struct{ name string }

// delivery records one callback of Trie.Match.
type delivery struct {
	who    string
	qos    byte
	shared bool
}

func matchAll(tr *Trie[*sub], topic string) []delivery {
	var got []delivery
	tr.Match(topic, func(s *sub, o Options, shared bool) {
		got = append(got, delivery{s.name, o.QoS, shared})
	})
	return got
}

func names(ds []delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.who)
	}
	return out
}

// TestMatchTable subscribes one subscriber per filter (named after the
// filter) and checks which ones each topic reaches.
func TestMatchTable(t *testing.T) {
	filters := []string{
		"#", "+", "+/+", "+/x", "/+", "+/", "a", "a/#", "a/+", "a/b", "a/+/c", "a//b", "a/+/b",
		"$SYS/#", "$SYS/+", "$SYS", "+/broker", "$foo/bar", "/a", "a/", "/#", "A",
	}
	tr := NewTrie[*sub]()
	for _, f := range filters {
		tr.Subscribe(f, &sub{f}, Options{})
	}
	cases := []struct {
		topic string
		want  []string
	}{
		{"a", []string{"a/#", "a", "+", "#"}},
		{"A", []string{"A", "+", "#"}},
		{"a/b", []string{"a/#", "a/b", "a/#", "a/+", "+/+", "#"}[1:]}, // see below
		{"a/x", []string{"a/+", "a/#", "+/x", "+/+", "#"}},
		{"a//b", []string{"a//b", "a/+/b", "a/#", "#"}},
		{"a/", []string{"a/", "a/+", "a/#", "+/", "+/+", "#"}},
		{"/a", []string{"/a", "/+", "/#", "+/+", "#"}},
		{"/", []string{"/+", "/#", "+/", "+/+", "#"}},
		{"b/broker", []string{"+/broker", "+/+", "#"}},
		// [MQTT-4.7.2-1] '#' and '+' at the first level skip '$' topics.
		{"$SYS/broker", []string{"$SYS/+", "$SYS/#"}},
		{"$SYS", []string{"$SYS/#", "$SYS"}},
		{"$SYS/a/b", []string{"$SYS/#"}},
		{"$foo/bar", []string{"$foo/bar"}},
		{"$foo/x", nil},
		{"x$/x", []string{"+/x", "+/+", "#"}},
	}
	cases[2].want = []string{"a/b", "a/+", "a/#", "+/+", "#"}
	for _, tc := range cases {
		t.Run(tc.topic, func(t *testing.T) {
			got := names(matchAll(tr, tc.topic))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Match(%q) = %q, want %q", tc.topic, got, tc.want)
			}
		})
	}
}

// TestMatchOrder checks mosquitto's traversal order for overlapping
// subscriptions of one client: literal, then '+', then '#', deeper first, and
// shared groups before normal subscriptions at a node.
func TestMatchOrder(t *testing.T) {
	tr := NewTrie[*sub]()
	c := &sub{"c"}
	tr.Subscribe("#", c, Options{QoS: 0})
	tr.Subscribe("a/+", c, Options{QoS: 1})
	tr.Subscribe("a/b", c, Options{QoS: 2})
	tr.Subscribe("a/#", c, Options{QoS: 1})
	d := &sub{"d"}
	tr.Subscribe("a/b", d, Options{})
	tr.Subscribe("$share/g/a/b", &sub{"g"}, Options{})
	got := matchAll(tr, "a/b")
	want := []delivery{
		{"g", 0, true}, {"c", 2, false}, {"d", 0, false}, // node a/b: shared first
		{"c", 1, false}, // a/+
		{"c", 1, false}, // a/#
		{"c", 0, false}, // #
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSharedRoundRobin(t *testing.T) {
	tr := NewTrie[*sub]()
	m := []*sub{{"m1"}, {"m2"}, {"m3"}}
	for _, s := range m {
		tr.Subscribe("$share/g1/t/+", s, Options{QoS: 1})
	}
	tr.Subscribe("$share/g2/t/#", m[0], Options{})
	tr.Subscribe("$share/g2/t/#", m[1], Options{})
	tr.Subscribe("$share/g3/t/+", m[2], Options{})
	tr.Subscribe("t/x", &sub{"n"}, Options{})
	var rounds [][]string
	for range 6 {
		var r []string
		tr.Match("t/x", func(s *sub, o Options, shared bool) {
			r = append(r, fmt.Sprint(s.name, shared))
		})
		rounds = append(rounds, r)
	}
	// Per message: t/x (normal), t/+ groups g1 then g3, then t/# group g2.
	want := [][]string{
		{"nfalse", "m1true", "m3true", "m1true"},
		{"nfalse", "m2true", "m3true", "m2true"},
		{"nfalse", "m3true", "m3true", "m1true"},
		{"nfalse", "m1true", "m3true", "m2true"},
		{"nfalse", "m2true", "m3true", "m1true"},
		{"nfalse", "m3true", "m3true", "m2true"},
	}
	if !reflect.DeepEqual(rounds, want) {
		t.Errorf("got %v\nwant %v", rounds, want)
	}
	if n, s := tr.Count(); n != 1 || s != 6 {
		t.Errorf("Count = %d, %d", n, s)
	}
}

// TestSharedRotationLikeMosquitto checks that joining and leaving a group
// mid-rotation gives mosquitto's order: the recipient moves to the end of
// the list, and a new member joins at the end.
func TestSharedRotationLikeMosquitto(t *testing.T) {
	tr := NewTrie[*sub]()
	a, b, c, d := &sub{"a"}, &sub{"b"}, &sub{"c"}, &sub{"d"}
	for _, s := range []*sub{a, b, c} {
		tr.Subscribe("$share/g/x", s, Options{})
	}
	next := func() string { return names(matchAll(tr, "x"))[0] }
	if got := next(); got != "a" { // list now b c a
		t.Fatalf("first = %s", got)
	}
	tr.Subscribe("$share/g/x", d, Options{}) // b c a d
	tr.Unsubscribe("$share/g/x", c)          // b a d
	var got []string
	for range 4 {
		got = append(got, next())
	}
	if want := []string{"b", "a", "d", "b"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Re-subscribing keeps the position.
	if !tr.Subscribe("$share/g/x", a, Options{QoS: 2}) {
		t.Error("re-subscribe to the group not reported as existing")
	}
	if got := next(); got != "a" {
		t.Errorf("after re-subscribe got %s, want a", got)
	}
}

func TestResubscribe(t *testing.T) {
	tr := NewTrie[*sub]()
	s, other := &sub{"s"}, &sub{"o"}
	if tr.Subscribe("a/+", s, Options{QoS: 1, NoLocal: true, RetainAsPublished: true, ID: 7}) {
		t.Error("first subscribe reported as existing")
	}
	tr.Subscribe("a/+", other, Options{})
	// [MQTT-3.8.4-3] the new subscription replaces the old one; mosquitto
	// keeps No Local and Retain As Published of the first.
	if !tr.Subscribe("a/+", s, Options{QoS: 2, ID: 9}) {
		t.Error("re-subscribe not reported as existing")
	}
	var got []Options
	tr.Match("a/b", func(x *sub, o Options, _ bool) {
		if x == s {
			got = append(got, o)
		}
	})
	want := []Options{{QoS: 2, NoLocal: true, RetainAsPublished: true, ID: 9}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if n := names(matchAll(tr, "a/b")); !slices.Equal(n, []string{"s", "o"}) {
		t.Errorf("order after re-subscribe %v", n)
	}
	if n, _ := tr.Count(); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
}

func TestUnsubscribePrunes(t *testing.T) {
	tr := NewTrie[*sub]()
	s, o := &sub{"s"}, &sub{"o"}
	filters := []string{"a/b/c", "a/+/c", "a/#", "#", "+", "/", "a//b", "$share/g/a/b/c", "$share/h/#", "$SYS/x"}
	for _, f := range filters {
		tr.Subscribe(f, s, Options{})
		tr.Subscribe(f, o, Options{})
	}
	if tr.Unsubscribe("a/b", s) || tr.Unsubscribe("a/b/c/d", s) || tr.Unsubscribe("$share/x/a/b/c", s) ||
		tr.Unsubscribe("a/b/c", &sub{"s"}) {
		t.Error("unsubscribe of a missing subscription reported as existing")
	}
	for _, f := range filters {
		if !tr.Unsubscribe(f, s) {
			t.Errorf("Unsubscribe(%q) = false", f)
		}
		if tr.Unsubscribe(f, s) {
			t.Errorf("second Unsubscribe(%q) = true", f)
		}
	}
	// a/b/c: $share/g then a/b/c, a/+/c, a/#, then $share/h/# and #.
	if n := names(matchAll(tr, "a/b/c")); !slices.Equal(n, []string{"o", "o", "o", "o", "o", "o"}) {
		t.Errorf("remaining deliveries %v", n)
	}
	for _, f := range filters {
		tr.Unsubscribe(f, o)
	}
	if !tr.root.empty() {
		t.Errorf("trie not pruned: %+v", tr.root)
	}
	if n, sh := tr.Count(); n != 0 || sh != 0 {
		t.Errorf("Count = %d, %d", n, sh)
	}
}

// walk visits n and every node below it.
func (n *node[S]) walk(fn func(*node[S])) {
	fn(n)
	for _, c := range n.children {
		c.walk(fn)
	}
	if n.plus != nil {
		n.plus.walk(fn)
	}
	if n.hash != nil {
		n.hash.walk(fn)
	}
}

// TestManySubscribersIndex crosses indexMin in both directions.
func TestManySubscribersIndex(t *testing.T) {
	tr := NewTrie[*sub]()
	subs := make([]*sub, 100)
	for i := range subs {
		subs[i] = &sub{fmt.Sprint(i)}
		tr.Subscribe("x/y", subs[i], Options{})
	}
	for i := 0; i < len(subs); i += 2 {
		if !tr.Unsubscribe("x/y", subs[i]) {
			t.Fatalf("unsubscribe %d", i)
		}
	}
	got := names(matchAll(tr, "x/y"))
	var want []string
	for i := 1; i < len(subs); i += 2 {
		want = append(want, subs[i].name)
		if !tr.Subscribe("x/y", subs[i], Options{QoS: 1}) {
			t.Fatalf("re-subscribe %d not existing", i)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for i := 1; i < len(subs); i += 2 {
		tr.Unsubscribe("x/y", subs[i])
	}
	if !tr.root.empty() {
		t.Error("not pruned")
	}
}

func TestMatchNoAlloc(t *testing.T) {
	tr := NewTrie[*sub]()
	for i := range 100 {
		s := &sub{fmt.Sprint(i)}
		tr.Subscribe(fmt.Sprintf("a/%d/c", i), s, Options{})
		tr.Subscribe("a/+/c", s, Options{})
		tr.Subscribe("a/#", s, Options{})
		tr.Subscribe("$share/g/a/#", s, Options{})
	}
	n := 0
	fn := func(*sub, Options, bool) { n++ }
	for _, topic := range []string{"a/5/c", "a/x/c", "a", "$SYS/x", strings.Repeat("a/", 100)} {
		if allocs := testing.AllocsPerRun(100, func() { tr.Match(topic, fn) }); allocs != 0 {
			t.Errorf("Match(%.20q) allocates %v per run", topic, allocs)
		}
	}
}

// TestConcurrent subscribes and unsubscribes while matching; run with -race.
func TestConcurrent(t *testing.T) {
	tr := NewTrie[*sub]()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &sub{fmt.Sprint(w)}
			for i := range 500 {
				f := []string{"a/b", "a/+", "#", "$share/g/a/#", fmt.Sprintf("a/%d", i%7)}[i%5]
				tr.Subscribe(f, s, Options{QoS: byte(i % 3)})
				if i%3 != 0 {
					tr.Unsubscribe(f, s)
				}
			}
		}()
	}
	var mwg sync.WaitGroup
	for range 4 {
		mwg.Add(1)
		go func() {
			defer mwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tr.Match("a/b", func(*sub, Options, bool) {})
				tr.Match("a/3", func(*sub, Options, bool) {})
			}
		}()
	}
	wg.Wait()
	close(stop)
	mwg.Wait()
	n, s := tr.Count()
	var seen int
	tr.root.walk(func(nd *node[*sub]) {
		seen += len(nd.subs)
		for _, g := range nd.shared {
			seen += len(g.members)
		}
	})
	if seen != n+s {
		t.Errorf("Count %d+%d, trie holds %d", n, s, seen)
	}
}
