package topic

import (
	"strings"
	"testing"
)

func TestValidUTF8(t *testing.T) {
	cases := []struct {
		name string
		s    string
		want bool
	}{
		{"empty", "", true},
		{"ascii", "a/b c~", true},
		{"two-byte", "caf\u00e9", true},
		{"three-byte", "\u20ac", true},
		{"four-byte", "\U0001F600", true},
		{"U+FFFD encoded", "\uFFFD", true},
		{"U+00A0", "\u00a0", true},
		{"nul [MQTT-1.5.3-2]", "a\x00b", false},
		{"U+0001", "\x01", false},
		{"U+001F", "\x1f", false},
		{"U+007F", "\x7f", false},
		{"U+0080", "\u0080", false},
		{"U+009F", "\u009f", false},
		{"U+FDD0", "\ufdd0", false},
		{"U+FDEF", "\ufdef", false},
		{"U+FFFE", "\ufffe", false},
		{"U+FFFF", "\uffff", false},
		{"U+1FFFE", "\U0001fffe", false},
		{"U+10FFFF", "\U0010ffff", false},
		{"surrogate [MQTT-1.5.3-1]", "\xed\xa0\x80", false},
		{"overlong slash", "\xc0\xaf", false},
		{"overlong nul", "\xc0\x80", false},
		{"truncated", "\xe2\x82", false},
		{"lone continuation", "\x80", false},
		{"bad lead", "\xff", false},
		{"above U+10FFFF", "\xf4\x90\x80\x80", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidUTF8(tc.s); got != tc.want {
				t.Errorf("ValidUTF8(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func levels(n int) string { return strings.Repeat("a/", n-1) + "a" }

func TestValidName(t *testing.T) {
	cases := []struct {
		topic string
		want  bool
	}{
		{"a", true},
		{"a/b/c", true},
		{"/", true},
		{"a//b", true},
		{"/a", true},
		{"a/", true},
		{"$SYS/broker", true},
		{"$share/g/a", true}, // not a filter; the broker decides about $share publishes
		{"", false},          // [MQTT-4.7.3-1]
		{"+", false},         // [MQTT-3.3.2-2]
		{"a/+/b", false},
		{"#", false},
		{"a/#", false},
		{"a+b", false},
		{"a#", false},
		{levels(201), true},  // 200 separators
		{levels(202), false}, // 201 separators
		{strings.Repeat("x", 65535), true},
		{strings.Repeat("x", 65536), false},
		{"a\x00", false},
		{"\xc0\xaf", false},
		{"\ufffe", false},
	}
	for _, tc := range cases {
		if got := ValidName(tc.topic); got != tc.want {
			t.Errorf("ValidName(%.40q) = %v, want %v", tc.topic, got, tc.want)
		}
	}
}

func TestValidFilter(t *testing.T) {
	cases := []struct {
		filter string
		want   bool
	}{
		{"a", true},
		{"#", true},
		{"+", true},
		{"+/+", true},
		{"a/#", true},
		{"a/+/b", true},
		{"+/a/#", true},
		{"/+", true},
		{"+/", true},
		{"a//b", true},
		{"/", true},
		{"$SYS/#", true},
		{"$share", true},    // a plain literal level
		{"$sharex/g", true}, // not a shared filter
		{"$share/g/a", true},
		{"$share/g/#", true},
		{"$share/g/+/x", true},
		{"$share/g//", true},
		{"", false},   // [MQTT-4.7.3-1]
		{"a+", false}, // [MQTT-4.7.1-3] '+' must be a whole level
		{"+a", false},
		{"a/b+/c", false},
		{"a/+b", false},
		{"++", false},
		{"a#", false},  // [MQTT-4.7.1-2] '#' must be a whole level
		{"#/a", false}, // and the last one
		{"a/#/b", false},
		{"##", false},
		{"a/#/", false},
		{"$share/g/", false}, // empty filter
		{"$share/g", false},
		{"$share//a", false}, // [MQTT5-4.8.2-1] empty group
		{"$share/", false},
		{"$share/g+/a", false}, // [MQTT5-4.8.2-2]
		{"$share/+/a", false},
		{"$share/#/a", false},
		{"$share/g/a+", false},
		{levels(201), true},
		{levels(202), false},
		{strings.Repeat("+/", 200) + "#", true},
		{strings.Repeat("+/", 201) + "#", false},
		{strings.Repeat("x", 65535), true},
		{strings.Repeat("x", 65536), false},
		{"a/\x00", false},
		{"a/\xff", false},
		{"\u0085", false},
	}
	for _, tc := range cases {
		if got := ValidFilter(tc.filter); got != tc.want {
			t.Errorf("ValidFilter(%.40q) = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestParseShared(t *testing.T) {
	cases := []struct {
		filter       string
		group, inner string
		ok           bool
		err          error
	}{
		{"a/b", "", "", false, nil},
		{"$share", "", "", false, nil},
		{"$SHARE/g/a", "", "", false, nil}, // case-sensitive
		{"$share/g/a/b", "g", "a/b", true, nil},
		{"$share/g/#", "g", "#", true, nil},
		{"$share/g//", "g", "/", true, nil},
		{"$share/g/$SYS/x", "g", "$SYS/x", true, nil},
		{"$share/g/", "g", "", true, ErrShareNoFilter},
		{"$share/g", "g", "", true, ErrShareNoFilter},
		{"$share//a", "", "a", true, ErrShareNoGroup},
		{"$share/", "", "", true, ErrShareNoGroup},
		{"$share/a+/x", "a+", "x", true, ErrShareBadGroup},
		{"$share/#/x", "#", "x", true, ErrShareBadGroup},
	}
	for _, tc := range cases {
		g, in, ok, err := ParseShared(tc.filter)
		if g != tc.group || in != tc.inner || ok != tc.ok || err != tc.err {
			t.Errorf("ParseShared(%q) = %q, %q, %v, %v; want %q, %q, %v, %v",
				tc.filter, g, in, ok, err, tc.group, tc.inner, tc.ok, tc.err)
		}
	}
}

func FuzzValidFilter(f *testing.F) {
	for _, s := range []string{"a/+/#", "$share/g/a", "#/a", "\xc0\xaf", "+a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := ValidFilter(s)
		if ok && ValidName(s) && strings.ContainsAny(s, "+#") {
			t.Fatalf("%q is both a valid name and contains wildcards", s)
		}
		if ok {
			// Any valid filter can be subscribed and unsubscribed.
			tr := NewTrie[int]()
			tr.Subscribe(s, 1, Options{})
			if !tr.Unsubscribe(s, 1) || !tr.root.empty() {
				t.Fatalf("%q: unsubscribe did not restore an empty trie", s)
			}
		}
	})
}
