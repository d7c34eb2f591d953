package healthcheck

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// exhaustFDs lowers the process's soft open-files limit and fills the
// descriptor table up to it; free gives one descriptor back. The returned
// function restores everything.
func exhaustFDs(t *testing.T) (free func(), restore func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := syscall.Rlimit{Cur: 512, Max: old.Max}
	if old.Max < low.Cur {
		low.Cur = old.Max
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var held []*os.File
	for i := 0; i < int(low.Cur); i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("filling the table: %v", err)
			}
			break
		}
		held = append(held, f)
	}
	if _, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0); err != syscall.EMFILE {
		t.Fatalf("the table is not full: socket: %v", err)
	}
	free = func() {
		if n := len(held); n > 0 {
			held[n-1].Close()
			held = held[:n-1]
		}
	}
	restore = func() {
		for _, f := range held {
			f.Close()
		}
		held = nil
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Errorf("restoring the limit: %v", err)
		}
	}
	return free, restore
}

// TestTCPLoopSpareSockets: with the process out of descriptors (a flood of
// connections to the DNS server took them all), tcp probes still run on
// the loop's spare sockets: the target is still probed for real, and a
// backend that dies meanwhile is still taken down.
func TestTCPLoopSpareSockets(t *testing.T) {
	spec := Spec{Interval: 100 * time.Millisecond, Timeout: 80 * time.Millisecond, FastInterval: 20 * time.Millisecond}
	ln := listen(t)
	tg := Target{Addr: addrOf(t, ln.Addr()), Spec: spec}
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
