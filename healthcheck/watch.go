package healthcheck

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// WatchProber is kind watch: one long-lived TCP connection to the target.
// The kernel resets that connection when the backend process dies, so the
// loop sees a crash the moment it happens; TCP keepalive (KeepaliveInterval
// idle and between probes, KeepaliveCount unanswered probes) and a matching
// TCP_USER_TIMEOUT catch a host that vanishes without a word. Optionally a
// line is sent and a line expected when connecting.
type WatchProber struct{}

// Check connects (with the send/expect exchange) and closes again: a watch
// used as a one-shot probe.
func (WatchProber) Check(ctx context.Context, t Target) error {
	s, err := WatchProber{}.Open(ctx, t)
	if err != nil {
		return err
	}
	return s.Close()
}

// errKeepalive is why a watched connection to a silent host was dropped.
var errKeepalive = errors.New("keepalive timeout")

// Open connects to t and does the send/expect exchange.
func (WatchProber) Open(ctx context.Context, t Target) (Session, error) {
	s := t.Spec.WithDefaults()
	idle := s.KeepaliveInterval
	d := net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: idle, Interval: idle, Count: s.KeepaliveCount},
		// Keepalive only runs while nothing is in flight; the user timeout
		// bounds the other case (a Send unacknowledged by a vanished host)
		// by the same time.
		Control: func(_, _ string, c syscall.RawConn) error {
			return setUserTimeout(c, idle*time.Duration(s.KeepaliveCount+1))
		},
	}
	c, err := d.DialContext(ctx, "tcp", t.ProbeAddr().String())
	if err != nil {
		return nil, probeErr("connect", err)
	}
	conn := c.(*net.TCPConn)
	if s.Send == "" && s.Expect == "" {
		return &watchSession{conn: conn}, nil
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if s.Send != "" {
		if _, err := io.WriteString(conn, s.Send+"\n"); err != nil {
			resetClose(conn)
			return nil, probeErr("watch", err)
		}
	}
	if s.Expect != "" {
		line, err := bufio.NewReaderSize(io.LimitReader(conn, 4096), 4096).ReadString('\n')
		if err != nil && line == "" {
			resetClose(conn)
			return nil, probeErr("watch", err)
		}
		if !strings.Contains(line, s.Expect) {
			resetClose(conn)
			return nil, &ProbeError{Op: "watch", Err: errors.New("expected " + quote(s.Expect) + ", got " + quote(strings.TrimSpace(line)))}
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return &watchSession{conn: conn}, nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}

type watchSession struct{ conn *net.TCPConn }

// Wait reads (and discards) until the connection fails.
func (w *watchSession) Wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = w.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 512)
	for {
		_, err := w.conn.Read(buf)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, syscall.ETIMEDOUT) {
			return &ProbeError{Op: "watch", Err: errKeepalive}
		}
		return probeErr("watch", err)
	}
}

func (w *watchSession) Close() error {
	resetClose(w.conn)
	return nil
}
