// Package topic holds midge's topic layer: validation of topic names and
// filters, the subscription trie used to route every PUBLISH, and the index
// of retained messages.
//
// The package is a leaf: it imports no other midge package.
//
// Matching follows Eclipse Mosquitto 2.0.20 (src/subs.c, src/retain.c), so
// that message order is the same as with mosquitto:
//
//   - Topics are split on '/'. Levels may be empty ("a//b", "/a", "a/").
//   - At each trie level the literal child is searched first, then '+',
//     then '#'. A literal or '+' child is searched deeper before its own
//     subscriptions are delivered, which is why "a/#" is reported before "a"
//     for the topic "a".
//   - At one node, shared groups come before normal subscriptions. Groups are
//     kept in creation order, normal subscriptions in subscription order.
//   - A topic whose first level begins with '$' is not matched by a filter
//     whose first level is '+' or '#'.
//   - Each shared group delivers to one member, round-robin in member order.
//
// Concurrency: Trie and Retained guard their state with a sync.RWMutex.
// Match runs under the read lock and calls its callback while holding it, so
// a callback must not call Subscribe, Unsubscribe, Set or Delete on the same
// structure (that would deadlock).
package topic
