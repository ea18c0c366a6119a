package auth

import (
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/midgemq/midge/internal/logcat"
)

// OpenRestricted opens a password or ACL file as Mosquitto 2.0.16+ does
// (mosquitto__fopen with restrict_read): something that is not a regular
// file is an error ("Error: %s is not a file."); a file that others may
// access, or that the broker's user or group does not own, is loaded with a
// warning (reference §1.12, §4.5). It returns nil when the file cannot be
// used; the caller logs its own "Unable to open" line.
func OpenRestricted(path string, logf Logf) *os.File {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	if !st.Mode().IsRegular() {
		logf(logcat.NotAFile, path)
		f.Close()
		return nil
	}
	if st.Mode().Perm()&0o007 != 0 {
		logf(logcat.FileWorldReadable, path, path)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if uid := os.Getuid(); int(sys.Uid) != uid {
			if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
				logf(logcat.FileOwner, path, u.Username, u.Username, path)
			}
		}
		if gid := os.Getgid(); int(sys.Gid) != gid {
			if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
				logf(logcat.FileGroup, path, g.Name)
			}
		}
	}
	return f
}

// Load reads a password file, logging Mosquitto's lines. ok is false when
// the file cannot be opened: "Error: Unable to open pwfile" has been logged
// and the caller logs "Error opening password file" (its own scope).
func Load(path string, logf Logf) (p *Passwords, ok bool) {
	f := OpenRestricted(path, logf)
	if f == nil {
		logf(logcat.PwfileOpen, path)
		return nil, false
	}
	defer f.Close()
	return Parse(f, path, logf), true
}
