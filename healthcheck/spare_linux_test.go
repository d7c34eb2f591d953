package healthcheck

import (
	"os"
	"testing"
	"time"
)

// TestTCPLoopSpareSockets: with the process out of descriptors (a flood of
// connections to the DNS server took them all), tcp probes still run on
// the loop's spare sockets: the target is still probed for real, and a
// backend that dies meanwhile is still taken down.
func TestTCPLoopSpareSockets(t *testing.T) {
	spec := Spec{Interval: 100 * time.Millisecond, Timeout: 80 * time.Millisecond, FastInterval: 20 * time.Millisecond}
	ln := listen(t)
	tg := Target{Addr: addrOf(t, ln.Addr()), Spec: new(spec)}
	c, w, pc := loopChecker(t, []Target{tg})
	w.next(t, Up, 5*time.Second)

	_, restore := exhaustFDs(t)
	defer restore()
	// Probes go on, and succeed: spares, not local failures.
	before := pc.count(tg.Addr)
	deadline := time.Now().Add(5 * time.Second)
	for pc.count(tg.Addr) < before+10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := pc.count(tg.Addr) - before; n < 10 {
		t.Fatalf("%d probes in 5 s out of descriptors, want 10", n)
	}
	if st, _ := c.Status(tg.Key()); st.State != Up || st.LocalErr != "" {
		t.Fatalf("out of descriptors: %+v", st)
	}
	if lt := c.LocalTrouble(); lt.Total != 0 {
		t.Fatalf("local failures with spares left: %+v", lt)
	}

	// The backend dies (its port refuses); the descriptor its listener
	// freed is taken at once, as a flood would. It goes down all the same.
	ln.Close()
	if f, err := os.Open(os.DevNull); err == nil {
		defer f.Close()
	}
	if e := w.next(t, Down, 5*time.Second); e.Reason != "connect: connection refused" {
		t.Fatalf("down for %q, want connection refused", e.Reason)
	}
	if lt := c.LocalTrouble(); lt.Total != 0 {
		t.Fatalf("local failures with spares left: %+v", lt)
	}
}
