// Package acl reads Mosquitto acl_file files and evaluates them with
// Mosquitto 2.0's semantics (reference §4.4-§4.5):
//
//   - `topic` lines before the first `user` line form the list of clients
//     without a username; they are not global.
//   - `user <name>` starts a user's list (the rest of the line, trimmed).
//   - `pattern` lines are global; %c and %u are replaced anywhere in the
//     string; patterns with %u are skipped for clients without a username;
//     a username or client id containing + or # is denied as soon as
//     patterns are consulted.
//   - Within each list, deny entries are checked first, then the rest in
//     file order; the first match that denies or grants the access decides;
//     no match denies.
//   - SUBSCRIBE and UNSUBSCRIBE are always allowed (Mosquitto's built-in
//     check does not implement them); READ is checked per message at
//     delivery, so a subscription to a wider filter receives nothing it
//     may not read.
//
// Dollar is Mosquitto's $SYS/$share pre-check, applied by the broker to
// every access whether or not an ACL file is configured.
//
// Check allocates nothing: patterns are expanded into a stack buffer.
package acl

import (
	"bufio"
	"io"
	"strings"

	"github.com/midgemq/midge/internal/logcat"
)

// Access is what a client wants to do with a topic (Mosquitto's MOSQ_ACL_*).
type Access uint8

const (
	Read        Access = 1
	Write       Access = 2
	Subscribe   Access = 4
	Unsubscribe Access = 8
)

// Logf prints a catalogued line.
type Logf func(e *logcat.Entry, args ...any)

type entry struct {
	topic  string
	access Access // 0 = deny
	subst  bool   // pattern containing %c or %u
	user   bool   // pattern containing %u
}

// List is a parsed ACL file. It is immutable and safe for concurrent use.
type List struct {
	anon     []entry
	users    map[string][]entry
	patterns []entry
	logf     Logf
}

// Parse reads an ACL file's content; name is the path for log lines. ok is
// false after a line that Mosquitto refuses (the error has been logged): the
// whole file is then unusable.
func Parse(r io.Reader, name string, logf Logf) (l *List, ok bool) {
	l = &List{users: map[string][]entry{}, logf: logf}
	type lists struct{ deny, rest []entry }
	anon := &lists{}
	users := map[string]*lists{}
	var order []string
	cur := anon
	patterns := &lists{}
	add := func(ls *lists, e entry) {
		if e.access == 0 {
			ls.deny = append(ls.deny, e)
		} else {
			ls.rest = append(ls.rest, e)
		}
	}
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadString('\n')
		if raw == "" && err != nil {
			break
		}
		line := strings.TrimRight(raw, cSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		tok, rest, start := nextToken(line)
		if tok == "" {
			continue
		}
		switch tok {
		case "topic", "pattern":
			accessWord, more, _ := nextToken(rest)
			if accessWord == "" {
				logf(logcat.ACLEmptyTopic, name)
				return nil, false
			}
			topic := accessWord
			access := Read | Write
			if more != "" {
				topic = strings.Trim(more, cSpace)
				switch accessWord {
				case "read":
					access = Read
				case "write":
					access = Write
				case "readwrite":
				case "deny":
					access = 0
				default:
					logf(logcat.ACLBadAccess, accessWord, name)
					return nil, false
				}
			}
			if !validFilter(topic) {
				logf(logcat.ACLBadTopic, topic, name)
				return nil, false
			}
			e := entry{topic: topic, access: access}
			if tok == "topic" {
				add(cur, e)
				continue
			}
			e.subst = strings.Contains(topic, "%c") || strings.Contains(topic, "%u")
			e.user = strings.Contains(topic, "%u")
			if !e.subst {
				logf(logcat.ACLPatternNoSub, topic)
			}
			add(patterns, e)
		case "user":
			u := strings.Trim(rest, cSpace)
			if u == "" {
				logf(logcat.ACLNoUsername, name)
				return nil, false
			}
			if users[u] == nil {
				users[u] = &lists{}
				order = append(order, u)
			}
			cur = users[u]
		default:
			// buf as strtok_r left it: the line up to the first token's end.
			logf(logcat.ACLInvalidLine, name, line[:start+len(tok)])
			return nil, false
		}
	}
	l.anon = append(anon.deny, anon.rest...)
	for _, u := range order {
		l.users[u] = append(users[u].deny, users[u].rest...)
	}
	l.patterns = append(patterns.deny, patterns.rest...)
	return l, true
}

const cSpace = " \t\n\v\f\r"

// nextToken is strtok_r(s, " "): the token after any leading spaces, the
// remainder after the delimiter that ends it ("" at the end of s), and the
// token's offset.
func nextToken(s string) (tok, rest string, start int) {
	for start < len(s) && s[start] == ' ' {
		start++
	}
	if start == len(s) {
		return "", "", start
	}
	end := strings.IndexByte(s[start:], ' ')
	if end < 0 {
		return s[start:], "", start
	}
	return s[start : start+end], s[start+end+1:], start
}

