package e2e

import (
	"context"
	"testing"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// demoBackend is one `hadns demo ADDR:PORT` child process: a real backend
// that answers GET /healthz with 200, which a test can crash with SIGKILL
// and start again on the same address.
type demoBackend struct {
	addr string // host:port
	d    *loadtest.Demo
}

// Host returns the backend's IP address.
func (b *demoBackend) Host() string { return b.d.Host }

// kill crashes the backend (SIGKILL) and waits until it is gone. Killing a
// backend that is not running does nothing.
func (b *demoBackend) kill() { b.d.Kill() }

// restart starts a killed backend again on its address. The old process's
// listening socket is gone with it, and Go listeners set SO_REUSEADDR, so
// the port is free at once.
func (b *demoBackend) restart(t *testing.T) {
	t.Helper()
	b.kill()
	if err := b.d.Start(context.Background()); err != nil {
		t.Fatalf("restart backend: %v", err)
	}
}

// startDemoSet starts one demo backend per host, all on one port free on
// every host, and kills them when the test ends. A port taken by someone
// else between the choice and the bind is retried with another.
func startDemoSet(t *testing.T, hosts []string) (port int, bs []*demoBackend) {
	t.Helper()
	port, ds, err := loadtest.StartDemos(context.Background(), hadnsBin, hosts, startTimeout)
	if err != nil {
		t.Fatalf("demo backends: %v", err)
	}
	for _, d := range ds {
		bs = append(bs, &demoBackend{addr: d.Addr, d: d})
	}
	t.Cleanup(func() {
		for _, b := range bs {
			b.kill()
		}
	})
	return port, bs
}
