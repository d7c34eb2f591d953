// Command storescale compares one big zone served from files with the same
// zone served from the shared store (etcd), in one run on one machine: by
// default 10,000 backends in 100 services, every backend a real loopback
// listener checked by tcp connect every 5 s, and 1,000 overrides. Three
// instances run one after the other:
//
//   - files: the zone in a zone file, the overrides in the local state file;
//   - store zone: the zone document and the overrides in etcd;
//   - store registrations: in etcd a zone document with each service's
//     first backend, the other 9,900 backends as registrations, and the
//     overrides.
//
// For each it prints the start-up (process start to the zone answered with
// the overrides applied, and to CoreDNS's ready endpoint: every check has a
// first result), the resident memory then, and the time a zone change takes
// to be served (a rewritten file, polled every 100 ms; a document put in
// etcd). For the store it also prints the watch apply rate: -edits single-key
// writes from -writers concurrent writers, then as many in transactions of
// 100, each run ending with one change visible in the answers, timed from
// the first write to that answer. etcd is started here (Debian's
// etcd-server) unless -etcd is given. Loopback only; every wait is bounded.
//
//	go run ./test/storescale
//	go run ./test/storescale -backends 2000 -services 20 -overrides 200   # quicker
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hadns/hadns/internal/store"
	"github.com/hadns/hadns/internal/store/etcdtest"
	"github.com/hadns/hadns/test/internal/loadtest"
)

type config struct {
	bin                       string
	backends, services        int
	overrides, edits, writers int
	endpoint                  string
	limit                     time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "hadns binary (default: build ./cmd/hadns)")
	flag.IntVar(&c.backends, "backends", 10000, "backends of the zone, each its own listener")
	flag.IntVar(&c.services, "services", 100, "services the backends are spread over")
	flag.IntVar(&c.overrides, "overrides", 1000, "overrides (drains of the first backends)")
	flag.IntVar(&c.edits, "edits", 1000, "changes per watch apply run")
	flag.IntVar(&c.writers, "writers", 8, "concurrent writers of the single-key changes")
	flag.StringVar(&c.endpoint, "etcd", "", "etcd endpoint to use (default: start one)")
	flag.DurationVar(&c.limit, "timeout", 10*time.Minute, "bound on the whole run")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), c.limit)
	defer cancel()
	if err := run(ctx, c); err != nil {
		log.Fatal(err)
	}
}

// result is one mode's figures.
type result struct {
	name       string
	start      startup
	zoneChange time.Duration
	single     time.Duration // -edits single-key writes, applied
	singleLag  time.Duration // the last of them written → applied
	batched    time.Duration // -edits in transactions of 100, applied
	batchedLag time.Duration
}

