//go:build linux && (386 || s390x)

package broker

import "syscall"

// The ordinary system calls, where sockets go through socketcall
// (rawsys_linux.go).

const rawAccept = false

func rawAccept4(fd int, rsa *syscall.RawSockaddrAny) (int, error) { return -1, syscall.ENOSYS }

func rawRecv(fd int, b []byte, flags int) (int, error) {
	n, _, err := syscall.Recvfrom(fd, b, flags)
	if err != nil {
		return -1, err
	}
	return n, nil
}

func rawWrite(fd int, b []byte) (int, error) { return syscall.Write(fd, b) }

func rawEpollCtl(epfd, op, fd int, ev *syscall.EpollEvent) error {
	return syscall.EpollCtl(epfd, op, fd, ev)
}

func rawEpollPoll(epfd int, events []syscall.EpollEvent) (int, error) {
	return syscall.EpollWait(epfd, events, 0)
}

func rawSetNoDelay(fd int) error {
	return syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
}
