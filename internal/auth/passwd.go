// Package auth reads Mosquitto password files and checks passwords against
// them (reference §4.1-§4.2), and implements `midge passwd`, a
// mosquitto_passwd work-alike (§4.3).
//
// File format, one entry per line:
//
//	username:$6$<salt b64>$<hash b64>              hash = SHA-512(password ‖ salt)
//	username:$7$<iterations>$<salt b64>$<hash b64> hash = PBKDF2-HMAC-SHA512(password, salt, iterations, 64)
//
// The salt is 12 bytes and the hash 64 bytes, both standard base64. Lines
// starting with '#' and lines without ':' are skipped. Entries that do not
// parse are logged and removed, as Mosquitto does; the file still loads.
package auth

import (
	"bufio"
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"math"
	"strings"

	"github.com/midgemq/midge/internal/logcat"
)

// Logf prints a catalogued line (logging.Logger.Log).
type Logf func(e *logcat.Entry, args ...any)

// Hash kinds, as written after the first '$'.
const (
	SHA512       = 6 // $6$: one SHA-512 pass over password ‖ salt
	SHA512PBKDF2 = 7 // $7$: PBKDF2-HMAC-SHA512
)

// DefaultIterations is mosquitto_passwd's PBKDF2 iteration count.
const DefaultIterations = 101

const (
	saltLen = 12
	hashLen = 64
	maxLen  = 65535
)

// Hash is one decoded password field.
type Hash struct {
	Kind       int
	Iterations int // $7$ only
	Salt       []byte
	Sum        []byte
}

// Compute hashes password as the field h describes (kind, iterations, salt).
func (h *Hash) Compute(password []byte) []byte {
	if h.Kind == SHA512 {
		d := sha512.New()
		d.Write(password)
		d.Write(h.Salt)
		return d.Sum(nil)
	}
	k, err := pbkdf2.Key(sha512.New, string(password), h.Salt, h.Iterations, hashLen)
	if err != nil {
		return nil
	}
	return k
}

// Matches reports, in constant time over the digest, whether password
// hashes to h.
func (h *Hash) Matches(password []byte) bool {
	sum := h.Compute(password)
	return len(sum) == hashLen && subtle.ConstantTimeCompare(sum, h.Sum) == 1
}

// String renders the field as mosquitto_passwd writes it.
func (h *Hash) String() string {
	enc := base64.StdEncoding
	if h.Kind == SHA512 {
		return "$6$" + enc.EncodeToString(h.Salt) + "$" + enc.EncodeToString(h.Sum)
	}
	return "$7$" + itoa(h.Iterations) + "$" + enc.EncodeToString(h.Salt) + "$" + enc.EncodeToString(h.Sum)
}

// Problem is why a password field was rejected; each maps to the ERR line
// Mosquitto logs before removing the entry.
type Problem int

const (
	OK Problem = iota
	BadHash
	BadType
	BadIterations
	BadSalt
	BadSum
)

var problemEntries = [...]*logcat.Entry{
	BadHash: logcat.PwInvalidHash, BadType: logcat.PwInvalidType, BadIterations: logcat.PwInvalidIter,
	BadSalt: logcat.PwDecodeSalt, BadSum: logcat.PwDecodeHash,
}

// ParseHash decodes a password field as security_default.c does: the field
// is split on '$' with empty pieces dropped (strtok), the iteration count is
// read like atoi, and the salt and digest must decode to 12 and 64 bytes.
func ParseHash(field string) (*Hash, Problem) {
	toks := strtok(field, '$')
	next := func() (string, bool) {
		if len(toks) == 0 {
			return "", false
		}
		t := toks[0]
		toks = toks[1:]
		return t, true
	}
	t, ok := next()
	if !ok {
		return nil, BadHash
	}
	h := &Hash{}
	switch t {
	case "6":
		h.Kind = SHA512
	case "7":
		h.Kind = SHA512PBKDF2
	default:
		return nil, BadType
	}
	if h.Kind == SHA512PBKDF2 {
		t, ok = next()
		if !ok {
			return nil, BadHash
		}
		h.Iterations = atoi(t)
		if h.Iterations < 1 {
			return nil, BadIterations
		}
	}
	t, ok = next()
	if !ok {
		return nil, BadHash
	}
	if h.Salt = decode64(t); len(h.Salt) != saltLen {
		return nil, BadSalt
	}
	t, ok = next()
	if !ok {
		return nil, BadHash
	}
	if h.Sum = decode64(t); len(h.Sum) != hashLen {
		return nil, BadSum
	}
	return h, OK
}

