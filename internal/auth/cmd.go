package auth

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// NewHash hashes password with a fresh random 12-byte salt.
func NewHash(kind, iterations int, password []byte) (*Hash, error) {
	h := &Hash{Kind: kind, Iterations: iterations, Salt: make([]byte, saltLen)}
	if _, err := rand.Read(h.Salt); err != nil {
		return nil, err
	}
	h.Sum = h.Compute(password)
	if len(h.Sum) != hashLen {
		return nil, errors.New("auth: hashing failed")
	}
	return h, nil
}

const passwdUsage = `mosquitto_passwd is a tool for managing password files for mosquitto.

Usage: mosquitto_passwd [-H sha512 | -H sha512-pbkdf2] [-c | -D] passwordfile username
       mosquitto_passwd [-H sha512 | -H sha512-pbkdf2] [-c] -b passwordfile username password
       mosquitto_passwd -U passwordfile
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to sha512-pbkdf2, which is recommended.
      Mosquitto 1.6 and earlier defaulted to sha512.
 -U : update a plain text password file to use hashed passwords.

See https://mosquitto.org/ for more information.
`

// Passwd is `midge passwd`: mosquitto_passwd's options, messages and exit
// statuses (reference §4.3). It returns the exit status.
func Passwd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := passwdCmd{kind: SHA512PBKDF2, iterations: DefaultIterations, stdin: stdin, stdout: stdout, stderr: stderr}
	return cmd.run(args)
}

type passwdCmd struct {
	batch, create, del, update bool
	kind, iterations           int
	stdin                      io.Reader
	stdout, stderr             io.Writer
}

func (c *passwdCmd) fail(format string, args ...any) int {
	fmt.Fprintf(c.stderr, format+"\n", args...)
	return 1
}

func (c *passwdCmd) usage() int {
	fmt.Fprint(c.stdout, passwdUsage)
	return 1
}

func (c *passwdCmd) run(args []string) int {
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		switch args[i] {
		case "-b":
			c.batch = true
		case "-c":
			c.create = true
		case "-D":
			c.del = true
		case "-U":
			c.update = true
		case "-H", "-I":
			if i+1 == len(args) {
				return c.usage()
			}
			i++
			if args[i-1] == "-I" {
				c.iterations = atoi(args[i])
				if c.iterations < 1 {
					return c.fail("Error: Number of iterations must be > 0.")
				}
				continue
			}
			switch args[i] {
			case "sha512":
				c.kind = SHA512
			case "sha512-pbkdf2":
				c.kind = SHA512PBKDF2
			default:
				return c.fail("Error: Unknown hash type '%s'", args[i])
			}
		default:
			return c.usage()
		}
	}
	rest := args[i:]
	switch {
	case c.create && c.del:
		return c.fail("Error: -c and -D cannot be used together.")
	case c.batch && c.del:
		return c.fail("Error: -b and -D cannot be used together.")
	case c.update && (c.create || c.del || c.batch):
		return c.usage()
	case c.update:
		if len(rest) != 1 {
			return c.fail("Error: -U argument given but password file missing.")
		}
		return c.hashPlain(rest[0])
	case c.create && len(rest) < 2:
		return c.fail("Error: -c argument given but password file or username missing.")
	case c.batch && len(rest) != 3, !c.batch && len(rest) != 2:
		return c.usage()
	}
	file, user := rest[0], rest[1]
	if msg := checkUsername(user); msg != "" {
		return c.fail("%s", msg)
	}
	if c.del {
		return c.edit(file, user, nil)
	}
	var pw string
	if c.batch {
		pw = rest[2]
	} else {
		var ok bool
		if pw, ok = c.prompt(); !ok {
			return 1
		}
	}
	h, err := NewHash(c.kind, c.iterations, []byte(pw))
	if err != nil {
		return c.fail("Error: %v", err)
	}
	if c.create {
		return c.write(file, []byte(user+":"+h.String()+"\n"), true)
	}
	return c.edit(file, user, h)
}

func checkUsername(u string) string {
	if strings.IndexByte(u, ':') >= 0 {
		return "Error: Username must not contain the ':' character."
	}
	for i := 0; i < len(u); i++ {
		if u[i] < 0x20 || u[i] == 0x7f {
			return "Error: Username must not contain control characters."
		}
	}
	if len(u) > maxLen {
		return "Error: Username must be less than 65536 characters long."
	}
	return ""
}

