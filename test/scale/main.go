// Command scale measures hadns with a big zone: by default 10,000 backends
// in 50 services over 5 sites, every backend a real loopback listener
// checked by tcp connect at the default 1 s interval. It prints:
//
//   - start-up: process start to the first service answer, to CoreDNS's
//     ready endpoint answering 200 (every check has a first result), and the
//     resident memory then;
//   - the CPU the idle server uses to run the checks;
//   - zone reload: a rewritten zone file (one static record changed) to
//     hadns's "reloaded" log line and to the new answer being served; the
//     file is polled every -reload, which bounds the wait before the work;
//   - queries per second for service A answers of the big zone and of a
//     small zone (one service, 40 backends: the same 8-record answers)
//     served by the same process, alternating over -rounds, and their ratio
//     (median of the per-round ratios).
//
// hadns is pinned to -server-cpu and dnsperf to -load-cpu (taskset); the
// listeners live in this process. The open-files limit is raised to its hard
// limit (the server inherits it). Loopback only; bounded by -timeout.
//
//	go run ./test/scale
//	go run ./test/scale -backends 20000 -services 100
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hadns/hadns/test/internal/loadtest"
)

type config struct {
	bin                       string
	backends, services, sites int
	perAddr                   int
	rounds                    int
	duration                  time.Duration
	reloads                   int
	reload                    time.Duration
	idle                      time.Duration
	clients, outstanding      int
	serverCPU, loadCPU        int
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "hadns binary (default: build ./cmd/hadns)")
	flag.IntVar(&c.backends, "backends", 10000, "backends of the big zone, each its own listener")
	flag.IntVar(&c.services, "services", 50, "services of the big zone")
	flag.IntVar(&c.sites, "sites", 5, "sites")
	flag.IntVar(&c.perAddr, "per-addr", 100, "listeners per loopback address")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds of the big/small QPS comparison")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "length of one dnsperf run")
	flag.IntVar(&c.reloads, "reloads", 3, "zone reloads to time")
	flag.DurationVar(&c.reload, "reload", time.Second, "hadns's reload (file check) interval")
	flag.DurationVar(&c.idle, "idle", 10*time.Second, "how long to measure the idle server's CPU")
	flag.IntVar(&c.clients, "clients", 4, "dnsperf -c: client sockets")
	flag.IntVar(&c.outstanding, "outstanding", 200, "dnsperf -q: queries in flight")
	flag.IntVar(&c.serverCPU, "server-cpu", 0, "CPU hadns is pinned to (-1: not pinned)")
	flag.IntVar(&c.loadCPU, "load-cpu", 1, "CPU dnsperf is pinned to (-1: not pinned)")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if c.services < 1 || c.sites < 1 || c.backends < c.services || c.backends%c.services != 0 {
		return fmt.Errorf("-backends %d must be a multiple of -services %d", c.backends, c.services)
	}
	if err := raiseNoFile(); err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE: %w", err)
	}
	dir, err := os.MkdirTemp("", "hadns-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if c.bin == "" {
		c.bin = filepath.Join(dir, "hadns")
		fmt.Println("building ./cmd/hadns ...")
		if err := loadtest.Build("./cmd/hadns", c.bin); err != nil {
			return err
		}
	}
	if c.bin, err = filepath.Abs(c.bin); err != nil {
		return err
	}

	big := shape{origin: "big.test.", services: c.services, backends: c.backends, sites: c.sites, wwwIP: "127.0.0.80"}
	small := shape{origin: "small.test.", services: 1, backends: 8 * c.sites, sites: c.sites, wwwIP: "127.0.0.80"}
	bigLns, err := loadtest.Listen(listenAddrs(big.backends, c.perAddr, 2))
	if err != nil {
		return fmt.Errorf("listeners (raise the open-files hard limit?): %w", err)
	}
	defer bigLns.Close()
	smallLns, err := loadtest.Listen(listenAddrs(small.backends, small.backends, 9))
	if err != nil {
		return fmt.Errorf("listeners: %w", err)
	}
	defer smallLns.Close()
	bigFile := filepath.Join(dir, "big.test.yaml")
	if err := writeFile(bigFile, big.zoneYAML(bigLns.Addrs)); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "small.test.yaml"), small.zoneYAML(smallLns.Addrs)); err != nil {
		return err
	}
	fmt.Printf("big zone: %d backends (listeners), %d services, %d sites; small zone: %d backends, 1 service\n",
		big.backends, big.services, big.sites, small.backends)

	srv, st, err := start(ctx, c, dir, []string{"big.test.yaml", "small.test.yaml"}, big)
	if err != nil {
		return err
	}
	defer srv.proc.Stop()
	fmt.Printf("\nstart-up (process start →)\n  first service answer  %v\n  ready endpoint 200    %v\n  \"ready\" log line      %v\n  RSS at ready          %.1f MiB\n",
		st.firstAnswer.Round(time.Millisecond), st.ready.Round(time.Millisecond), st.readyLog.Round(time.Millisecond), float64(st.rss)/(1<<20))

	cpu, err := idleCPU(ctx, srv.proc, c.idle)
	if err != nil {
		return err
	}
	rss, _ := srv.proc.RSS()
	fmt.Printf("\nidle, checking %d targets at 1 s: %.3f cores over %v; RSS %.1f MiB\n", big.backends+small.backends, cpu, c.idle, float64(rss)/(1<<20))

	transitions(srv, "before the reloads")
	if err := reloads(ctx, c, srv, big, bigFile, bigLns.Addrs); err != nil {
		return err
	}
	if cpu, err = idleCPU(ctx, srv.proc, c.idle); err != nil {
		return err
	}
	rss, _ = srv.proc.RSS()
	fmt.Printf("  idle after the reloads: %.3f cores over %v; RSS %.1f MiB\n", cpu, c.idle, float64(rss)/(1<<20))
	transitions(srv, "after the reloads")
	if err := compareQPS(ctx, c, srv, dir, big, small); err != nil {
		return err
	}
	transitions(srv, "at the end")
	if !srv.proc.Alive() {
		return fmt.Errorf("hadns exited during the run:\n%s", srv.proc.Out.String())
	}
	return nil
}

// writeFile replaces path atomically (a temporary file renamed over it), so
// a reload never reads half a file.
func writeFile(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// raiseNoFile lifts the soft open-files limit to the hard one: a listener
// per backend here, and as many sockets in flight in the checker.
func raiseNoFile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// transitions prints how many health transitions hadns has logged so far,
// by the state entered: every backend is up at start; more than that means
// backends flapped (probes timing out on a starved CPU, say), and each
// transition recomputes its service's answers.
func transitions(srv *server, when string) {
	counts := map[string]int{}
	for _, line := range strings.Split(srv.proc.Out.String(), "\n") {
		if !strings.Contains(line, "plugin/hadns: health: service ") {
			continue
		}
		for _, to := range []string{"up", "suspect", "down"} {
			if strings.Contains(line, " -> "+to+" ") {
				counts[to]++
			}
		}
	}
	fmt.Printf("  health transitions logged %s: to up %d, to suspect %d, to down %d\n", when, counts["up"], counts["suspect"], counts["down"])
}

// idleCPU is the server's CPU use over d, in cores.
func idleCPU(ctx context.Context, p *loadtest.Proc, d time.Duration) (float64, error) {
	c0, err := p.CPUTime()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	case <-time.After(d):
	}
	c1, err := p.CPUTime()
	if err != nil {
		return 0, err
	}
	return float64(c1-c0) / float64(time.Since(t0)), nil
}
