package logread

import (
	"strings"
)

// A seg is one piece of a compiled format: literal text, or a conversion
// whose value becomes argument number arg (1-based).
type seg struct {
	lit  string
	verb byte // 0 for a literal; 's' any text, 'd' decimal, 'x' hex
	arg  int
}

// compileFormat turns a printf-style format (Go verbs with optional explicit
// indexes, or C verbs such as %ld, %u, %02x) into segments. "%%" is a literal
// percent sign.
func compileFormat(f string) []seg {
	var segs []seg
	var lit strings.Builder
	next := 1
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, seg{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' || i+1 == len(f) {
			lit.WriteByte(c)
			continue
		}
		if f[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		j := i + 1
		arg := 0
		if f[j] == '[' {
			k := strings.IndexByte(f[j:], ']')
			if k < 0 {
				lit.WriteByte(c)
				continue
			}
			for _, d := range f[j+1 : j+k] {
				arg = arg*10 + int(d-'0')
			}
			j += k + 1
		}
		for j < len(f) && (f[j] >= '0' && f[j] <= '9' || f[j] == 'l' || f[j] == '-' || f[j] == '.') {
			j++
		}
		if j == len(f) {
			lit.WriteString(f[i:])
			break
		}
		var v byte
		switch f[j] {
		case 'd', 'i', 'u':
			v = 'd'
		case 'x', 'X':
			v = 'x'
		default: // s, c, q, v and anything else: free text
			v = 's'
		}
		if arg == 0 {
			arg = next
		}
		next = arg + 1
		flush()
		segs = append(segs, seg{verb: v, arg: arg})
		i = j
	}
	flush()
	return segs
}

// matchSegs matches s against segs, storing each conversion's text in
// caps[k] for the k-th conversion (counted from first). Text conversions are
// lazy and backtrack, so "%s:%d on port" finds the port after an IPv6
// address and a client id may contain the next literal.
func matchSegs(s string, segs []seg, caps []string, k int) bool {
	for len(segs) > 0 && segs[0].verb == 0 {
		if !strings.HasPrefix(s, segs[0].lit) {
			return false
		}
		s = s[len(segs[0].lit):]
		segs = segs[1:]
	}
	if len(segs) == 0 {
		return s == ""
	}
	sg := segs[0]
	rest := segs[1:]
	switch sg.verb {
	case 'd', 'x':
		n := numLen(s, sg.verb)
		if n == 0 {
			return false
		}
		caps[k] = s[:n]
		return matchSegs(s[n:], rest, caps, k+1)
	}
	if len(rest) == 0 {
		caps[k] = s
		return true
	}
	if rest[0].verb != 0 { // two conversions in a row: try every split
		for i := 0; i <= len(s); i++ {
			caps[k] = s[:i]
			if matchSegs(s[i:], rest, caps, k+1) {
				return true
			}
		}
		return false
	}
	lit := rest[0].lit
	for off := 0; off <= len(s); {
		i := strings.Index(s[off:], lit)
		if i < 0 {
			return false
		}
		caps[k] = s[:off+i]
		if matchSegs(s[off+i:], rest, caps, k+1) {
			return true
		}
		off += i + 1
	}
	return false
}

// numLen is the length of the number at the start of s.
func numLen(s string, verb byte) int {
	i := 0
	if verb == 'd' && len(s) > 0 && s[0] == '-' {
		i = 1
	}
	start := i
	for i < len(s) {
		c := s[i]
		if c >= '0' && c <= '9' || verb == 'x' && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			i++
			continue
		}
		break
	}
	if i == start {
		return 0
	}
	return i
}

// litLen is the number of literal bytes in segs: a measure of specificity.
func litLen(segs []seg) int {
	n := 0
	for _, s := range segs {
		n += len(s.lit)
	}
	return n
}