// decode64 accepts standard base64 with or without padding; nil on error.
func decode64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil
		}
	}
	return b
}

// Passwords is a loaded password file. It is immutable and safe for
// concurrent use.
type Passwords struct {
	users map[string]*Hash
}

// Len is the number of usable entries.
func (p *Passwords) Len() int { return len(p.users) }

// dummy is checked for unknown users so that a refusal costs the same
// whether or not the user exists.
var dummy = &Hash{Kind: SHA512PBKDF2, Iterations: DefaultIterations, Salt: make([]byte, saltLen), Sum: make([]byte, hashLen)}

// Check reports whether user exists and password matches its hash. A
// missing password never matches (reference §4.2). As in Mosquitto, the
// password is read as a C string: it ends at the first NUL byte.
func (p *Passwords) Check(user string, password []byte, hasPassword bool) bool {
	if i := strings.IndexByte(string(password), 0); i >= 0 {
		password = password[:i]
	}
	h := p.users[user]
	if h == nil {
		dummy.Matches(password)
		return false
	}
	if !hasPassword {
		return false
	}
	return h.Matches(password)
}

// Parse reads a password file's content. name is the path used in log
// lines. Entries are logged and dropped as Mosquitto does; when a user
// appears twice, the first usable entry wins (Mosquitto scans in file order).
func Parse(r io.Reader, name string, logf Logf) *Passwords {
	type raw struct{ user, field string }
	var entries []raw
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n') // the newline stays, as fgets keeps it
		if line != "" {
			if e, ok := parseLine(line, name, logf); ok {
				entries = append(entries, raw(e))
			}
		}
		if err != nil {
			break
		}
	}
	p := &Passwords{users: map[string]*Hash{}}
	for _, e := range entries {
		h, prob := ParseHash(e.field)
		if prob != OK {
			logf(problemEntries[prob], e.user)
			continue
		}
		if _, dup := p.users[e.user]; !dup {
			p.users[e.user] = h
		}
	}
	return p
}

// parseLine splits one line as pwfile__parse does with strtok_r on ':'.
func parseLine(line, name string, logf Logf) (struct{ user, field string }, bool) {
	var e struct{ user, field string }
	if line[0] == '#' || strings.IndexByte(line, ':') < 0 {
		return e, false
	}
	toks := strtok(line, ':')
	if len(toks) == 0 {
		return e, false
	}
	user := trimBlanks(toks[0])
	if len(user) > maxLen {
		logf(logcat.PwUserTooLong, name)
		return e, false
	}
	if len(toks) < 2 {
		// buf as strtok and trimblanks left it: up to the username's end.
		end := strings.Index(line, toks[0]) + len(toks[0])
		logf(logcat.PwInvalidLine, name, strings.TrimRight(line[:end], cSpace))
		return e, false
	}
	pw := trimBlanks(toks[1])
	if len(pw) > maxLen {
		logf(logcat.PwPassTooLong, name)
		return e, false
	}
	e.user, e.field = user, pw
	return e, true
}

const cSpace = " \t\n\v\f\r"

func trimBlanks(s string) string { return strings.Trim(s, cSpace) }

// strtok splits s on sep, dropping empty pieces, as repeated strtok calls do.
func strtok(s string, sep byte) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, sep)
		if i < 0 {
			out = append(out, s)
			break
		}
		if i > 0 {
			out = append(out, s[:i])
		}
		s = s[i+1:]
	}
	return out
}

// atoi reads an int as C's atoi: leading blanks, an optional sign, digits,
// and 0 when there are none. A value beyond a 32-bit int (C's) is held at
// its largest, on every platform (32-bit ones included).
func atoi(s string) int {
	s = strings.TrimLeft(s, cSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int32
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := int32(s[i] - '0')
		if n > (math.MaxInt32-d)/10 {
			n = math.MaxInt32
			continue
		}
		n = n*10 + d
	}
	if neg {
		return -int(n)
	}
	return int(n)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
