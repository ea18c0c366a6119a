package topic

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Options are the per-subscription options a SUBSCRIBE carries.
type Options struct {
	QoS               byte   // granted maximum QoS
	NoLocal           bool   // v5 No Local [MQTT5-3.8.3-3]
	RetainAsPublished bool   // v5 Retain As Published [MQTT5-3.3.1-12]
	RetainHandling    byte   // v5 Retain Handling 0..2; used at subscribe time only
	ID                uint32 // v5 Subscription Identifier, 0 if none
}

// entry is one subscriber's subscription at a trie node.
type entry[S comparable] struct {
	s S
	o Options
}

// indexMin is the number of subscribers at one node from which the node keeps
// a map from subscriber to position, so that Subscribe and Unsubscribe do not
// scan long lists (mosquitto scans; a topic with 100k subscribers is common
// enough that midge should not).
const indexMin = 16

// group is a shared subscription group at one trie node.
type group[S comparable] struct {
	name string
	// members in mosquitto's list order rotated left by next: the member at
	// next%len is the head of mosquitto's list and receives the next message.
	members []entry[S]
	next    atomic.Uint64 // advanced by Match under the read lock
}

// node is one level of the subscription trie.
type node[S comparable] struct {
	children map[string]*node[S] // literal levels
	plus     *node[S]            // '+' level
	hash     *node[S]            // '#' level; never has children
	subs     []entry[S]          // normal subscriptions, in subscription order
	pos      map[S]int           // subscriber -> index in subs, once len(subs) >= indexMin
	shared   []*group[S]         // shared groups, in creation order
}

func (n *node[S]) empty() bool {
	return len(n.children) == 0 && n.plus == nil && n.hash == nil && len(n.subs) == 0 && len(n.shared) == 0
}

// Trie is the subscription index. S is the broker's subscriber handle.
type Trie[S comparable] struct {
	mu     sync.RWMutex
	root   node[S]
	normal int // number of normal subscriptions
	shared int // number of shared group memberships
}

// NewTrie returns an empty trie.
func NewTrie[S comparable]() *Trie[S] {
	return &Trie[S]{}
}

// nextLevel returns the level of s starting at i and the index just after
// it (len(s)+1 at the end of s). Levels may be empty.
func nextLevel(s string, i int) (level string, next int) {
	j := strings.IndexByte(s[i:], '/')
	if j < 0 {
		return s[i:], len(s) + 1
	}
	return s[i : i+j], i + j + 1
}

