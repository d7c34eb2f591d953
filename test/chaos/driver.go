package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// driver crashes backends and whole sites at random moments and starts them
// again after a random outage, from a seeded generator: the same seed gives
// the same sequence of events (their timing depends on the machine).
type driver struct {
	rng      *rand.Rand
	backends []*loadtest.Demo
	siteOf   []int
	sites    int
	t0       time.Time

	mu       sync.Mutex
	outages  []outage
	down     []bool // backend down (killed and not yet listening again)
	siteDown int    // site taken down whole, -1 for none
	singles  int    // single-backend outages under way
	events   []string
	err      error
}

// Limits that keep some backend healthy at all times, so no answer may fail
// open: at most one whole site and maxSingles single backends are down.
const maxSingles = 3

// run schedules events until ctx ends, maxEvents kills were made, or the
// last moment a kill may start (so that its restart and the recovery after
// it fall inside the run). It returns once every backend is up again.
func (d *driver) run(ctx context.Context, last time.Time, maxEvents int, gap, hold [2]time.Duration) error {
	var wg sync.WaitGroup
	for n := 0; n < maxEvents; {
		wait := between(d.rng, gap)
		if time.Now().Add(wait).After(last) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		if ctx.Err() != nil {
			break
		}
		victims, site := d.choose()
		if len(victims) == 0 {
			continue
		}
		n++
		h := between(d.rng, hold)
		if site >= 0 {
			h += hold[0] // whole sites stay down longer
		}
		starts := d.kill(victims, site)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-ctx.Done():
			case <-time.After(h):
			}
			d.restart(victims, starts, site)
		}()
	}
	wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// choose picks the next victims: a whole site one time in four (when none
// is down), else one backend that is up (when fewer than maxSingles are
// down). site is the site taken down whole, or -1.
func (d *driver) choose() ([]int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.siteDown < 0 && d.rng.IntN(4) == 0 {
		s := d.rng.IntN(d.sites)
		var vs []int
		for i, bs := range d.siteOf {
			if bs == s && !d.down[i] {
				vs = append(vs, i)
			}
		}
		if len(vs) > 0 {
			d.siteDown = s
			return vs, s
		}
	}
	if d.singles >= maxSingles {
		return nil, -1
	}
	var up []int
	for i := range d.backends {
		if !d.down[i] && d.siteOf[i] != d.siteDown {
			up = append(up, i)
		}
	}
	if len(up) == 0 {
		return nil, -1
	}
	d.singles++
	return []int{up[d.rng.IntN(len(up))]}, -1
}

// kill crashes the victims and returns when each outage began: the moment
// its SIGKILL was sent (the process is gone a moment later).
func (d *driver) kill(victims []int, site int) []time.Duration {
	starts := make([]time.Duration, len(victims))
	d.mu.Lock()
	for _, v := range victims {
		d.down[v] = true
	}
	d.mu.Unlock()
	for i, v := range victims {
		starts[i] = time.Since(d.t0)
		d.backends[v].Kill()
	}
	d.log(starts[0], "kill %s", d.what(victims, site))
	return starts
}

// restart starts the victims again; each outage ends when its backend
// listens again.
func (d *driver) restart(victims []int, starts []time.Duration, site int) {
	ctx := context.Background() // a restart must finish, or the run fails
	var wg sync.WaitGroup
	ends := make([]time.Duration, len(victims))
	errs := make([]error, len(victims))
	for i, v := range victims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.backends[v].Start(ctx)
			ends[i] = time.Since(d.t0)
		}()
	}
	wg.Wait()
	d.mu.Lock()
	for i, v := range victims {
		if errs[i] != nil && d.err == nil {
			d.err = fmt.Errorf("restart %s: %w", d.backends[v].Addr, errs[i])
		}
		d.outages = append(d.outages, outage{backend: v, start: starts[i], end: ends[i]})
		d.down[v] = errs[i] != nil
	}
	if site >= 0 {
		d.siteDown = -1
	} else {
		d.singles--
	}
	d.mu.Unlock()
	d.log(ends[0], "up   %s (down %s)", d.what(victims, site), ms(ends[0]-starts[0]))
}

func (d *driver) what(victims []int, site int) string {
	if site >= 0 {
		return fmt.Sprintf("site %s", siteNames[site])
	}
	return "backend " + d.backends[victims[0]].Addr
}

func (d *driver) log(at time.Duration, format string, args ...any) {
	line := fmt.Sprintf("%8.3fs  ", at.Seconds()) + fmt.Sprintf(format, args...)
	d.mu.Lock()
	d.events = append(d.events, line)
	d.mu.Unlock()
	fmt.Println(line)
}

func between(rng *rand.Rand, r [2]time.Duration) time.Duration {
	return r[0] + time.Duration(rng.Int64N(int64(r[1]-r[0])+1))
}
