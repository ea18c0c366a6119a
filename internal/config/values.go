package config

import (
	"math"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"
)

// str reads a string option: the rest of the line, trimmed, UTF-8 checked.
// A second value for an already-set option is an error, as in conf.c, so
// callers that replace (user) clear the target first.
func (p *parser) str(v *value, name string, dst *string) *Problem {
	s, ok := v.remainder()
	if !ok {
		return problem(CodeEmptyValue, name)
	}
	if *dst != "" {
		return problem(CodeDuplicateValue, name)
	}
	s = strings.TrimFunc(s, isCSpace)
	if s == "" {
		return problem(CodeEmptyValue, name)
	}
	if len(s) > math.MaxUint16 {
		return problem(CodeValueTooLong, name)
	}
	if !validUTF8(s) {
		return problem(CodeMalformedUTF8)
	}
	*dst = s
	return nil
}

// boolean reads true/false/1/0 and nothing else.
func (p *parser) boolean(v *value, name string, dst *bool) *Problem {
	t, ok := v.token()
	if !ok {
		return problem(CodeEmptyValue, name)
	}
	switch t {
	case "true", "1":
		*dst = true
	case "false", "0":
		*dst = false
	default:
		return problem(CodeInvalidValue, name, t)
	}
	return nil
}

// integer reads an int with atoi semantics: garbage is 0.
func (p *parser) integer(v *value, name string) (int, *Problem) {
	t, ok := v.token()
	if !ok {
		return 0, problem(CodeEmptyValue, name)
	}
	return atoi(t), nil
}

// atol is C's atol on glibc: leading white space, a sign, digits; it stops
// at the first other byte and saturates on overflow.
func atol(s string) int64 {
	i := 0
	for i < len(s) && isCSpace(rune(s[i])) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var n uint64
	over := false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (math.MaxUint64-9)/10 {
			over = true
			continue
		}
		n = n*10 + uint64(s[i]-'0')
	}
	switch {
	case neg && (over || n > 1<<63):
		return math.MinInt64
	case neg:
		return -int64(n)
	case over || n > math.MaxInt64:
		return math.MaxInt64
	}
	return int64(n)
}

// atoi is C's atoi: atol truncated to a 32-bit int.
func atoi(s string) int { return int(int32(atol(s))) }

func isCSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}

// validUTF8 applies Mosquitto's string rules: well-formed UTF-8 with no
// NUL, no control characters (U+0001-U+001F, U+007F-U+009F) and no
// non-characters.
func validUTF8(s string) bool {
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r == utf8.RuneError && size == 1:
			return false // invalid, overlong, surrogate or out of range
		case r <= 0x1F, r >= 0x7F && r <= 0x9F:
			return false
		case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFF == 0xFFFE, r&0xFFFF == 0xFFFF:
			return false
		}
	}
	return true
}

// validMountPoint is Mosquitto's publish-topic check: no wildcards and at
// most 200 levels.
func validMountPoint(s string) bool {
	return !strings.ContainsAny(s, "+#") && strings.Count(s, "/") <= 200
}

// validHostPort accepts HOST:PORT, [IPv6]:PORT or :PORT (every interface)
// with a decimal port from 1 to 65535. The host is not resolved here.
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || strings.ContainsAny(host, " \t") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == port
}