// Subscribe adds or replaces s's subscription to filter, which must satisfy
// ValidFilter. Shared filters "$share/GROUP/F" join GROUP at F. existed
// reports whether s already had exactly this subscription, for v5 Retain
// Handling 1 [MQTT5-3.3.1-10]. A re-subscription replaces the existing one
// [MQTT-3.8.4-3] [MQTT5-3.8.4-3]; as in mosquitto it keeps its position and
// updates QoS, identifier and retain handling but keeps the No Local and
// Retain As Published of the first subscription.
func (t *Trie[S]) Subscribe(filter string, s S, o Options) (existed bool) {
	groupName, inner, isShared, err := ParseShared(filter)
	if isShared && err == nil {
		filter = inner
	} else {
		isShared = false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &t.root
	for i := 0; i <= len(filter); {
		var level string
		level, i = nextLevel(filter, i)
		n = n.child(level)
	}
	if isShared {
		existed = n.addShared(groupName, s, o)
		if !existed {
			t.shared++
		}
		return existed
	}
	existed = n.add(s, o)
	if !existed {
		t.normal++
	}
	return existed
}

// child returns n's child for level, creating it.
func (n *node[S]) child(level string) *node[S] {
	p := &n.hash
	switch level {
	case "#":
	case "+":
		p = &n.plus
	default:
		c := n.children[level]
		if c == nil {
			if n.children == nil {
				n.children = make(map[string]*node[S])
			}
			c = &node[S]{}
			n.children[strings.Clone(level)] = c
		}
		return c
	}
	if *p == nil {
		*p = &node[S]{}
	}
	return *p
}

// find returns the index of s in n.subs or -1.
func (n *node[S]) find(s S) int {
	if n.pos != nil {
		if i, ok := n.pos[s]; ok {
			return i
		}
		return -1
	}
	for i := range n.subs {
		if n.subs[i].s == s {
			return i
		}
	}
	return -1
}

// update applies a re-subscription's options to an existing one.
func update(old *Options, o Options) {
	old.QoS, old.ID, old.RetainHandling = o.QoS, o.ID, o.RetainHandling
}

func (n *node[S]) add(s S, o Options) (existed bool) {
	if i := n.find(s); i >= 0 {
		update(&n.subs[i].o, o)
		return true
	}
	n.subs = append(n.subs, entry[S]{s, o})
	switch {
	case n.pos != nil:
		n.pos[s] = len(n.subs) - 1
	case len(n.subs) >= indexMin:
		n.pos = make(map[S]int, len(n.subs))
		for i := range n.subs {
			n.pos[n.subs[i].s] = i
		}
	}
	return false
}

func (n *node[S]) remove(s S) (existed bool) {
	i := n.find(s)
	if i < 0 {
		return false
	}
	n.subs = removeAt(n.subs, i)
	if n.pos != nil {
		delete(n.pos, s)
		if len(n.subs) < indexMin/2 {
			n.pos = nil
		} else {
			for j := i; j < len(n.subs); j++ {
				n.pos[n.subs[j].s] = j
			}
		}
	}
	return true
}

// removeAt deletes e[i] keeping order, and gives memory back once the slice
// is mostly empty so that churn does not pin large arrays.
func removeAt[S comparable](e []entry[S], i int) []entry[S] {
	copy(e[i:], e[i+1:])
	e[len(e)-1] = entry[S]{}
	e = e[:len(e)-1]
	if len(e) == 0 {
		return nil
	}
	if cap(e) > 64 && len(e) < cap(e)/4 {
		e = append([]entry[S](nil), e...)
	}
	return e
}

func (n *node[S]) group(name string) (int, *group[S]) {
	for i, g := range n.shared {
		if g.name == name {
			return i, g
		}
	}
	return -1, nil
}

// normalize rotates g.members so that the next recipient is first, making
// the slice equal to mosquitto's list. The write lock must be held.
func (g *group[S]) normalize() {
	m := g.members
	if len(m) == 0 {
		g.next.Store(0)
		return
	}
	if k := int(g.next.Load() % uint64(len(m))); k != 0 {
		reverse(m[:k])
		reverse(m[k:])
		reverse(m)
	}
	g.next.Store(0)
}

func reverse[S comparable](m []entry[S]) {
	for i, j := 0, len(m)-1; i < j; i, j = i+1, j-1 {
		m[i], m[j] = m[j], m[i]
	}
}

func (n *node[S]) addShared(name string, s S, o Options) (existed bool) {
	_, g := n.group(name)
	if g == nil {
		g = &group[S]{name: strings.Clone(name)}
		n.shared = append(n.shared, g)
	}
	for i := range g.members {
		if g.members[i].s == s {
			update(&g.members[i].o, o)
			return true
		}
	}
	// A new member goes to the end of mosquitto's list.
	g.normalize()
	g.members = append(g.members, entry[S]{s, o})
	return false
}

func (n *node[S]) removeShared(name string, s S) (existed bool) {
	gi, g := n.group(name)
	if g == nil {
		return false
	}
	for i := range g.members {
		if g.members[i].s == s {
			g.normalize()
			// normalize moved the entries; find s again.
			for i = range g.members {
				if g.members[i].s == s {
					break
				}
			}
			g.members = removeAt(g.members, i)
			if len(g.members) == 0 {
				copy(n.shared[gi:], n.shared[gi+1:])
				n.shared[len(n.shared)-1] = nil
				n.shared = n.shared[:len(n.shared)-1]
				if len(n.shared) == 0 {
					n.shared = nil
				}
			}
			return true
		}
	}
	return false
}

// Unsubscribe removes s's subscription to filter (a shared filter leaves its
// group) and prunes trie nodes left empty. existed reports whether there was
// such a subscription [MQTT5-3.11.3-1].
func (t *Trie[S]) Unsubscribe(filter string, s S) (existed bool) {
	groupName, inner, isShared, err := ParseShared(filter)
	if isShared && err == nil {
		filter = inner
	} else {
		isShared = false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var buf [32]step[S]
	path := buf[:0]
	n := &t.root
	for i := 0; i <= len(filter); {
		var level string
		level, i = nextLevel(filter, i)
		parent := n
		switch level {
		case "#":
			n = n.hash
		case "+":
			n = n.plus
		default:
			n = n.children[level]
		}
		if n == nil {
			return false
		}
		path = append(path, step[S]{parent: parent, level: level})
	}
	if isShared {
		existed = n.removeShared(groupName, s)
		if existed {
			t.shared--
		}
	} else {
		existed = n.remove(s)
		if existed {
			t.normal--
		}
	}
	if existed {
		prune(path, n)
	}
	return existed
}

// step is one edge walked by Unsubscribe: parent's child at level.
type step[S comparable] struct {
	parent *node[S]
	level  string
}

// prune detaches leaf, the node at the end of path, if it is empty, then
// each parent on path that this leaves empty.
func prune[S comparable](path []step[S], leaf *node[S]) {
	for k := len(path) - 1; k >= 0 && leaf.empty(); k-- {
		p := path[k].parent
		switch level := path[k].level; level {
		case "#":
			p.hash = nil
		case "+":
			p.plus = nil
		default:
			delete(p.children, level)
			if len(p.children) == 0 {
				p.children = nil
			}
		}
		leaf = p
	}
}

// Match calls fn for every subscription matching topic, in mosquitto's order
// (see the package comment). For each matching shared group one member is
// chosen round-robin and fn gets shared=true. Match does not allocate. fn
// runs under the trie's read lock and must not modify the trie.
func (t *Trie[S]) Match(topic string, fn func(s S, o Options, shared bool)) {
	t.mu.RLock()
	// [MQTT-4.7.2-1] [MQTT5-4.7.2-1]: wildcards at the first level do not
	// match topics beginning with '$'.
	t.root.match(topic, 0, topic == "" || topic[0] != '$', fn)
	t.mu.RUnlock()
}

// match searches below n for the levels of topic from index i (i > len(topic)
// when none are left). wild tells whether '+' and '#' may match at this level.
func (n *node[S]) match(topic string, i int, wild bool, fn func(S, Options, bool)) {
	if i <= len(topic) {
		level, next := nextLevel(topic, i)
		last := next > len(topic)
		if c := n.children[level]; c != nil {
			c.match(topic, next, true, fn)
			if last {
				c.deliver(fn)
			}
		}
		// [MQTT-4.7.1-3] '+' matches exactly one level, which may be empty.
		if c := n.plus; c != nil && wild {
			c.match(topic, next, true, fn)
			if last {
				c.deliver(fn)
			}
		}
	}
	// [MQTT-4.7.1-2] '#' matches the parent level and any number of child
	// levels, so "a/#" matches "a".
	if c := n.hash; c != nil && wild {
		c.deliver(fn)
	}
}

// deliver reports n's subscriptions: one member of each shared group, then
// every normal subscription. [MQTT5-4.8.2-4]
func (n *node[S]) deliver(fn func(S, Options, bool)) {
	for _, g := range n.shared {
		k := g.next.Add(1) - 1
		e := &g.members[k%uint64(len(g.members))]
		fn(e.s, e.o, true)
	}
	for i := range n.subs {
		fn(n.subs[i].s, n.subs[i].o, false)
	}
}

// Count returns the number of normal subscriptions and of shared group
// memberships.
func (t *Trie[S]) Count() (normal, shared int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.normal, t.shared
}
