package healthcheck

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain doubles as a backend process for the watch tests: with
// HADNS_TEST_BACKEND set, the test binary re-executed as a child listens on
// loopback, prints its address, and holds every connection it accepts until
// it is killed (or a minute passes, so an orphan cannot linger).
func TestMain(m *testing.M) {
	if os.Getenv("HADNS_TEST_BACKEND") != "" {
		runTestBackend()
		return
	}
	os.Exit(m.Run())
}

func runTestBackend() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	go func() {
		time.Sleep(time.Minute)
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(0)
		}
		go serveLines(c)
	}
}

// serveLines answers "ping" with "pong" and holds the connection.
func serveLines(c net.Conn) {
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if sc.Text() == "ping" {
			fmt.Fprintln(c, "pong")
		}
	}
	c.Close()
}

// startBackendProcess runs the test binary as a backend child process and
// returns it with its address.
func startBackendProcess(t *testing.T) (*exec.Cmd, netip.AddrPort) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HADNS_TEST_BACKEND=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("backend: %v", err)
	}
	return cmd, netip.MustParseAddrPort(strings.TrimSpace(line))
}

// listen returns a loopback listener closed at cleanup.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func addrOf(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// boundSocket returns the address of a TCP socket that is bound but not
// listening: a SYN to it is answered with a reset, so connects are refused,
// and unlike a closed listener's port nobody else can take it meanwhile.
func boundSocket(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port))
}

// hangingSocket returns the address of a loopback listener whose connects
// hang. It listens with a backlog of 0 and never accepts; once one
// connection fills its accept queue, Linux drops every further SYN (the
// accept-queue-full check comes before SYN cookies), so the client keeps
// retransmitting its SYN and its connect only ends at its own timeout. The
// queue is filled by connecting until a connect times out, which also proves
// the mechanism works on this kernel.
func hangingSocket(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port))
	for range 16 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		c, err := probeDialer.DialContext(ctx, "tcp", addr.String())
		cancel()
		if err != nil {
			return addr // the queue is full: this connect hung until its timeout
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("connects to a full listen queue did not hang")
	return addr
}

// probe runs one check of t through a bound prober, under timeout.
func probe(t *testing.T, tg Target, timeout time.Duration) error {
	t.Helper()
	tg.Spec = new(tg.spec().WithDefaults())
	if err := tg.Spec.Validate(); err != nil {
		t.Fatalf("spec: %v", err)
	}
	p := builtinProbers()[tg.Spec.Kind]
	if b, ok := p.(binder); ok {
		var err error
		if p, err = b.bind(tg); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Check(ctx, tg)
}

// wantErr fails unless err's text is want ("" meaning no error).
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want %q", want)
	case want != "" && err.Error() != want:
		t.Fatalf("error %q, want %q", err, want)
	}
}

// eventWaiter reads a subscription's events for tests on the real clock.
type eventWaiter struct {
	sub *Subscription
	q   []Event
}

// next waits (up to limit) for the next event that enters state s, skipping
// others.
func (w *eventWaiter) next(t *testing.T, s State, limit time.Duration) Event {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		for len(w.q) > 0 {
			e := w.q[0]
			w.q = w.q[1:]
			if e.New == s {
				return e
			}
		}
		select {
		case <-w.sub.C():
			w.q = append(w.q, w.sub.Events()...)
		case <-deadline.C:
			t.Fatalf("no transition to %v within %v", s, limit)
		}
	}
}

// runChecker starts a real-clock Checker on targets and subscribes to it.
func runChecker(t *testing.T, targets ...Target) (*Checker, *eventWaiter) {
	t.Helper()
	c := New(Options{})
	w := &eventWaiter{sub: c.Subscribe()}
	if err := c.Set(targets); err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	t.Cleanup(func() { c.Stop(); w.sub.Close() })
	return c, w
}
