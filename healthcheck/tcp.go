package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// TCPProber is kind tcp: a connect that completes within the timeout. The
// connection is closed with a reset (SO_LINGER 0), as HAProxy does for its
// checks: at ten thousand probes a second a graceful close would leave as
// many sockets in TIME_WAIT every second.
//
// On Linux the connect is a raw nonblocking socket (see tcp_linux.go), not a
// net.Dialer: it costs a fraction of the syscalls and allocations, which is
// what lets one core hold ten thousand targets.
type TCPProber struct{}

// Check connects to t.ProbeAddr().
func (TCPProber) Check(ctx context.Context, t Target) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	return tcpConnect(ctx, deadline, t.ProbeAddr())
}

// checkBy is the loop's fast path: the deadline comes as a value, sparing a
// context with a timer per probe. ctx only carries the loop's cancellation.
func (TCPProber) checkBy(ctx context.Context, deadline time.Time, t Target) error {
	return tcpConnect(ctx, deadline, t.ProbeAddr())
}

// deadlineChecker is implemented by probers that take their deadline as a
// value. The loop uses it instead of Check to avoid a context.WithTimeout
// (an allocation and a runtime timer) per probe.
type deadlineChecker interface {
	checkBy(ctx context.Context, deadline time.Time, t Target) error
}

// probeDialer is shared by the probes that dial. Keepalive is off: a probe's
// connection lives for one exchange, and setting it costs syscalls.
var probeDialer = net.Dialer{KeepAlive: -1}

// dialTCP connects to addr, failing with a "connect:" ProbeError.
func dialTCP(ctx context.Context, addr netip.AddrPort) (*net.TCPConn, error) {
	conn, err := probeDialer.DialContext(ctx, "tcp", addr.String())
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
