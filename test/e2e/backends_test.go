package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoBackend is one `hadns demo ADDR:PORT` child process: a real backend
// that answers GET /healthz with 200, which a test can crash with SIGKILL
// and start again on the same address.
type demoBackend struct {
	addr string // host:port
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process exited
}

// Host returns the backend's IP address.
func (b *demoBackend) Host() string {
	h, _, _ := net.SplitHostPort(b.addr)
	return h
}

// startDemo starts `hadns demo addr` and waits until it says it listens, it
// exits, or startTimeout passes. On error the process is gone.
func startDemo(addr string) (*demoBackend, error) {
	b := &demoBackend{addr: addr}
	return b, b.start()
}

func (b *demoBackend) start() error {
	b.out = &syncBuffer{}
	b.done = make(chan struct{})
	b.cmd = exec.Command(hadnsBin, "demo", b.addr)
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	b.cmd.SysProcAttr = sysProcAttr() // dies with the test process
	if err := b.cmd.Start(); err != nil {
		close(b.done)
		return err
	}
	done := b.done
	go func() {
		_ = b.cmd.Wait()
		close(done)
	}()
	ready := "backend " + b.addr + " up"
	deadline := time.Now().Add(startTimeout)
	for i := 0; i < int(startTimeout/(10*time.Millisecond)); i++ {
		if strings.Contains(b.out.String(), ready) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("hadns demo %s exited: %s", b.addr, strings.TrimSpace(b.out.String()))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			break
		}
	}
	b.kill()
	return fmt.Errorf("hadns demo %s: not listening within %v: %s", b.addr, startTimeout, b.out.String())
}

// kill crashes the backend (SIGKILL) and waits until it is gone. Killing a
// backend that is not running does nothing.
func (b *demoBackend) kill() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-b.done:
	case <-time.After(stopTimeout):
	}
}

// restart starts a killed backend again on its address. The old process's
// listening socket is gone with it, and Go listeners set SO_REUSEADDR, so
// the port is free at once.
func (b *demoBackend) restart(t *testing.T) {
	t.Helper()
	b.kill()
	if err := b.start(); err != nil {
		t.Fatalf("restart backend: %v", err)
	}
}

// startDemoSet starts one demo backend per host, all on one port free on
// every host, and kills them when the test ends. A port taken by someone
// else between the choice and the bind is retried with another.
func startDemoSet(t *testing.T, hosts []string) (port int, bs []*demoBackend) {
	t.Helper()
	const attempts = 8
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		l, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			t.Fatalf("listen on %s: %v", hosts[0], err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		bs = bs[:0]
		lastErr = nil
		for _, h := range hosts {
			b, err := startDemo(net.JoinHostPort(h, fmt.Sprint(port)))
			if err != nil {
				lastErr = err
				break
			}
			bs = append(bs, b)
		}
		if lastErr == nil {
			all := append([]*demoBackend(nil), bs...)
			t.Cleanup(func() {
				for _, b := range all {
					b.kill()
				}
			})
			return port, bs
		}
		for _, b := range bs {
			b.kill()
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("demo backends: %v", lastErr)
	return 0, nil
}
