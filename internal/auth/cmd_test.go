package auth

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runPasswd(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Passwd(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func loadFile(t *testing.T, path string) *Passwords {
	t.Helper()
	var l logged
	p, ok := Load(path, l.logf)
	if !ok || len(l) != 0 {
		t.Fatalf("load: %v %q", ok, l)
	}
	return p
}

func TestPasswdCommand(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if code, _, errs := runPasswd("", "-c", "-b", pw, "alice", "secret"); code != 0 {
		t.Fatalf("-c -b: %d %s", code, errs)
	}
	if st, _ := os.Stat(pw); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	data, _ := os.ReadFile(pw)
	if !strings.HasPrefix(string(data), "alice:$7$101$") || len(data) != len("alice:$7$101$")+16+1+88+1 {
		t.Errorf("line %q", data)
	}
	// Interactive: prompts on stdout, the password twice.
	if code, out, errs := runPasswd("pw2\npw2\n", "-H", "sha512", pw, "bob"); code != 0 || out != "Password: \nReenter password: \n" {
		t.Fatalf("prompt: %d %q %q", code, out, errs)
	}
	runPasswd("", "-I", "7", "-b", pw, "carol", "pw3")
	runPasswd("", "-b", pw, "alice", "changed") // replaced in place
	p := loadFile(t, pw)
	if !p.Check("alice", []byte("changed"), true) || !p.Check("bob", []byte("pw2"), true) || !p.Check("carol", []byte("pw3"), true) {
		t.Error("entries do not verify")
	}
	data, _ = os.ReadFile(pw)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "alice:$7$101$") || !strings.HasPrefix(lines[1], "bob:$6$") || !strings.HasPrefix(lines[2], "carol:$7$7$") {
		t.Errorf("file %q", lines)
	}
	if code, _, _ := runPasswd("", "-D", pw, "bob"); code != 0 {
		t.Error("-D failed")
	}
	if p := loadFile(t, pw); p.Len() != 2 || p.Check("bob", []byte("pw2"), true) {
		t.Error("bob not deleted")
	}
	// -U hashes a plain-text file.
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("u1:p1\nu2:p2\n"), 0o600)
	if code, _, errs := runPasswd("", "-U", plain); code != 0 {
		t.Fatalf("-U: %s", errs)
	}
	if p := loadFile(t, plain); !p.Check("u1", []byte("p1"), true) || !p.Check("u2", []byte("p2"), true) {
		t.Error("-U entries do not verify")
	}
	// No backup files left behind.
	if m, _ := filepath.Glob(filepath.Join(dir, "*.backup.*")); len(m) != 0 {
		t.Errorf("left %v", m)
	}
}

func TestPasswdErrors(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("a:$6$x$y\n"), 0o600)
	corrupt := filepath.Join(dir, "corrupt")
	os.WriteFile(corrupt, []byte("a:b\n#comment\n"), 0o600)
	tests := []struct {
		args   []string
		stdin  string
		stderr string
	}{
		{[]string{"-c", "-D", pw, "a"}, "", "Error: -c and -D cannot be used together.\n"},
		{[]string{"-b", "-D", pw, "a", "b"}, "", "Error: -b and -D cannot be used together.\n"},
		{[]string{"-H", "md5", "-b", pw, "a", "b"}, "", "Error: Unknown hash type 'md5'\n"},
		{[]string{"-I", "0", "-b", pw, "a", "b"}, "", "Error: Number of iterations must be > 0.\n"},
		{[]string{"-b", pw, "a:b", "x"}, "", "Error: Username must not contain the ':' character.\n"},
		{[]string{"-b", pw, "a\tb", "x"}, "", "Error: Username must not contain control characters.\n"},
		{[]string{"-b", filepath.Join(dir, "none"), "a", "x"}, "", "Error: Unable to open password file " + filepath.Join(dir, "none") + ". No such file or directory.\n"},
		{[]string{"-b", corrupt, "x", "y"}, "", "Error: Corrupt password file at line 2.\n"},
		{[]string{"-D", pw, "nobody"}, "", "Warning: User nobody not found in password file.\n"},
		{[]string{"-c", pw}, "", "Error: -c argument given but password file or username missing.\n"},
		{[]string{pw, "a"}, "x\ny\n", "Error: Passwords do not match.\n"},
		{[]string{pw, "a"}, "\n", "Error: Empty password.\n"},
	}
	for _, tc := range tests {
		code, _, errs := runPasswd(tc.stdin, tc.args...)
		if code != 1 || errs != tc.stderr {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, code, errs, tc.stderr)
		}
	}
	if data, _ := os.ReadFile(corrupt); string(data) != "a:b\n#comment\n" {
		t.Error("corrupt file changed")
	}
	for _, args := range [][]string{nil, {"-x", pw, "a"}, {"-b", pw, "a"}, {pw}} {
		if code, out, _ := runPasswd("", args...); code != 1 || !strings.HasPrefix(out, "mosquitto_passwd is a tool") {
			t.Errorf("%q: exit %d, no usage", args, code)
		}
	}
}

// A file edited by Debian's mosquitto_passwd and by midge passwd in turn
// stays readable by both.
func TestPasswdWithDebianTool(t *testing.T) {
	const tool = "/usr/bin/mosquitto_passwd"
	if _, err := os.Stat(tool); err != nil {
		t.Skip("no mosquitto_passwd")
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if out, err := exec.Command(tool, "-c", "-b", pw, "deb", "one").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if code, _, errs := runPasswd("", "-b", pw, "midge", "two"); code != 0 {
		t.Fatal(errs)
	}
	if out, err := exec.Command(tool, "-H", "sha512", "-b", pw, "deb6", "three").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	// Debian's 2.0.11 tool leaves the file world-readable: warned about.
	var l logged
	if _, ok := Load(pw, l.logf); !ok || len(l) != 1 || !strings.Contains(l[0], "has world readable permissions") {
		t.Errorf("permission warning: %q", l)
	}
	os.Chmod(pw, 0o600)
	p := loadFile(t, pw)
	if !p.Check("deb", []byte("one"), true) || !p.Check("midge", []byte("two"), true) || !p.Check("deb6", []byte("three"), true) {
		t.Error("mixed file does not verify")
	}
}
