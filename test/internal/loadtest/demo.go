package loadtest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DemoStartTimeout is how long a demo backend may take to listen unless its
// StartTimeout says otherwise.
const DemoStartTimeout = 10 * time.Second

// Demo is one `hadns demo ADDR:PORT` child process: a real HTTP backend that
// a test crashes with SIGKILL and starts again on its address.
type Demo struct {
	Bin, Host, Addr string
	Flags           []string      // hadns demo's flags, e.g. -refuse-from ADDR
	StartTimeout    time.Duration // 0: DemoStartTimeout

	mu   sync.Mutex
	proc *Proc
}

// StartDemos starts one demo backend per host, all on one port free on every
// host, retrying another port when one is taken meanwhile. Each may take
// startTimeout to listen (0: DemoStartTimeout).
func StartDemos(ctx context.Context, bin string, hosts []string, startTimeout time.Duration) (int, []*Demo, error) {
	var lastErr error
	for attempt := 0; attempt < 8 && ctx.Err() == nil; attempt++ {
		l, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			return 0, nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		var ds []*Demo
		lastErr = nil
		for _, h := range hosts {
			d := &Demo{Bin: bin, Host: h, Addr: net.JoinHostPort(h, fmt.Sprint(port)), StartTimeout: startTimeout}
			if lastErr = d.Start(ctx); lastErr != nil {
				break
			}
			ds = append(ds, d)
		}
		if lastErr == nil {
			return port, ds, nil
		}
		for _, d := range ds {
			d.Kill()
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	if lastErr == nil {
		lastErr = context.Cause(ctx)
	}
	return 0, nil, lastErr
}

// Start runs the backend and returns once it listens (at most StartTimeout).
// On error the process is gone.
func (d *Demo) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	args := append(append([]string{"demo"}, d.Flags...), d.Addr)
	p, err := StartProc("hadns demo "+d.Addr, d.Bin, args, "", -1)
	if err != nil {
		return err
	}
	d.proc = p
	limit := d.StartTimeout
	if limit <= 0 {
		limit = DemoStartTimeout
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.Out.Watch("backend "+d.Addr+" up", 0):
		return nil
	case <-p.Done():
		return fmt.Errorf("hadns demo %s exited: %s", d.Addr, strings.TrimSpace(p.Out.String()))
	case <-ctx.Done():
		err = context.Cause(ctx)
	case <-timer.C:
		err = fmt.Errorf("hadns demo %s: not listening within %v", d.Addr, limit)
	}
	_ = p.Cmd.Process.Kill()
	<-p.Done()
	return err
}

// Kill sends SIGKILL and waits until the process is gone. It does nothing
// to a backend that is not running.
func (d *Demo) Kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil || !d.proc.Alive() {
		return
	}
	_ = d.proc.Cmd.Process.Signal(syscall.SIGKILL)
	<-d.proc.Done()
}
