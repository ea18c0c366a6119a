package acl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/midgemq/midge/internal/logcat"
)

type logged []string

func (l *logged) logf(e *logcat.Entry, args ...any) { *l = append(*l, fmt.Sprintf(e.V20, args...)) }

func mustParse(t *testing.T, text string) (*List, *logged) {
	t.Helper()
	var l logged
	list, ok := Parse(strings.NewReader(text), "acl", l.logf)
	if !ok {
		t.Fatalf("parse failed: %q", l)
	}
	return list, &l
}

func TestMatches(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/b", "a/c", false}, {"a/b", "a/b/c", false}, {"a/b/c", "a/b", false},
		{"a/+", "a/b", true}, {"a/+", "a/", true}, {"a/+", "a", false}, {"a/+", "a/b/c", false},
		{"+/+", "/x", true}, {"+", "/x", false}, {"/+", "/x", true},
		{"a/#", "a", true}, {"a/#", "a/b/c", true}, {"a/#", "ab", false}, {"#", "a/b", true}, {"#", "/", true},
		{"a/+/#", "a/b", true}, {"a/+/#", "a", false}, {"+/#", "a", true},
		{"#", "$SYS/x", false}, {"+/x", "$SYS/x", false}, {"$SYS/#", "$SYS/x", true}, {"$SYS/#", "SYS/x", false},
		{"a/", "a/", true}, {"a/", "a/b", false}, {"a//b", "a//b", true}, {"a/+/b", "a//b", true},
		{"", "a", false}, {"a", "", false},
	}
	for _, tc := range tests {
		if got := Matches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

// check combines the broker's $ pre-check with the ACL, as the broker does.
func check(l *List, id, user string, hasUser bool, topic string, a Access) bool {
	return Dollar(topic, a) && l.Check(id, user, hasUser, topic, a)
}

type tcase struct {
	id, user string
	hasUser  bool
	topic    string
	access   Access
	want     bool
}

func runCases(t *testing.T, l *List, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		if got := check(l, c.id, c.user, c.hasUser, c.topic, c.access); got != c.want {
			t.Errorf("id=%q user=%q(%v) %q access=%d: got %v, want %v", c.id, c.user, c.hasUser, c.topic, c.access, got, c.want)
		}
	}
}

func TestSemantics(t *testing.T) {
	l, _ := mustParse(t, `# anonymous clients only
topic readwrite anon/#
topic read pub/#

user alice
topic alice/#
topic read shared/#
topic write inbox/+
topic deny alice/secret
topic read $SYS/broker/#

user bob
topic readwrite #

user bob
topic deny bob/forbidden/#
`)
	runCases(t, l, []tcase{
		// Topic lines before the first user are for anonymous clients only.
		{"c1", "", false, "anon/x", Write, true},
		{"c1", "", false, "pub/x", Read, true},
		{"c1", "", false, "pub/x", Write, false},
		{"c1", "eve", true, "anon/x", Write, false}, // a user without a block gets nothing
		{"c1", "eve", true, "anon/x", Read, false},
		{"c1", "", true, "anon/x", Read, false}, // an empty username is a username
		// Default access is readwrite; access words restrict.
		{"c2", "alice", true, "alice/a/b", Read, true},
		{"c2", "alice", true, "alice", Write, true},
		{"c2", "alice", true, "shared/x", Write, false},
		{"c2", "alice", true, "inbox/q", Write, true},
		{"c2", "alice", true, "inbox/q", Read, false},
		// deny wins wherever it is written.
		{"c2", "alice", true, "alice/secret", Read, false},
		{"c2", "alice", true, "alice/secret/x", Read, true}, // deny is for exactly that topic
		// Subscribing is never refused by the ACL file; reading is, per message.
		{"c2", "alice", true, "secret/#", Subscribe, true},
		{"c2", "alice", true, "secret/x", Read, false},
		// $SYS: a '#' entry never covers it; writes are refused before any ACL.
		{"c3", "bob", true, "$SYS/broker/uptime", Read, false},
		{"c3", "bob", true, "$SYS/x", Write, false},
		{"c2", "alice", true, "$SYS/broker/uptime", Read, true},
		{"c2", "alice", true, "$SYS/broker/uptime", Write, false},
		// $share: only (un)subscribe; no publishing, and reading goes by the real topic.
		{"c3", "bob", true, "$share/g/x", Write, false},
		{"c3", "bob", true, "$share/g/x", Read, false},
		{"c3", "bob", true, "$share/g/secret/#", Subscribe, true},
		{"c2", "alice", true, "$share/g/secret/#", Subscribe, true},
		// Two user bob blocks merge; the later deny still comes first.
		{"c3", "bob", true, "bob/forbidden/x", Write, false},
		{"c3", "bob", true, "bob/ok", Write, true},
		// Other $ topics need an entry starting with $.
		{"c3", "bob", true, "$foo/x", Write, false},
	})
}

