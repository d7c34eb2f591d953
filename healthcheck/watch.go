package healthcheck

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// WatchProber is kind watch: one long-lived TCP connection to the target.
// The kernel resets that connection when the backend process dies, so the
// loop sees a crash the moment it happens; TCP keepalive (KeepaliveInterval
// idle and between probes) with a TCP_USER_TIMEOUT that drops the connection
// after KeepaliveCount unanswered probes catches a host that vanishes without
// a word, and the loop confirms that with one reconnect (see watchLoop).
// Optionally a line is sent and a line expected when connecting.
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

// watchUserTimeout is the TCP_USER_TIMEOUT of a watched connection: it makes
// the kernel drop the connection after KeepaliveCount unanswered keepalive
// probes, to the keepalive timer's tick rather than one tick later.
//
// Linux's keepalive timer (tcp_keepalive_timer in net/ipv4/tcp_timer.c)
// fires KeepaliveInterval after the last segment received and then every
// KeepaliveInterval. On each firing, with a user timeout set, it drops the
// connection if a probe is unanswered and the time since the last segment
// received is at least the user timeout; otherwise it sends a probe (an
// answer resets the count). Firing k comes k intervals after the last
// segment, with k-1 probes unanswered, so a user timeout of
// (KeepaliveCount + 1/2) intervals drops the connection at firing
// KeepaliveCount+1: at the defaults, one unanswered probe, 2s after the
// host's last answer. Without a user timeout the kernel waits for
// KeepaliveCount probes and then one more interval.
//
// The same timeout bounds data the host does not acknowledge (a Send to a
// vanished host), where keepalive does not run.
func watchUserTimeout(s Spec) time.Duration {
	return s.KeepaliveInterval*time.Duration(s.KeepaliveCount) + s.KeepaliveInterval/2
}

// Open connects to t and does the send/expect exchange.
func (WatchProber) Open(ctx context.Context, t Target) (Session, error) {
	s := t.spec().WithDefaults()
	idle := s.KeepaliveInterval
	d := net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: idle, Interval: idle, Count: s.KeepaliveCount},
		Control: func(_, _ string, c syscall.RawConn) error {
			return setUserTimeout(c, watchUserTimeout(s))
		},
	}
	if src := t.source(); src.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
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
