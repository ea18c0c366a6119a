package auth

import (
	"fmt"
	"strings"
	"testing"

	"github.com/midgemq/midge/internal/logcat"
)

// Vectors from reference §4.1: accepted by the real broker, made by
// Debian's mosquitto_passwd or upstream's test suite.
var vectors = []struct{ user, password, line string }{
	{"a7", "secret", "a7:$7$101$MDEyMzQ1Njc4OWFi$EO/lLlkeUgIiBaS8G8UK0ZMP1u508TA7Tl+AdJ1cEsmlbGyEPAERErpfq84j1kepISs0UzmcdL4ucgZ2uodxfQ=="},
	{"b7", "secret", "b7:$7$1000$MDEyMzQ1Njc4OWFi$ZJEeM8haE9d5XdQRkROfY+VNm95TyLII2wMF7gvAreqXSheCQReksJ+3flNZrfPrV1dYquIBGQmTU89cHgTqUg=="},
	{"c6", "secret", "c6:$6$MDEyMzQ1Njc4OWFi$qEXipeLbgxRlwd06QHfY5WITkUZg0jLg9SZbXzq3ifXjfj+v3GbJGrSfC5PAg3UNCS+UFfbhUIZX4bmIAs330w=="},
	{"user", "password", "user:$6$vZY4TS+/HBxHw38S$vvjVFECzb8dyuu/mruD2QKTfdFn0WmKxbc+1TsdB0L8EdHk3v9JRmfjHd56+VaTnUcSZOZ/hzkdvWCtxlX7AUQ=="},
	// Written by Debian's /usr/bin/mosquitto_passwd (2.0.11) on this machine.
	{"alice", "secret", "alice:$7$101$etJ6njauyZNE7tAx$XnNxmjrCbnc+28QyHQKx78H+nsO5VY6LvdCapBp4zsxU8l5DzLCF7nVeBcdnj9MR3zJVtoUr1ychHL96ge+IUg=="},
	{"bob", "pw", "bob:$6$7HPthEaFmHbKo0uq$Vpfit2StQQ8gYGDE14yk3w7SHjO17Vrg6qREMwoBjsTzb4JFlRLksYE1WnTKddZFOuX8tzEDKSNzMb0MopDKlw=="},
	{"carl", "pw", "carl:$7$5$hEbGKh3A3tFMzG9B$Pw4DcWdN9DlVEprQuXprBogCozrmXIpN5bZLpg3MxSG1xieCNXSWX8vcFmrcw35TK17QL0ekZMS9fWjs2XQwLg=="},
	{"a b", "x", "a b:$7$101$/g7SWG1pcSSN6eU5$e96JK5VBkEbhK6gIvO/xOGV2vHZ/FOeFGEXZJP40fLbBNPeI8arLKi7Kzltevf+KMYMNRyKdHCmln2iXiruqMQ=="},
}

type logged []string

func (l *logged) logf(e *logcat.Entry, args ...any) { *l = append(*l, fmt.Sprintf(e.V20, args...)) }

func TestVectors(t *testing.T) {
	var text strings.Builder
	for _, v := range vectors {
		text.WriteString(v.line + "\n")
	}
	var l logged
	p := Parse(strings.NewReader(text.String()), "pw", l.logf)
	if len(l) != 0 {
		t.Fatalf("unexpected lines %q", l)
	}
	for _, v := range vectors {
		if !p.Check(v.user, []byte(v.password), true) {
			t.Errorf("%s: right password refused", v.user)
		}
		if p.Check(v.user, []byte(v.password+"x"), true) || p.Check(v.user, nil, false) || p.Check(v.user, []byte(""), true) {
			t.Errorf("%s: wrong or missing password accepted", v.user)
		}
		// Re-encoding the parsed field gives the line back.
		h, prob := ParseHash(v.line[len(v.user)+1:])
		if prob != OK || v.user+":"+h.String() != v.line {
			t.Errorf("%s: round trip %v %q", v.user, prob, h)
		}
	}
	if p.Check("nobody", []byte("secret"), true) {
		t.Error("unknown user accepted")
	}
	// A C string ends at NUL, as in Mosquitto.
	if !p.Check("a7", []byte("secret\x00junk"), true) {
		t.Error("password not cut at NUL")
	}
}

