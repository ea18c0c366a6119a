//go:build linux && !386 && !s390x

package broker

import (
	"syscall"
	"unsafe"
)

// System calls made without telling Go's scheduler (syscall.RawSyscall),
// for the few that never block: on a non-blocking socket, on the poller's
// epoll set with a zero timeout. An ordinary syscall.Syscall marks its
// thread as in a system call, and the first one after every idle moment
// wakes the runtime's monitor thread (sysmon), which then polls for a
// millisecond before it sleeps again: in a storm of connects, that was a
// sixth of the broker's CPU and half its context switches
// (docs/BENCHMARKS.md, "Connect storms: accept without Go's net"). A
// raw call must not block, and all of these return at once.
//
// 386 and s390x reach sockets through socketcall; there the calls below
// are the ordinary ones (rawsys_linux_other.go), and listeners accept with
// Go's net.

// rawAccept reports whether listeners may accept with rawAccept4.
const rawAccept = true

// rawAccept4 accepts one connection, non-blocking and close-on-exec, and
// fills rsa with its peer's address.
func rawAccept4(fd int, rsa *syscall.RawSockaddrAny) (int, error) {
	l := uint32(syscall.SizeofSockaddrAny)
	r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(rsa)),
		uintptr(unsafe.Pointer(&l)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawRecv(fd int, b []byte, flags int) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(p), uintptr(len(b)), uintptr(flags), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(p), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawEpollCtl(epfd, op, fd int, ev *syscall.EpollEvent) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// rawEpollPoll collects ready events without waiting (a zero timeout).
func rawEpollPoll(epfd int, events []syscall.EpollEvent) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawSetNoDelay(fd int) error {
	one := int32(1)
	_, _, e := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), 4, 0)
	if e != 0 {
		return e
	}
	return nil
}
