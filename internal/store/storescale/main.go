// Command storescale measures the store at scale against a real etcd: it
// fills the prefix with registrations and overrides, then reports the
// initial sync time, the watch apply rate and the memory the snapshot
// takes. It starts its own etcd (Debian's etcd-server) unless -etcd is
// given. Keep runs short on shared machines; the defaults take seconds.
//
//	go run ./internal/store/storescale -registrations 10000 -overrides 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hadns/hadns/internal/store"
	"github.com/hadns/hadns/internal/store/etcdtest"
)

func main() {
	regs := flag.Int("registrations", 10000, "registrations to write")
	services := flag.Int("services", 100, "services the registrations are spread over")
	overrides := flag.Int("overrides", 1000, "overrides to write")
	events := flag.Int("events", 2000, "single-key updates for the watch apply rate")
	writers := flag.Int("writers", 8, "concurrent writers for the updates")
	endpoint := flag.String("etcd", "", "etcd endpoint to use (default: start one)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "storescale-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if *endpoint == "" {
		srv, err := etcdtest.Start(dir)
		if err != nil {
			log.Fatal(err)
		}
		defer srv.Kill()
		*endpoint = srv.Endpoint
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()

	// Fill through a writer store's key functions, in transactions of
	// 128 operations (etcd's default limit).
	w, err := store.New(store.Config{Endpoints: []string{*endpoint}, Instance: "writer"}, store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	var ops []clientv3.Op
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			log.Fatal(err)
		}
		ops = ops[:0]
	}
	add := func(op clientv3.Op) {
		ops = append(ops, op)
		if len(ops) == 128 {
			flush()
		}
	}
	t0 := time.Now()
	for i := range *regs {
		svc := "svc" + strconv.Itoa(i%*services) + ".example.test."
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		add(clientv3.OpPut(w.RegistrationKey(svc, addr), `{"address":"`+addr+`","port":8080,"site":"site`+strconv.Itoa(i%4)+`"}`))
	}
	for i := range *overrides {
		add(clientv3.OpPut(w.OverrideKey("o"+strconv.Itoa(i)), `{"action":"drain","selector":{"backend":"10.0.`+strconv.Itoa(i>>8&255)+`.`+strconv.Itoa(i&255)+`"},"reason":"scale test","by":"storescale","created":"2026-12-01T00:00:00Z"}`))
	}
	flush()
	total := *regs + *overrides
	fmt.Printf("fill: %d keys in %s\n", total, time.Since(t0).Round(time.Millisecond))

	runtime.GC()
	heap0, rss0 := memNow()
	var last atomic.Pointer[store.Snapshot]
	got := make(chan struct{}, 1)
	r, err := store.New(store.Config{Endpoints: []string{*endpoint}, Instance: "reader", CacheFile: filepath.Join(dir, "cache.json")},
		store.Options{OnSnapshot: func(s *store.Snapshot) {
			last.Store(s)
			select {
			case got <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	t0 = time.Now()
	if err := r.Start(); err != nil {
		log.Fatal(err)
	}
	wait := func(what string, cond func(*store.Snapshot) bool) {
		deadline := time.After(2 * time.Minute)
		for {
			if s := last.Load(); s != nil && cond(s) {
				return
			}
			select {
			case <-got:
			case <-deadline:
				log.Fatalf("%s: not within 2 minutes", what)
			}
		}
	}
	wait("initial sync", func(s *store.Snapshot) bool { return count(s) == total })
	sync0 := time.Since(t0)
	snap := last.Load()
	runtime.GC()
	heap1, rss1 := memNow()
	fmt.Printf("initial sync: %d keys in %s (list + decode + first snapshot)\n", total, sync0.Round(time.Millisecond))
	fmt.Printf("snapshot memory: live heap +%.1f MiB, RSS +%.1f MiB (RSS now %.1f MiB)\n",
		float64(heap1-heap0)/(1<<20), float64(rss1-rss0)/(1<<20), float64(rss1)/(1<<20))

	// Watch apply rate: single-key writes from several writers, half
	// registrations changing site, half override reasons; measured from
	// the first write to the snapshot holding the last one.
	rev0 := snap.Revision
	var wg sync.WaitGroup
	var maxRev atomic.Int64
	t0 = time.Now()
	per := *events / *writers
	for g := range *writers {
		wg.Go(func() {
			for i := range per {
				n := g*per + i
				var key, val string
				if n%2 == 0 {
					k := n % *regs
					addr := fmt.Sprintf("10.%d.%d.%d", k>>16&255, k>>8&255, k&255)
					key = w.RegistrationKey("svc"+strconv.Itoa(k%*services)+".example.test.", addr)
					val = `{"address":"` + addr + `","port":8080,"site":"moved` + strconv.Itoa(n) + `"}`
				} else {
					key = w.OverrideKey("o" + strconv.Itoa(n%*overrides))
					val = `{"action":"drain","selector":{"site":"east"},"reason":"event ` + strconv.Itoa(n) + `"}`
				}
				resp, err := cli.Put(ctx, key, val)
				if err != nil {
					log.Fatal(err)
				}
				for {
					m := maxRev.Load()
					if resp.Header.Revision <= m || maxRev.CompareAndSwap(m, resp.Header.Revision) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	written := time.Since(t0)
	target := maxRev.Load()
	wait("watch apply", func(s *store.Snapshot) bool { return s.Revision >= target })
	applied := time.Since(t0)
	n := per * *writers
	fmt.Printf("watch: %d single-key writes (%d writers) done in %s; all applied in %s: %.0f events/s (revisions %d→%d)\n",
		n, *writers, written.Round(time.Millisecond), applied.Round(time.Millisecond), float64(n)/applied.Seconds(), rev0, target)

	// The same number of changes in transactions of 100: etcd's write rate
	// stops being the limit and the watcher's own apply rate shows.
	t0 = time.Now()
	for b := range (n + 99) / 100 {
		for i := range 100 {
			k := (b*100 + i) % *overrides
			add(clientv3.OpPut(w.OverrideKey("o"+strconv.Itoa(k)), `{"action":"down","selector":{"site":"west"},"reason":"batch `+strconv.Itoa(b)+`"}`))
		}
		flush()
	}
	g, err := cli.Get(ctx, "storescale-probe")
	if err != nil {
		log.Fatal(err)
	}
	target = g.Header.Revision
	wait("batched apply", func(s *store.Snapshot) bool { return s.Revision >= target })
	applied = time.Since(t0)
	fmt.Printf("watch, batched: %d changes in transactions of 100 applied in %s: %.0f events/s\n",
		(n+99)/100*100, applied.Round(time.Millisecond), float64((n+99)/100*100)/applied.Seconds())
	st := r.Status()
	fmt.Printf("status: connected=%v revision=%d relists=%d rejected=%d\n", st.Connected, st.Revision, st.Relists, st.Rejected)
	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
}

func count(s *store.Snapshot) int {
	n := len(s.Overrides)
	for _, m := range s.Registrations {
		n += len(m)
	}
	return n
}

// memNow returns the live heap and the process RSS in bytes.
func memNow() (heap, rss uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	data, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	return ms.HeapAlloc, rss
}