// validFilter is mosquitto_sub_topic_check: + and # occupy whole levels and
// # is last. (An empty level is allowed; UTF-8 is not checked.)
func validFilter(f string) bool {
	if len(f) > 65535 {
		return false
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '+':
			if (i > 0 && f[i-1] != '/') || (i+1 < len(f) && f[i+1] != '/') {
				return false
			}
		case '#':
			if (i > 0 && f[i-1] != '/') || i+1 != len(f) {
				return false
			}
		}
	}
	return true
}

// Dollar is Mosquitto's pre-check for topics starting with '$', made before
// any ACL: writes to $SYS are refused except
// $SYS/broker/connection/+/state (bridge status); $share topics may only be
// subscribed or unsubscribed. Everything else goes on to the ACL check.
func Dollar(topic string, a Access) bool {
	switch {
	case !strings.HasPrefix(topic, "$"):
		return true
	case strings.HasPrefix(topic, "$SYS"):
		return a != Write || Matches("$SYS/broker/connection/+/state", topic)
	case strings.HasPrefix(topic, "$share"):
		return a == Subscribe || a == Unsubscribe
	}
	return true
}

// Check decides an access for a client: id, and the username when hasUser.
func (l *List) Check(id, user string, hasUser bool, topic string, a Access) bool {
	if a == Subscribe || a == Unsubscribe {
		return true
	}
	list := l.anon
	if hasUser {
		list = l.users[user]
	}
	dollar := topic != "" && topic[0] == '$'
	for i := range list {
		e := &list[i]
		if dollar && e.topic[0] != '$' {
			continue
		}
		if Matches(e.topic, topic) {
			if e.access == 0 {
				return false
			}
			if e.access&a != 0 {
				return true
			}
		}
	}
	if len(l.patterns) == 0 {
		return false
	}
	if hasUser && strings.ContainsAny(user, "+#") {
		l.logf(logcat.ACLDangerousUser, user)
		return false
	}
	if strings.ContainsAny(id, "+#") {
		l.logf(logcat.ACLDangerousID, id)
		return false
	}
	var buf [256]byte
	for i := range l.patterns {
		e := &l.patterns[i]
		if e.user && !hasUser {
			continue
		}
		if dollar && e.topic[0] != '$' {
			continue
		}
		var ok bool
		if e.subst {
			ok = matches(expand(buf[:0], e.topic, id, user, hasUser), topic)
		} else {
			ok = Matches(e.topic, topic)
		}
		if ok {
			if e.access == 0 {
				return false
			}
			if e.access&a != 0 {
				return true
			}
		}
	}
	return false
}

// expand replaces %c by the client id and %u by the username anywhere in
// pat, scanning left to right as Mosquitto does.
func expand(dst []byte, pat, id, user string, hasUser bool) []byte {
	for i := 0; i < len(pat); i++ {
		if pat[i] == '%' && i+1 < len(pat) {
			switch {
			case pat[i+1] == 'c':
				dst = append(dst, id...)
				i++
				continue
			case pat[i+1] == 'u' && hasUser:
				dst = append(dst, user...)
				i++
				continue
			}
		}
		dst = append(dst, pat[i])
	}
	return dst
}

// Matches is mosquitto_topic_matches_sub for a valid filter and topic
// name: + is one level, a final # is any number of levels (zero included,
// so a/# matches a), and a filter not starting with '$' never matches a
// topic starting with '$' (nor the reverse).
func Matches(filter, topic string) bool { return matches(filter, topic) }

func matches[F ~string | ~[]byte](sub F, topic string) bool {
	if len(sub) == 0 || len(topic) == 0 || (sub[0] == '$') != (topic[0] == '$') {
		return false
	}
	si, ti := 0, 0
	for {
		// Both at the start of a level.
		if sub[si] == '#' && si+1 == len(sub) {
			return true
		}
		if sub[si] == '+' && (si+1 == len(sub) || sub[si+1] == '/') {
			for ti < len(topic) && topic[ti] != '/' {
				ti++
			}
			si++
		} else {
			for si < len(sub) && sub[si] != '/' {
				if ti == len(topic) || topic[ti] != sub[si] {
					return false
				}
				si++
				ti++
			}
			if ti < len(topic) && topic[ti] != '/' {
				return false
			}
		}
		switch {
		case si == len(sub) && ti == len(topic):
			return true
		case ti == len(topic):
			// foo/# matches foo.
			return len(sub)-si == 2 && sub[si+1] == '#'
		case si == len(sub):
			return false
		}
		si++
		ti++
		if si == len(sub) {
			// A filter ending in '/' has an empty last level.
			return ti == len(topic)
		}
	}
}
