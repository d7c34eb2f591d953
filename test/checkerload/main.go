// Command checkerload measures the health checker at scale: it runs many
// targets (default 10,000 tcp targets at the default 1s interval) against
// loopback listeners and prints the CPU the checker used, its memory, how
// late probes started against their schedule, and the probe rate.
//
// The listeners live in a child process (this program re-executed with
// -serve), so the CPU figure is the checker's alone. They are spread over
// 127.1.x.y addresses, a hundred ports each, so every target is a distinct
// address and port. Only loopback is used; the run is bounded by -warmup plus
// -duration, and the child exits with its parent.
//
//	go run ./test/checkerload -duration 60s -targets 10000
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hadns/hadns/healthcheck"
)

func main() {
	duration := flag.Duration("duration", 60*time.Second, "how long to measure")
	warmup := flag.Duration("warmup", 5*time.Second, "how long to run before measuring (start-up burst and stagger)")
	targets := flag.Int("targets", 10000, "how many targets")
	interval := flag.Duration("interval", time.Second, "probe interval")
	kind := flag.String("kind", "tcp", "probe kind: tcp or http")
	perAddr := flag.Int("per-addr", 100, "listeners per loopback address")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measured window to this file")
	timeline := flag.Bool("timeline", false, "print one line per second of the measured window: probes, failures, worst lag, probes later than 50ms")
	serve := flag.Bool("serve", false, "internal: run as the listener child process")
	isolate := flag.Bool("isolate", true, "run in a private network namespace whose loopback steers receive processing away from the checker's CPU (needs root); see isolate.go")
	inner := flag.Bool("inner", false, "internal: running inside the isolated namespace")
	cpu := flag.Int("cpu", 0, "with -isolate: the CPU the checker is pinned to; the listeners and receive processing get the others")
	ncpu := flag.Int("ncpu", runtime.NumCPU(), "internal: CPUs of the machine (a pinned parent sees only its own)")
	flag.Parse()

	checkerMask := uint64(1) << *cpu
	otherMask := (uint64(1)<<*ncpu - 1) &^ checkerMask
	if *isolate && !*serve && !*inner {
		if runtime.NumCPU() < 2 {
			fmt.Fprintln(os.Stderr, "checkerload: -isolate needs two CPUs; running on the host loopback")
		} else {
			code, err := reexecIsolated()
			if err != nil {
				fmt.Fprintln(os.Stderr, "checkerload:", err)
			}
			os.Exit(code)
		}
	}
	if *inner && !*serve {
		if err := setupIsolated(otherMask); err != nil {
			fmt.Fprintln(os.Stderr, "checkerload:", err)
			os.Exit(1)
		}
		if err := pinTo(checkerMask); err != nil {
			fmt.Fprintln(os.Stderr, "checkerload:", err)
			os.Exit(1)
		}
		fmt.Printf("checkerload: private network namespace; checker pinned to CPU %d, listeners and loopback receive processing on mask %#x\n", *cpu, otherMask)
	}
	if *inner && *serve {
		if err := pinTo(otherMask); err != nil {
			fmt.Fprintln(os.Stderr, "checkerload -serve:", err)
		}
	}

	if err := raiseNoFile(); err != nil {
		fmt.Fprintln(os.Stderr, "checkerload: raising RLIMIT_NOFILE:", err)
	}
	if *serve {
		if err := runListeners(*targets, *perAddr, *kind, *warmup+*duration+time.Minute); err != nil {
			fmt.Fprintln(os.Stderr, "checkerload -serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*duration, *warmup, *targets, *perAddr, *interval, *kind, *cpuprofile, *timeline); err != nil {
		fmt.Fprintln(os.Stderr, "checkerload:", err)
		os.Exit(1)
	}
}

func run(duration, warmup time.Duration, n, perAddr int, interval time.Duration, kind, cpuprofile string, timeline bool) error {
	addrs, stop, err := startChild(n, perAddr, kind)
	if err != nil {
		return err
	}
	defer stop()

	var probes, failures atomic.Int64
	var lastErr atomic.Value
	lag := newHistogram()
	tl := &secondStats{}
	spec := healthcheck.Spec{Kind: kind, Interval: interval}
	if kind == "http" {
		spec.Path = "/"
	}
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return err
	}
	c := healthcheck.New(healthcheck.Options{
		OnProbe: func(_ healthcheck.Target, _ time.Duration, err error) {
			probes.Add(1)
			if err != nil {
				failures.Add(1)
				lastErr.Store(err.Error())
			}
		},
		OnLag: func(_ healthcheck.Target, d time.Duration) {
			lag.add(d)
			tl.add(d)
		},
	})
	ts := make([]healthcheck.Target, len(addrs))
	for i, a := range addrs {
		ts[i] = healthcheck.Target{Addr: a, Spec: &spec}
	}
	c.Set(ts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx)
	defer c.Stop()
	fmt.Printf("checkerload: %d %s targets at %v against %d listeners in child process; warm-up %v, measuring %v\n",
		len(ts), kind, interval, len(addrs), warmup, duration)

	time.Sleep(warmup)
	if !c.Ready() {
		fmt.Println("warning: not every target had a result after the warm-up")
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	lag.reset()
	p0, f0 := probes.Load(), failures.Load()
	drops0 := softnetDrops()
	cpu0, wall0 := cpuTime(), time.Now()
	if timeline {
		tl.print(duration, &probes, &failures)
	} else {
		time.Sleep(duration)
	}
	cpu1, wall1 := cpuTime(), time.Now()
	drops1 := softnetDrops()
	p1, f1 := probes.Load(), failures.Load()

	wall := wall1.Sub(wall0)
	cores := (cpu1 - cpu0).Seconds() / wall.Seconds()
	rss, hwm := memory()
	up := 0
	for _, st := range c.Snapshot() {
		if st.State == healthcheck.Up {
			up++
		}
	}
	p50, p99, maxLag, lagN := lag.quantile(0.50), lag.quantile(0.99), lag.max(), lag.count()
	rate := float64(p1-p0) / wall.Seconds()

	fmt.Printf("\n%-28s %v\n", "measured window", wall.Round(time.Millisecond))
	fmt.Printf("%-28s %.3f  (target <= 0.25)\n", "checker CPU (cores)", cores)
	fmt.Printf("%-28s %.1f MiB now, %.1f MiB peak  (target <= 200)\n", "checker RSS", rss, hwm)
	fmt.Printf("%-28s p50 %v  p99 %v  max %v  over %d probes  (target p99 <= 50ms)\n", "probe schedule lag",
		p50, p99, maxLag, lagN)
	fmt.Printf("%-28s %.0f  (%d targets / %v = %.0f expected)\n", "probes per second", rate, len(ts), interval,
		float64(len(ts))/interval.Seconds())
	fmt.Printf("%-28s %d", "failed probes", f1-f0)
	if e, ok := lastErr.Load().(string); ok {
		fmt.Printf("  (last: %s)", e)
	}
	fmt.Printf("\n%-28s %d  (packets the kernel dropped for a full receive backlog: such a drop costs a probe a 1s SYN retransmit)\n",
		"softnet drops, all CPUs", drops1-drops0)
	fmt.Printf("%-28s %d of %d\n", "targets up at the end", up, len(ts))
	verdict := "PASS"
	if cores > 0.25 || hwm > 200 || p99 > 50*time.Millisecond {
		verdict = "FAIL"
	}
	fmt.Printf("%-28s %s\n", "verdict", verdict)
	return nil
}

// startChild re-executes this program with -serve and reads the addresses
// its listeners bound. stop kills it.
func startChild(n, perAddr int, kind string) ([]netip.AddrPort, func(), error) {
	cmd := exec.Command("/proc/self/exe", append([]string{"-serve", fmt.Sprint("-targets=", n), fmt.Sprint("-per-addr=", perAddr), "-kind=" + kind}, passArgs()...)...)
	cmd.Stderr = os.Stderr
	// The child exits when its stdin closes: when this process ends,
	// however it ends.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	var addrs []netip.AddrPort
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			return addrs, stop, nil
		}
		a, err := netip.ParseAddrPort(line)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("child said %q: %w", line, err)
		}
		addrs = append(addrs, a)
	}
	stop()
	return nil, nil, fmt.Errorf("child exited before it was ready: %v", sc.Err())
}

// passArgs passes the parent's timing flags to the child, so its own time
// bound covers the parent's run, and tells it whether it is isolated.
func passArgs() []string {
	var args []string
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "duration" || f.Name == "warmup" || f.Name == "inner" || f.Name == "cpu" {
			args = append(args, "-"+f.Name+"="+f.Value.String())
		}
	})
	args = append(args, fmt.Sprint("-ncpu=", flag.Lookup("ncpu").Value))
	return args
}

// cpuTime is the user plus system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memory returns this process's resident set size and its peak, in MiB.
func memory() (rss, hwm float64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(line, "VmRSS: %f kB", &kb); err == nil {
			rss = kb / 1024
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %f kB", &kb); err == nil {
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// raiseNoFile lifts the soft open-files limit to the hard one: ten thousand
// listeners in the child, and as many sockets in flight in the checker.
func raiseNoFile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