func TestPatterns(t *testing.T) {
	l, logs := mustParse(t, `pattern readwrite devices/%c/#
pattern read users/%u/#
pattern write in-%u-%c/x
pattern deny devices/%c/locked
pattern read %c
pattern read static/#
user alice
topic read alice-only
`)
	want := []string{"Warning: ACL pattern 'static/#' does not contain '%c' or '%u'."}
	if fmt.Sprint([]string(*logs)) != fmt.Sprint(want) {
		t.Errorf("parse lines %q, want %q", *logs, want)
	}
	*logs = nil
	runCases(t, l, []tcase{
		{"d1", "", false, "devices/d1/temp", Write, true},
		{"d1", "", false, "devices/d2/temp", Write, false},
		{"d1", "", false, "devices/d1/locked", Read, false},
		// Patterns apply to users with a block too.
		{"d1", "alice", true, "devices/d1/x", Read, true},
		{"d1", "alice", true, "alice-only", Read, true},
		// %u patterns are skipped without a username.
		{"d1", "", false, "users/%u/x", Read, false},
		{"d1", "alice", true, "users/alice/x", Read, true},
		{"d1", "alice", true, "users/bob/x", Read, false},
		// Substitution happens anywhere, not only in whole levels.
		{"c9", "alice", true, "in-alice-c9/x", Write, true},
		{"c9", "alice", true, "in-alice-c8/x", Write, false},
		{"x", "", false, "x", Read, true},
		{"x", "", false, "static/a", Read, true},
		// A pattern never grants a $ topic unless it starts with $.
		{"$SYS", "", false, "$SYS", Read, false},
	})
	if len(*logs) != 0 {
		t.Errorf("unexpected lines %q", *logs)
	}
	// + and # in usernames or client ids would widen a pattern: denied, logged.
	runCases(t, l, []tcase{
		{"#", "", false, "devices/x/y", Read, false},
		{"d+", "", false, "devices/d+/y", Read, false},
		{"ok", "a#", true, "users/x", Read, false},
		{"ok", "+", true, "users/x/y", Read, false},
		// The user's own block is consulted before the dangerous check.
		{"#", "alice", true, "alice-only", Read, true},
	})
	want = []string{
		`ACL denying access to client with dangerous client id "#"`,
		`ACL denying access to client with dangerous client id "d+"`,
		`ACL denying access to client with dangerous username "a#"`,
		`ACL denying access to client with dangerous username "+"`,
	}
	if fmt.Sprint([]string(*logs)) != fmt.Sprint(want) {
		t.Errorf("lines %q, want %q", *logs, want)
	}
}

func TestNoPatternsNoDangerCheck(t *testing.T) {
	l, logs := mustParse(t, "topic read #\n")
	runCases(t, l, []tcase{{"a#", "", false, "x", Read, true}, {"a#", "", false, "x", Write, false}})
	if len(*logs) != 0 {
		t.Errorf("lines %q", *logs)
	}
}

func TestEmptyFileDeniesAll(t *testing.T) {
	l, _ := mustParse(t, "# nothing\n\n")
	runCases(t, l, []tcase{{"c", "", false, "a", Read, false}, {"c", "u", true, "a", Write, false}, {"c", "u", true, "a/#", Subscribe, true}})
}

func TestParseForms(t *testing.T) {
	l, _ := mustParse(t, "topic read\ntopic  write   with space  \nuser   spaced name  \ntopic x/y\n  \n")
	runCases(t, l, []tcase{
		// "topic read" alone is the topic "read" with readwrite access.
		{"c", "", false, "read", Write, true},
		{"c", "", false, "with space", Write, true},
		{"c", "", false, "with space", Read, false},
		{"c", "spaced name", true, "x/y", Write, true},
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ text, line string }{
		{"topic\n", `Error: Empty topic in acl_file "acl".`},
		{"topic    \n", `Error: Empty topic in acl_file "acl".`},
		{"topic rw a/b\n", `Error: Invalid topic access type "rw" in acl_file "acl".`},
		{"topic read a/b+\n", `Error: Invalid ACL topic "a/b+" in acl_file "acl".`},
		{"pattern a/#/b\n", `Error: Invalid ACL topic "a/#/b" in acl_file "acl".`},
		{"user\n", `Error: Missing username in acl_file "acl".`},
		{"user   \n", `Error: Missing username in acl_file "acl".`},
		{"users bob\n", `Error: Invalid line in acl_file "acl": users.`},
		{"  # indented comment\n", `Error: Invalid line in acl_file "acl":   #.`},
		{"topic\tread\tx\n", "Error: Invalid line in acl_file \"acl\": topic\tread\tx."},
	}
	for _, tc := range tests {
		var l logged
		if _, ok := Parse(strings.NewReader(tc.text), "acl", l.logf); ok {
			t.Errorf("%q: parsed", tc.text)
		}
		if len(l) != 1 || l[0] != tc.line {
			t.Errorf("%q: lines %q, want %q", tc.text, l, tc.line)
		}
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	l, _ := mustParse(t, "pattern read devices/%c/%u/#\nuser u\ntopic read a/b/c\n")
	n := testing.AllocsPerRun(100, func() {
		l.Check("client-1", "u", true, "devices/client-1/u/x", Read)
		l.Check("client-1", "u", true, "a/b/c", Read)
	})
	if n != 0 {
		t.Errorf("%v allocations per check", n)
	}
}

func BenchmarkCheckPattern(b *testing.B) {
	var l logged
	list, _ := Parse(strings.NewReader("pattern read devices/%c/#\npattern deny devices/%c/locked\n"), "acl", l.logf)
	b.ReportAllocs()
	for b.Loop() {
		list.Check("client-1", "u", true, "devices/client-1/temp/a", Read)
	}
}