// prompt reads the password twice, without echo on a terminal.
func (c *passwdCmd) prompt() (string, bool) {
	r := bufio.NewReader(c.stdin)
	read := func(label string) (string, bool) {
		fmt.Fprint(c.stdout, label)
		restore := noEcho(c.stdin)
		line, err := r.ReadString('\n')
		restore()
		fmt.Fprintln(c.stdout)
		if err != nil && line == "" {
			return "", false
		}
		return strings.TrimRight(line, "\r\n"), true
	}
	p1, ok := read("Password: ")
	if !ok {
		return "", false
	}
	if p1 == "" {
		c.fail("Error: Empty password.")
		return "", false
	}
	p2, ok := read("Reenter password: ")
	if !ok {
		return "", false
	}
	if p1 != p2 {
		c.fail("Error: Passwords do not match.")
		return "", false
	}
	return p1, true
}

// readEntries reads a password file for editing. Every line must be
// user:password with both parts non-empty (mosquitto_passwd refuses
// comments and blank lines).
func (c *passwdCmd) readEntries(file string) ([]string, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		c.fail("Error: Unable to open password file %s. %s.", file, errnoText(err))
		return nil, false
	}
	text := string(data)
	if text == "" {
		return nil, true
	}
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for n, l := range lines {
		u, pw, ok := strings.Cut(strings.TrimRight(l, "\r\n"), ":")
		if !ok || u == "" || pw == "" {
			c.fail("Error: Corrupt password file at line %d.", n+1)
			return nil, false
		}
	}
	return lines, true
}

// edit replaces, appends (h != nil) or deletes (h == nil) user's line,
// copying the other lines byte for byte.
func (c *passwdCmd) edit(file, user string, h *Hash) int {
	lines, ok := c.readEntries(file)
	if !ok {
		return 1
	}
	var out strings.Builder
	found := false
	for _, l := range lines {
		u, _, _ := strings.Cut(l, ":")
		if u == user {
			found = true
			if h != nil {
				out.WriteString(user + ":" + h.String() + "\n")
			}
			continue
		}
		out.WriteString(l)
	}
	if !found {
		if h == nil {
			fmt.Fprintf(c.stderr, "Warning: User %s not found in password file.\n", user)
			return 1
		}
		if s := out.String(); s != "" && !strings.HasSuffix(s, "\n") {
			out.WriteString("\n")
		}
		out.WriteString(user + ":" + h.String() + "\n")
	}
	return c.write(file, []byte(out.String()), false)
}

// hashPlain is -U: every line is user:plaintext.
func (c *passwdCmd) hashPlain(file string) int {
	lines, ok := c.readEntries(file)
	if !ok {
		return 1
	}
	var out strings.Builder
	for _, l := range lines {
		u, pw, _ := strings.Cut(strings.TrimRight(l, "\r\n"), ":")
		h, err := NewHash(c.kind, c.iterations, []byte(pw))
		if err != nil {
			return c.fail("Error: %v", err)
		}
		out.WriteString(u + ":" + h.String() + "\n")
	}
	return c.write(file, []byte(out.String()), false)
}

// write stores the new content. A new file is created 0600 (umask 077, as
// 2.0.20). An existing file is backed up to <file>.backup.XXXXXX, rewritten
// in place (keeping its owner and mode) and the backup removed.
func (c *passwdCmd) write(file string, data []byte, create bool) int {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	var backup string
	if prev, err := os.ReadFile(file); err == nil {
		b, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".backup.")
		if err != nil {
			return c.fail("Error creating backup password file \"%s\", not continuing.", file)
		}
		backup = b.Name()
		_, werr := b.Write(prev)
		if cerr := b.Close(); werr != nil || cerr != nil {
			os.Remove(backup)
			return c.fail("Error creating backup password file \"%s\", not continuing.", file)
		}
	} else if !create {
		return c.fail("Error: Unable to open password file %s. %s.", file, errnoText(err))
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		msg := fmt.Sprintf("Error: Unable to open file %s for writing. %s.", file, errnoText(err))
		if backup != "" {
			msg += "\nYour password file may be corrupt. The original is at " + backup + "."
		}
		return c.fail("%s", msg)
	}
	if backup != "" {
		os.Remove(backup)
	}
	return 0
}

// errnoText renders an OS error as strerror does.
func errnoText(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		s := en.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}
