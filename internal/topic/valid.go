package topic

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Limits from Mosquitto (§6.8 of the behaviour reference).
const (
	// MaxLen is the longest topic name or filter in bytes: an MQTT UTF-8
	// string carries a 16-bit length. [MQTT-4.7.3-3] [MQTT5-4.7.3-3]
	MaxLen = 65535
	// MaxSeparators is mosquitto's TOPIC_HIERARCHY_LIMIT: the most '/'
	// characters a topic name or filter may contain.
	MaxSeparators = 200
)

// sharePrefix starts a shared subscription filter. [MQTT5-4.8.2-1]
const sharePrefix = "$share/"

// Errors returned by ParseShared.
var (
	ErrShareNoGroup  = errors.New("topic: shared subscription has an empty group name")
	ErrShareBadGroup = errors.New("topic: shared subscription group name contains a wildcard")
	ErrShareNoFilter = errors.New("topic: shared subscription has an empty filter")
)

// ValidUTF8 reports whether s is an MQTT UTF-8 string under Mosquitto's strict
// rules: well-formed UTF-8 with no surrogates [MQTT-1.5.3-1], no U+0000
// [MQTT-1.5.3-2], and none of the control characters U+0001..U+001F and
// U+007F..U+009F or the non-characters U+FDD0..U+FDEF and U+xFFFE/U+xFFFF,
// which the spec says a receiver may reject [MQTT5-1.5.4-1].
func ValidUTF8(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false // malformed, overlong or a surrogate
		}
		switch {
		case r <= 0x9f: // U+0080..U+009F
			return false
		case r >= 0xfdd0 && r <= 0xfdef:
			return false
		case r&0xfffe == 0xfffe:
			return false
		}
		i += size
	}
	return true
}

// lengthOK checks the byte and separator limits shared by names and filters.
func lengthOK(s string) bool {
	return len(s) <= MaxLen && strings.Count(s, "/") <= MaxSeparators
}

// ValidName reports whether topic may be used as the topic name of a PUBLISH
// or a will: non-empty [MQTT-4.7.3-1], no wildcards [MQTT-3.3.2-2]
// [MQTT5-3.3.2-2], at most MaxLen bytes and MaxSeparators separators, and
// valid UTF-8 [MQTT-1.5.3-1]. An empty v5 topic used with a Topic Alias is
// the caller's business.
func ValidName(topic string) bool {
	if topic == "" || !lengthOK(topic) {
		return false
	}
	if strings.IndexAny(topic, "+#") >= 0 {
		return false
	}
	return ValidUTF8(topic)
}

// ValidFilter reports whether filter may appear in a SUBSCRIBE or
// UNSUBSCRIBE, including the "$share/GROUP/FILTER" form.
func ValidFilter(filter string) bool {
	if filter == "" || !lengthOK(filter) { // [MQTT-4.7.3-1]
		return false
	}
	if !wildcardsOK(filter) || !ValidUTF8(filter) {
		return false
	}
	if _, _, ok, err := ParseShared(filter); ok && err != nil {
		return false
	}
	return true
}

// wildcardsOK checks that '+' fills a whole level [MQTT-4.7.1-3] and that '#'
// fills the whole last level [MQTT-4.7.1-2].
func wildcardsOK(filter string) bool {
	for i := 0; i < len(filter); i++ {
		switch filter[i] {
		case '+':
			if (i > 0 && filter[i-1] != '/') || (i+1 < len(filter) && filter[i+1] != '/') {
				return false
			}
		case '#':
			if (i > 0 && filter[i-1] != '/') || i+1 != len(filter) {
				return false
			}
		}
	}
	return true
}

// ParseShared splits a shared subscription filter "$share/GROUP/FILTER".
// ok is false when filter does not start with "$share/". err is set when it
// does but the group is empty [MQTT5-4.8.2-1], contains a wildcard
// [MQTT5-4.8.2-2], or the filter after it is missing or empty (mosquitto
// treats "$share/g/" as a protocol error).
func ParseShared(filter string) (group, inner string, ok bool, err error) {
	if !strings.HasPrefix(filter, sharePrefix) {
		return "", "", false, nil
	}
	rest := filter[len(sharePrefix):]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		if rest == "" {
			return "", "", true, ErrShareNoGroup
		}
		return rest, "", true, ErrShareNoFilter
	}
	group, inner = rest[:slash], rest[slash+1:]
	switch {
	case group == "":
		return group, inner, true, ErrShareNoGroup
	case strings.IndexAny(group, "+#") >= 0:
		return group, inner, true, ErrShareBadGroup
	case inner == "":
		return group, inner, true, ErrShareNoFilter
	}
	return group, inner, true, nil
}
