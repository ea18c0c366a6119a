// Package logcat is the single catalog of every log line midge prints that an
// operator of Mosquitto could see. Each Entry holds the Mosquitto 2.0.20 form
// of a line and, where it differs, the classic Mosquitto 1.3 form, so that
// both dialects can be compared byte for byte with the real broker.
//
// Formats use Go fmt verbs with explicit argument indexes (%[1]s), so that a
// dialect may leave out or reorder arguments while callers pass one argument
// list. The package is a leaf: it imports no other midge package.
package logcat

import (
	"fmt"
	"sort"
)

// Level is a Mosquitto log type. Levels are bits, as in mosquitto's log_type.
type Level uint32

// Mosquitto's MOSQ_LOG_* bits.
const (
	Info        Level = 0x01
	Notice      Level = 0x02
	Warning     Level = 0x04
	Err         Level = 0x08
	Debug       Level = 0x10
	Subscribe   Level = 0x20
	Unsubscribe Level = 0x40
	Websockets  Level = 0x80
	Internal    Level = 0x80000000

	// All is every bit (log_type all, -v).
	All Level = 0xFFFFFFFF
	// Default is error+warning+notice+information, Mosquitto's default log_type.
	Default = Err | Warning | Notice | Info
)

// Dialect selects which form of each line is printed.
type Dialect int

const (
	// Dialect20 prints Mosquitto 2.0.20's lines (the default).
	Dialect20 Dialect = iota
	// Dialect13 prints the classic lines of Mosquitto 1.3 (log_dialect 1.3).
	Dialect13
)

// Entry is one catalogued line.
type Entry struct {
	Key   string // stable name, e.g. "conn.new"; used by packages that cannot import logcat
	Level Level
	// V20 is the Mosquitto 2.0.20 format.
	V20 string
	// V13 holds the 1.3 form. nil means the line is the same as V20. Several
	// elements mean 1.3 printed several lines for the event; an empty slice
	// (non-nil, zero length) means 1.3 printed nothing.
	V13 []string
	// Gated lines are suppressed when connection_messages is false.
	Gated bool
}

// Lines renders the entry in a dialect. It returns one string per line.
func (e *Entry) Lines(d Dialect, args ...any) []string {
	if d == Dialect13 && e.V13 != nil {
		out := make([]string, len(e.V13))
		for i, f := range e.V13 {
			out[i] = fmt.Sprintf(f, args...)
		}
		return out
	}
	return []string{fmt.Sprintf(e.V20, args...)}
}

var byKey = map[string]*Entry{}

// def registers an entry under its key; duplicate keys are a programming error.
func def(e *Entry) *Entry {
	if _, dup := byKey[e.Key]; dup {
		panic("logcat: duplicate key " + e.Key)
	}
	byKey[e.Key] = e
	return e
}

// ByKey returns the entry registered under key, or nil.
func ByKey(key string) *Entry { return byKey[key] }

// Keys lists every registered key, sorted.
func Keys() []string {
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