func TestParseLines(t *testing.T) {
	good := vectors[0].line[3:] // the a7 field
	long := strings.Repeat("u", 65536)
	tests := []struct {
		name, text string
		users      []string
		lines      []string
	}{
		{"comment and no colon", "#a7:" + good + "\nnocolon\n\n", nil, nil},
		{"trimmed", "  sp  :  " + good + "  \n", []string{"sp"}, nil},
		{"extra field ignored", "x:" + good + ":more\n", []string{"x"}, nil},
		{"empty field at eof", "u:", nil, []string{"Warning: Invalid line in password file 'pw': u"}},
		{"colons only after name", " u ::", nil, []string{"Warning: Invalid line in password file 'pw':  u"}},
		// Observed with Debian's mosquitto: strtok skips the leading colon.
		{"leading colon", ":x\n", nil, []string{"Warning: Invalid line in password file 'pw': :x"}},
		{"empty field before newline", "u:\n", nil, []string{"Error: Invalid password hash for user u, removing entry."}},
		{"username too long", long + ":" + good + "\n", nil, []string{"Warning: Invalid line in password file 'pw', username too long."}},
		{"password too long", "u:" + long + "\n", nil, []string{"Warning: Invalid line in password file 'pw', password too long."}},
		{"plain text", "u:secret\n", nil, []string{"Error: Invalid password hash type for user u, removing entry."}},
		{"unknown type", "u:$5$abc$def\n", nil, []string{"Error: Invalid password hash type for user u, removing entry."}},
		{"dollars only", "u:$$$\n", nil, []string{"Error: Invalid password hash for user u, removing entry."}},
		{"no iterations", "u:$7$\n", nil, []string{"Error: Invalid password hash for user u, removing entry."}},
		{"zero iterations", "u:$7$0$MDEyMzQ1Njc4OWFi$x\n", nil, []string{"Error: Invalid hash iterations for user u, removing entry."}},
		{"junk iterations", "u:$7$abc$MDEyMzQ1Njc4OWFi$x\n", nil, []string{"Error: Invalid hash iterations for user u, removing entry."}},
		{"no salt", "u:$6$\n", nil, []string{"Error: Invalid password hash for user u, removing entry."}},
		{"short salt", "u:$6$MDEy$" + good[26:] + "\n", nil, []string{"Error: Unable to decode password salt for user u, removing entry."}},
		{"bad salt", "u:$6$!!!!$x\n", nil, []string{"Error: Unable to decode password salt for user u, removing entry."}},
		{"no hash", "u:$6$MDEyMzQ1Njc4OWFi\n", nil, []string{"Error: Invalid password hash for user u, removing entry."}},
		{"short hash", "u:$6$MDEyMzQ1Njc4OWFi$MDEy\n", nil, []string{"Error: Unable to decode password for user u, removing entry."}},
		{"order kept", "b:x\na:y\n", nil, []string{
			"Error: Invalid password hash type for user b, removing entry.",
			"Error: Invalid password hash type for user a, removing entry."}},
		{"duplicate: first usable wins", "d:junk\nd:" + good + "\nd:$6$MDEyMzQ1Njc4OWFi$MDEy\n", []string{"d"}, []string{
			"Error: Invalid password hash type for user d, removing entry.",
			"Error: Unable to decode password for user d, removing entry."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l logged
			p := Parse(strings.NewReader(tc.text), "pw", l.logf)
			if fmt.Sprint([]string(l)) != fmt.Sprint(tc.lines) {
				t.Errorf("lines %q, want %q", l, tc.lines)
			}
			if p.Len() != len(tc.users) {
				t.Errorf("%d users, want %v", p.Len(), tc.users)
			}
			for _, u := range tc.users {
				if !p.Check(u, []byte("secret"), true) {
					t.Errorf("user %q not usable", u)
				}
			}
		})
	}
}

func TestNewHash(t *testing.T) {
	for _, kind := range []int{SHA512, SHA512PBKDF2} {
		h, err := NewHash(kind, DefaultIterations, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		back, prob := ParseHash(h.String())
		if prob != OK || !back.Matches([]byte("pw")) || back.Matches([]byte("pW")) {
			t.Errorf("kind %d: %q does not verify", kind, h.String())
		}
	}
}

// TestAtoi: iteration counts are read as C's atoi reads them, and a count
// beyond a 32-bit int is held at its largest on every platform, so a
// password file means the same on a 32-bit Raspberry Pi as on amd64.
func TestAtoi(t *testing.T) {
	for in, want := range map[string]int{
		"101": 101, "  42abc": 42, "+7": 7, "-5": -5, "": 0, "abc": 0, "-": 0,
		"2147483647": 2147483647, "2147483648": 2147483647, "99999999999": 2147483647,
		"-99999999999": -2147483647, "0000000000000000000000101": 101,
	} {
		if got := atoi(in); got != want {
			t.Errorf("atoi(%q) = %d, want %d", in, got, want)
		}
	}
}
