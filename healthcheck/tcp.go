package healthcheck

import (
	"context"
	"net"
	"net/netip"
)

// TCPProber is kind tcp: a connect that completes within the timeout. The
// connection is closed with a reset (SO_LINGER 0), as HAProxy does for its
// checks: at ten thousand probes a second a graceful close would leave as
// many sockets in TIME_WAIT every second.
//
// On Linux, a Checker on the real clock does not call Check: it runs every
// tcp target on its epoll loop (tcploop_linux.go), which is what lets one
// core hold ten thousand targets. Check, a net.Dialer connect, is the path
// on other systems, under an injected Clock (tests), and if the loop could
// not be created.
type TCPProber struct{}

// Check connects to t.ProbeAddr(). Without a deadline in ctx it gives up
// after DefaultTimeout.
func (TCPProber) Check(ctx context.Context, t Target) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	conn, err := dialTCP(ctx, t)
	if err != nil {
		return err
	}
	resetClose(conn)
	return nil
}

// probeDialer is shared by the probes that dial. Keepalive is off: a probe's
// connection lives for one exchange, and setting it costs syscalls.
var probeDialer = net.Dialer{KeepAlive: -1}

// dialTCP connects to t's probe address from its source address, failing
// with a "connect:" ProbeError.
func dialTCP(ctx context.Context, t Target) (*net.TCPConn, error) {
	d := &probeDialer
	if src := t.source(); src.IsValid() {
		d = &net.Dialer{KeepAlive: -1, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	}
	conn, err := d.DialContext(ctx, "tcp", t.ProbeAddr().String())
	if err != nil {
		return nil, probeErr("connect", err)
	}
	return conn.(*net.TCPConn), nil
}

// resetClose closes conn with a RST instead of a FIN, leaving no TIME_WAIT.
func resetClose(conn *net.TCPConn) {
	_ = conn.SetLinger(0)
	_ = conn.Close()
}
