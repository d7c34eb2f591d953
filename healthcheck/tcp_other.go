//go:build !linux

package healthcheck

import (
	"context"
	"net/netip"
	"time"
)

// tcpConnect connects to a with a net.Dialer and resets the connection.
func tcpConnect(ctx context.Context, deadline time.Time, a netip.AddrPort) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := dialTCP(ctx, a)
	if err != nil {
		return err
	}
	resetClose(conn)
	return nil
}
