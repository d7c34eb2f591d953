package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

// tcpConnect connects to a with a raw nonblocking socket and closes it with
// a reset. The steps, and why:
//
//   - socket(SOCK_NONBLOCK) and SO_LINGER 0 up front, so close sends a RST.
//   - connect() starts the handshake and returns EINPROGRESS.
//   - connect() again asks how it went, in one syscall: 0 once established,
//     EALREADY while the SYN is out, the error (ECONNREFUSED...) once it
//     failed. On loopback and very near hosts the handshake is usually over
//     by then, and the probe never touches the poller.
//   - Otherwise the socket goes to Go's netpoller (os.NewFile) and the
//     goroutine parks until it is writable or the deadline passes, asking
//     connect() again on every wake.
func tcpConnect(ctx context.Context, deadline time.Time, a netip.AddrPort) error {
	sa, family := sockaddr(a)
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return &ProbeError{Op: "connect", Err: os.NewSyscallError("socket", err)}
	}
	linger := syscall.Linger{Onoff: 1, Linger: 0}
	_ = syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &linger)

	err = syscall.Connect(fd, sa)
	if err == syscall.EINPROGRESS {
		err = syscall.Connect(fd, sa)
	}
	switch err {
	case nil, syscall.EISCONN:
		syscall.Close(fd)
		return nil
	case syscall.EALREADY, syscall.EINPROGRESS, syscall.EINTR:
		return waitConnect(ctx, deadline, fd, sa)
	default:
		syscall.Close(fd)
		return &ProbeError{Op: "connect", Err: err}
	}
}

// waitConnect waits in the netpoller for a connect in progress on fd, which
// it takes over and closes.
func waitConnect(ctx context.Context, deadline time.Time, fd int, sa syscall.Sockaddr) error {
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	// Failures to hand the socket to the netpoller are the checker's own
	// trouble, not the target's.
	rc, err := f.SyscallConn()
	if err != nil {
		return &ProbeError{Op: "connect", Err: &localError{err}}
	}
	if err := f.SetWriteDeadline(deadline); err != nil {
		return &ProbeError{Op: "connect", Err: &localError{err}}
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	var cerr error
	werr := rc.Write(func(fd uintptr) bool {
		switch e := syscall.Connect(int(fd), sa); e {
		case syscall.EALREADY, syscall.EINPROGRESS, syscall.EINTR:
			return false // not yet: park until writable
		case nil, syscall.EISCONN:
			cerr = nil
		default:
			cerr = e
		}
		return true
	})
	switch {
	case werr != nil && ctx.Err() != nil:
		return &ProbeError{Op: "connect", Err: ctx.Err()}
	case werr != nil:
		return &ProbeError{Op: "connect", Err: werr}
	case cerr != nil:
		return &ProbeError{Op: "connect", Err: cerr}
	}
	return nil
}

// sockaddr converts a to the syscall form.
func sockaddr(a netip.AddrPort) (syscall.Sockaddr, int) {
	ip := a.Addr()
	if ip.Is4() || ip.Is4In6() {
		return &syscall.SockaddrInet4{Port: int(a.Port()), Addr: ip.Unmap().As4()}, syscall.AF_INET
	}
	sa := &syscall.SockaddrInet6{Port: int(a.Port()), Addr: ip.As16()}
	if z := ip.Zone(); z != "" {
		if ifi, err := netInterfaceIndex(z); err == nil {
			sa.ZoneId = uint32(ifi)
		}
	}
	return sa, syscall.AF_INET6
}

// netInterfaceIndex resolves an IPv6 zone (an interface name or number).
func netInterfaceIndex(zone string) (int, error) {
	if n, err := strconv.Atoi(zone); err == nil {
		return n, nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}