func run(ctx context.Context, c config) error {
	if c.backends%c.services != 0 || c.overrides > c.backends {
		return fmt.Errorf("-backends must be a multiple of -services, and -overrides at most -backends")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	tmp, err := os.MkdirTemp("", "storescale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if c.bin != "" {
		// The instances run in directories of their own.
		if c.bin, err = filepath.Abs(c.bin); err != nil {
			return err
		}
	} else {
		c.bin = filepath.Join(tmp, "hadns")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "github.com/hadns/hadns/cmd/hadns").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	// The probe service's two backends are on hosts of their own: its
	// answers list addresses.
	lns, err := loadtest.Listen(append(listenAddrs(c.backends, 100), "127.31.0.1:0", "127.31.0.2:0"))
	if err != nil {
		return fmt.Errorf("listeners: %w", err)
	}
	defer lns.Close()
	w := &world{addrs: lns.Addrs[:c.backends], services: c.services, overrides: c.overrides, probe: lns.Addrs[c.backends:]}
	probeBoth := hosts(w.probe)

	if c.endpoint == "" {
		// etcd fsyncs every write: on tmpfs its disk does not set the pace.
		edir := filepath.Join(tmp, "etcd")
		if d, err := os.MkdirTemp("/dev/shm", "storescale-etcd-"); err == nil {
			edir = d
			defer os.RemoveAll(d)
		}
		srv, err := etcdtest.Start(edir)
		if err != nil {
			return err
		}
		defer srv.Kill()
		c.endpoint = srv.Endpoint
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	fmt.Printf("storescale: %d backends in %d services, %d overrides; %d CPUs, %s\n", c.backends, c.services, c.overrides, runtime.NumCPU(), runtime.Version())

	var results []result

	// Files.
	dir := filepath.Join(tmp, "files")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	state, err := w.stateJSON()
	if err != nil {
		return err
	}
	zone := filepath.Join(dir, "scale.yaml")
	if err := os.WriteFile(zone, []byte(w.zoneYAML(1, w.per())), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(state), 0o644); err != nil {
		return err
	}
	in, st, err := start(ctx, c.bin, dir, "        zone scale.yaml\n", w, probeBoth)
	if err != nil {
		return err
	}
	r := result{name: "files", start: st}
	t0 := time.Now()
	if err := os.WriteFile(zone+".tmp", []byte(w.zoneYAML(2, w.per())), 0o644); err != nil {
		return err
	}
	if err := os.Rename(zone+".tmp", zone); err != nil {
		return err
	}
	if r.zoneChange, err = waitFor(ctx, "file zone change", t0, time.Minute, func() bool { return in.serial() == 2 }); err != nil {
		return err
	}
	in.proc.Stop()
	results = append(results, r)

	for _, regs := range []bool{false, true} {
		r, err := storeMode(ctx, c, cli, w, regs, filepath.Join(tmp, "store-"+strconv.FormatBool(regs)))
		if err != nil {
			return err
		}
		results = append(results, r)
	}

	fmt.Printf("\nstart-up: process start → the zone answered with its overrides / ready (every check has a first result); RSS when ready\n")
	fmt.Printf("zone change: a rewritten file (polled every 100 ms) or a document put in etcd → the new serial served\n")
	fmt.Printf("changes: %d single-key writes (%d writers), then %d in transactions of 100, each run ended by one change the answers show:\n", c.edits, c.writers, c.edits)
	fmt.Printf("  first write → that answer (changes/s), and last write → that answer (the watch's lag behind etcd)\n\n")
	fmt.Printf("%-20s %10s %10s %8s %12s %28s %28s\n", "", "answered", "ready", "RSS MiB", "zone change", "single writes: all / lag", "batched: all / lag")
	for _, r := range results {
		rate := func(d, lag time.Duration) string {
			if d == 0 {
				return "-"
			}
			return fmt.Sprintf("%v (%.0f/s) / %v", d.Round(time.Millisecond), float64(c.edits+1)/d.Seconds(), lag.Round(time.Millisecond))
		}
		fmt.Printf("%-20s %10v %10v %8.1f %12v %28s %28s\n", r.name, r.start.answer.Round(time.Millisecond), r.start.ready.Round(time.Millisecond),
			float64(r.start.rss)/(1<<20), r.zoneChange.Round(time.Millisecond), rate(r.single, r.singleLag), rate(r.batched, r.batchedLag))
	}
	return nil
}

// storeMode fills a fresh prefix, starts an instance on it and measures.
func storeMode(ctx context.Context, c config, cli *clientv3.Client, w *world, regs bool, dir string) (result, error) {
	name, prefix := "store zone", "/storescale-zone/v1/"
	if regs {
		name, prefix = "store registrations", "/storescale-regs/v1/"
	}
	r := result{name: name}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	keys, err := store.New(store.Config{Endpoints: []string{c.endpoint}, Prefix: prefix, Instance: "filler"}, store.Options{})
	if err != nil {
		return r, err
	}
	defer keys.Close()
	f := &filler{cli: cli, w: keys}
	t0 := time.Now()
	if err := w.fillStore(ctx, f, regs); err != nil {
		return r, fmt.Errorf("%s: fill: %w", name, err)
	}
	fmt.Printf("%s: etcd filled in %v\n", name, time.Since(t0).Round(time.Millisecond))
	source := fmt.Sprintf("        store etcd %s {\n            instance scale\n            prefix %s\n        }\n", c.endpoint, prefix)
	in, st, err := start(ctx, c.bin, dir, source, w, hosts(w.probe))
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	defer in.proc.Stop()
	r.start = st
	staticPer := w.per()
	if regs {
		staticPer = 1
	}
	t0 = time.Now()
	if _, err := cli.Put(ctx, keys.ZoneKey(origin), w.zoneYAML(2, staticPer)); err != nil {
		return r, err
	}
	if r.zoneChange, err = waitFor(ctx, name+" zone change", t0, time.Minute, func() bool { return in.serial() == 2 }); err != nil {
		return r, err
	}

	// The changes: overrides' reasons (every override change recomputes
	// every service's answers), or with registrations the registrations'
	// weights (every change rebuilds the zone); then one drain of the
	// probe's first backend (single run) or its clear (batched run),
	// which the answers show.
	change := func(n int) clientv3.Op {
		if regs {
			j := 1 + n%(len(w.addrs)-1)
			if j%w.per() == 0 {
				j++
			}
			svc := svcName(j/w.per()) + "." + origin
			return clientv3.OpPut(keys.RegistrationKey(svc, w.addrs[j]), registrationValue(w.addrs[j], siteOf(j), uint16(2+n%5)))
		}
		a := w.overridden(n % w.overrides)
		return clientv3.OpPut(keys.OverrideKey(overrideID(a)), overrideValue(a, "edit "+strconv.Itoa(n)))
	}
	marker := keys.OverrideKey(overrideID(w.probe[0]))

	t0 = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, c.writers)
	per := c.edits / c.writers
	for g := range c.writers {
		wg.Go(func() {
			for i := range per {
				if _, err := cli.Do(ctx, change(g*per+i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return r, err
	}
	if _, err := cli.Put(ctx, marker, overrideValue(w.probe[0], "marker")); err != nil {
		return r, err
	}
	written := time.Now()
	if r.single, err = waitFor(ctx, name+" single writes", t0, 5*time.Minute, func() bool { return in.probeIs(hosts(w.probe[1:])) }); err != nil {
		return r, err
	}
	r.singleLag = r.single - written.Sub(t0)

	t0 = time.Now()
	for b := 0; b < c.edits; b += 100 {
		var ops []clientv3.Op
		for n := b; n < min(b+100, c.edits); n++ {
			ops = append(ops, change(c.edits+n))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return r, err
		}
	}
	if _, err := cli.Delete(ctx, marker); err != nil {
		return r, err
	}
	written = time.Now()
	if r.batched, err = waitFor(ctx, name+" batched writes", t0, 5*time.Minute, func() bool { return in.probeIs(hosts(w.probe)) }); err != nil {
		return r, err
	}
	r.batchedLag = r.batched - written.Sub(t0)
	if rss, err := in.proc.RSS(); err == nil {
		fmt.Printf("%s: RSS after the changes %.1f MiB\n", name, float64(rss)/(1<<20))
	}
	return r, nil
}

// listenAddrs are n backend addresses on 127.30.x.y, perAddr ports each
// from 20000 up: below Linux's ephemeral range, so the listeners do not
// take the ports the checker connects from.
func listenAddrs(n, perAddr int) []string {
	out := make([]string, n)
	for i := range out {
		a := i / perAddr
		out[i] = fmt.Sprintf("127.%d.%d.%d:%d", 30+a/(250*256), a/250%256, a%250+1, 20000+i%perAddr)
	}
	return out
}

// hosts are the addresses of host:port strings, sorted as probeIs wants.
func hosts(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		h, _, _ := net.SplitHostPort(a)
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}
