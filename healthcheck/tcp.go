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
type TCPProber struct{}

// Check connects to t.ProbeAddr().
func (TCPProber) Check(ctx context.Context, t Target) error {
	conn, err := dialTCP(ctx, t.ProbeAddr())
	if err != nil {
		return err
	}
	resetClose(conn)
	return nil
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
