//go:build linux

package fdtable

import "syscall"

func reserve(n int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < uint64(n) {
		n = int(lim.Cur)
	}
	if n <= 64 { // the table every process starts with
		return n
	}
	fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil { // no /dev/null (a bare chroot): any descriptor will do
		var p [2]int
		if syscall.Pipe2(p[:], syscall.O_CLOEXEC) != nil {
			return 0
		}
		syscall.Close(p[1])
		fd = p[0]
	}
	defer syscall.Close(fd)
	// F_DUPFD_CLOEXEC takes the lowest free descriptor at or above n-1,
	// never one in use; placing it there makes the kernel grow the table
	// to cover n-1, and closing it leaves the table grown.
	hi, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, uintptr(n-1))
	if errno != 0 {
		return 0
	}
	syscall.Close(int(hi))
	return n
}
