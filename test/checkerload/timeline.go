package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// secondStats is the lag of the current second of a timeline: bursts that a
// whole-run quantile hides (a stall every few seconds) show up line by line.
type secondStats struct {
	maxNs atomic.Int64
	late  atomic.Int64 // probes more than 50ms late
}

func (s *secondStats) add(d time.Duration) {
	if d > 50*time.Millisecond {
		s.late.Add(1)
	}
	for {
		m := s.maxNs.Load()
		if int64(d) <= m || s.maxNs.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// print prints one line a second for duration.
func (s *secondStats) print(duration time.Duration, probes, failures *atomic.Int64) {
	fmt.Printf("%8s %8s %8s %12s %8s %8s %10s\n", "second", "probes", "failed", "worst lag", "late", "cpu", "runq wait")
	start := time.Now()
	p0, f0, c0, w0 := probes.Load(), failures.Load(), cpuTime(), runqWait()
	s.maxNs.Store(0)
	s.late.Store(0)
	for i := 1; time.Since(start) < duration; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second)))
		p1, f1, c1, w1 := probes.Load(), failures.Load(), cpuTime(), runqWait()
		worst, late := s.maxNs.Swap(0), s.late.Swap(0)
		fmt.Printf("%8d %8d %8d %12v %8d %8.3f %10v\n", i, p1-p0, f1-f0, time.Duration(worst).Round(time.Microsecond), late,
			(c1 - c0).Seconds(), (w1 - w0).Round(time.Millisecond))
		p0, f0, c0, w0 = p1, f1, c1, w1
	}
}

// softnetDrops sums the packets every CPU dropped because its receive
// backlog was full (the second column of /proc/net/softnet_stat).
func softnetDrops() int64 {
	b, err := os.ReadFile("/proc/net/softnet_stat")
	if err != nil {
		return 0
	}
	var n int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 16, 64)
		if err == nil {
			n += v
		}
	}
	return n
}

// runqWait is how long this process's threads have been runnable but
// waiting for a CPU (the second field of each thread's schedstat): time
// taken by other processes on the checker's CPU, which shows as lag the
// checker cannot help.
func runqWait() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			n += v
		}
	}
	return time.Duration(n)
}
