package topic

import (
	"strings"
	"sync"
)

// rnode is one level of the retained-message tree. Children are kept in
// insertion order (a doubly linked list beside the lookup map) because
// mosquitto delivers retained messages in that order.
type rnode[M any] struct {
	name        string // this level
	topic       string // the full topic, set while has is true
	has         bool
	msg         M
	parent      *rnode[M]
	children    map[string]*rnode[M]
	first, last *rnode[M] // children, oldest first
	prev, next  *rnode[M] // siblings
}

// Retained holds the retained message of each topic. [MQTT-3.3.1-5]
type Retained[M any] struct {
	mu    sync.RWMutex
	root  rnode[M]
	count int
	size  func(M) int // nil: bytes are not kept
	bytes int64
}

// NewRetained returns an empty index.
func NewRetained[M any]() *Retained[M] {
	return &Retained[M]{}
}

// NewRetainedSized returns an empty index that also keeps the sum of
// size(m) over its messages (Bytes), so that figure costs no walk.
func NewRetainedSized[M any](size func(M) int) *Retained[M] {
	return &Retained[M]{size: size}
}

// Set stores m as the retained message of topic, replacing any previous one
// [MQTT-3.3.1-5]. topic must satisfy ValidName.
func (r *Retained[M]) Set(topic string, m M) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := &r.root
	for i := 0; i <= len(topic); {
		var level string
		level, i = nextLevel(topic, i)
		c := n.children[level]
		if c == nil {
			c = &rnode[M]{name: strings.Clone(level), parent: n}
			if n.children == nil {
				n.children = make(map[string]*rnode[M])
			}
			n.children[c.name] = c
			if n.last == nil {
				n.first = c
			} else {
				n.last.next, c.prev = c, n.last
			}
			n.last = c
		}
		n = c
	}
	if !n.has {
		n.has = true
		n.topic = strings.Clone(topic)
		r.count++
	} else if r.size != nil {
		r.bytes -= int64(r.size(n.msg))
	}
	if r.size != nil {
		r.bytes += int64(r.size(m))
	}
	n.msg = m
}

// find returns the node of topic, or nil. The lock must be held.
func (r *Retained[M]) find(topic string) *rnode[M] {
	n := &r.root
	for i := 0; i <= len(topic) && n != nil; {
		var level string
		level, i = nextLevel(topic, i)
		n = n.children[level]
	}
	return n
}

// Get returns the retained message of topic.
func (r *Retained[M]) Get(topic string) (M, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if n := r.find(topic); n != nil && n.has {
		return n.msg, true
	}
	var zero M
	return zero, false
}

// Delete removes the retained message of topic, as a retained PUBLISH with
// an empty payload does [MQTT-3.3.1-10], and prunes the nodes this empties.
func (r *Retained[M]) Delete(topic string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.find(topic)
	if n == nil || !n.has {
		return
	}
	var zero M
	if r.size != nil {
		r.bytes -= int64(r.size(n.msg))
	}
	n.has, n.msg, n.topic = false, zero, ""
	r.count--
	for n != &r.root && !n.has && n.first == nil {
		p := n.parent
		delete(p.children, n.name)
		if len(p.children) == 0 {
			p.children = nil
		}
		if n.prev == nil {
			p.first = n.next
		} else {
			n.prev.next = n.next
		}
		if n.next == nil {
			p.last = n.prev
		} else {
			n.next.prev = n.prev
		}
		n.parent, n.prev, n.next = nil, nil, nil
		n = p
	}
}

// Bytes returns the sum of size over the retained messages (0 for an index
// made by NewRetained).
func (r *Retained[M]) Bytes() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.bytes
}

// Count returns the number of retained messages.
func (r *Retained[M]) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count
}

// Match calls fn for each retained message whose topic matches filter, in
// mosquitto's order (src/retain.c), until fn returns false. filter must
// satisfy ValidFilter. Shared filters match nothing: "$share/..."
// subscriptions get no retained messages (mosquitto §6.5). As for
// subscriptions, wildcards at the first level do not match '$' topics
// [MQTT-4.7.2-1]; "a/#" matches "a"; '+' matches an empty level. fn runs
// under the read lock and must not modify r. Match does not allocate.
func (r *Retained[M]) Match(filter string, fn func(topic string, m M) bool) {
	if strings.HasPrefix(filter, sharePrefix) {
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.root.search(filter, 0, 0, fn)
}

// skipDollar reports whether a wildcard at depth must not match n.
func (n *rnode[M]) skipDollar(depth int) bool {
	return depth == 0 && n.name != "" && n.name[0] == '$'
}

// search matches the filter levels from index i against n's children, at
// depth (0 for the first topic level). It returns whether a final '#' found
// children (mosquitto's -1 flag) and whether fn asked to stop.
func (n *rnode[M]) search(filter string, i, depth int, fn func(string, M) bool) (flag, stop bool) {
	level, next := nextLevel(filter, i)
	last := next > len(filter)
	switch {
	case level == "#" && last:
		// Pre-order walk of everything below n. [MQTT-4.7.1-2]
		for c := n.first; c != nil; c = c.next {
			if c.skipDollar(depth) {
				continue
			}
			flag = true
			if c.has && !fn(c.topic, c.msg) {
				return flag, true
			}
			if c.first != nil {
				if _, stop = c.search(filter, i, depth+1, fn); stop {
					return flag, true
				}
			}
		}
		return flag, false
	case level == "+":
		for c := n.first; c != nil; c = c.next {
			if c.skipDollar(depth) {
				continue
			}
			if c.visit(filter, next, last, depth, fn) {
				return false, true
			}
		}
		return false, false
	default:
		if c := n.children[level]; c != nil {
			return false, c.visit(filter, next, last, depth, fn)
		}
		return false, false
	}
}

// visit handles a child n that matched the filter level ending before index
// next, and reports whether fn asked to stop. When the rest of the filter is
// "#", n itself also matches ("a/#" matches "a"), after its descendants. As
// in mosquitto, a first level beginning with '$' only matches that way when
// it has children.
func (n *rnode[M]) visit(filter string, next int, last bool, depth int, fn func(string, M) bool) (stop bool) {
	if last {
		return n.has && !fn(n.topic, n.msg)
	}
	flag, stop := n.search(filter, next, depth+1, fn)
	if stop {
		return true
	}
	if flag || (filter[next:] == "#" && !n.skipDollar(depth)) {
		return n.has && !fn(n.topic, n.msg)
	}
	return false
}
