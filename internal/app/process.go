package app

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/logging"
)

// daemonEnv marks the re-executed child of -d.
const daemonEnv = "MIDGE_DAEMON_CHILD"

// daemonize implements -d. Go cannot fork a running process, so the binary
// re-executes itself in a new session with stdin/stdout/stderr on
// /dev/null, as Mosquitto's fork+setsid leaves them, and the parent exits 0.
func daemonize(log *logging.Logger) int {
	exe, err := os.Executable()
	if err != nil {
		log.Log(logcat.ForkError, err.Error())
		return exitFail
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		log.Log(logcat.DaemonError, "stdin", err.Error())
		return exitFail
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		log.Log(logcat.ForkError, err.Error())
		return exitFail
	}
	return exitOK
}

// dropPrivileges switches from root to the configured user as Mosquitto does
// (reference §2.1): `user root` keeps root (with a warning later); a missing
// default user `mosquitto` falls back to `nobody`. It returns an exit status
// (0 = go on).
func dropPrivileges(log *logging.Logger, name string) int {
	if os.Geteuid() != 0 || name == "root" || os.Getenv("SNAP_NAME") == "mosquitto" {
		return 0
	}
	if name == "" {
		name = "mosquitto"
	}
	u, err := user.Lookup(name)
	if err != nil {
		if name != "mosquitto" {
			log.Log(logcat.DropPrivNoUser, name)
			return exitFail
		}
		log.Log(logcat.DropPrivNobody, name)
		if u, err = user.Lookup("nobody"); err != nil {
			log.Log(logcat.DropPrivFailed)
			return exitFail
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := syscall.Setgroups([]int{gid}); err != nil {
		log.Log(logcat.SetGroupsError, errText(err))
		return exitFail
	}
	if err := syscall.Setgid(gid); err != nil {
		log.Log(logcat.SetGIDError, errText(err))
		return exitFail
	}
	if err := syscall.Setuid(uid); err != nil {
		log.Log(logcat.SetUIDError, errText(err))
		return exitFail
	}
	return 0
}

func errText(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	return string(s[0]-32*(b2u(s[0] >= 'a' && s[0] <= 'z'))) + s[1:]
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}
