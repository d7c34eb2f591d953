package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hadns/hadns/healthcheck"
)

// scenario is one row of the table: a probe kind at its defaults, and a way
// for its backend to fail (or, for a blip, to look failed for a moment).
type scenario struct {
	kind   string        // probe kind
	mode   string        // backend mode
	silent bool          // drop packets instead of killing the process
	blip   time.Duration // drop packets for this long, then let them through: must not go down
	target time.Duration // the p99 the issue asks for
	port   int

	key       string
	bound     time.Duration
	events    chan healthcheck.Event
	latencies []time.Duration
	downs     int // blip: down transitions seen
	suspects  int // blip: suspect transitions seen (a dropped connection, confirmed by a reconnect)
	err       error
}

func (s *scenario) name() string {
	if s.blip > 0 {
		return s.kind + "/blip"
	}
	if s.silent {
		return s.kind + "/silent"
	}
	return s.kind + "/kill"
}

func (s *scenario) failure() string {
	switch {
	case s.blip > 0:
		return "packets dropped for " + s.blip.String()
	case s.silent:
		return "packets dropped (iptables)"
	case s.kind == "watch":
		return "SIGKILL: connection closed"
	}
	return "SIGKILL: connect refused"
}

func run(kills int, limit time.Duration, only string) (bool, error) {
	all := []*scenario{
		{kind: "tcp", mode: "tcp", target: 1500 * time.Millisecond},
		{kind: "http", mode: "http", target: 1500 * time.Millisecond},
		{kind: "watch", mode: "tcp", target: 50 * time.Millisecond},
		{kind: "tcp", mode: "tcp", silent: true, target: 3 * time.Second},
		{kind: "http", mode: "http", silent: true, target: 3 * time.Second},
		{kind: "watch", mode: "tcp", silent: true, target: 3 * time.Second},
		// Shorter than a keepalive interval: at most one keepalive probe is
		// lost, which must not take the backend down.
		{kind: "watch", mode: "tcp", blip: 900 * time.Millisecond},
	}
	var cases []*scenario
	for _, s := range all {
		if only == "" || slices.Contains(strings.Split(only, ","), s.name()) {
			cases = append(cases, s)
		}
	}
	fw, fwErr := newFirewall()
	if fwErr != nil {
		fmt.Fprintln(os.Stderr, "detection: skipping the silent-host cases:", fwErr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := healthcheck.New(healthcheck.Options{})
	sub := c.Subscribe()
	defer sub.Close()
	var targets []healthcheck.Target
	byKey := map[string]*scenario{}
	for i, s := range cases {
		s.port = 31001 + i
		spec := healthcheck.Spec{Kind: s.kind}.WithDefaults()
		if err := spec.Validate(); err != nil {
			return false, err
		}
		t := healthcheck.Target{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(s.port)), Spec: &spec}
		s.key, s.bound, s.events = t.Key(), spec.DetectionBound(), make(chan healthcheck.Event, 256)
		byKey[s.key] = s
		targets = append(targets, t)
	}
	// Route transitions to their scenario.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.C():
				for _, e := range sub.Events() {
					if s := byKey[e.Key]; s != nil {
						s.events <- e
					}
				}
			}
		}
	}()

	fmt.Printf("detection: %d failures per case, default check settings, private network namespace\n", kills)
	var wg sync.WaitGroup
	for _, s := range cases {
		if (s.silent || s.blip > 0) && fw == nil {
			s.err = fwErr
			continue
		}
		// Backends first, so the first probe finds them.
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.err = s.measure(ctx, c, fw, kills, limit)
			if s.err != nil {
				fmt.Fprintf(os.Stderr, "detection: %s: %v\n", s.name(), s.err)
			}
		}()
	}
	c.Set(targets)
	c.Start(ctx)
	wg.Wait()
	c.Stop()
	return report(cases), nil
}

// measure fails the backend kills times and records the time to Down.
func (s *scenario) measure(ctx context.Context, c *healthcheck.Checker, fw *firewall, kills int, limit time.Duration) error {
	b, err := startBackend(s.mode, s.port, limit)
	if err != nil {
		return err
	}
	defer func() { _ = b.kill(); b.reap() }()
	for range kills {
		if err := s.waitUp(ctx, c); err != nil {
			return err
		}
		// A random phase against the probe schedule.
		if !sleep(ctx, time.Duration(rand.Int64N(int64(time.Second)))) {
			return ctx.Err()
		}
		s.drain()
		if s.blip > 0 {
			if err := s.measureBlip(ctx, fw); err != nil {
				return err
			}
			continue
		}
		t0 := time.Now()
		if s.silent {
			err = fw.silence(s.port)
		} else {
			err = b.kill()
		}
		if err != nil {
			return err
		}
		ev, err := s.waitDown(ctx)
		if err != nil {
			return err
		}
		s.latencies = append(s.latencies, ev.Time.Sub(t0))
		if s.silent {
			if err := fw.unsilence(s.port); err != nil {
				return err
			}
		} else {
			b.reap()
			if b, err = startBackend(s.mode, s.port, limit); err != nil {
				return err
			}
		}
	}
	return nil
}

// measureBlip drops the backend's packets for s.blip, lets them through
// again, and counts the transitions of the next few seconds: a lost
// keepalive may make the target Suspect, never Down.
func (s *scenario) measureBlip(ctx context.Context, fw *firewall) error {
	if err := fw.silence(s.port); err != nil {
		return err
	}
	ok := sleep(ctx, s.blip)
	if err := fw.unsilence(s.port); err != nil {
		return err
	}
	if !ok {
		return ctx.Err()
	}
	// The kernel drops the connection up to a keepalive interval after the
	// lost probe; the confirming reconnect follows at once.
	watch := time.NewTimer(3 * time.Second)
	defer watch.Stop()
	for {
		select {
		case e := <-s.events:
			switch e.New {
			case healthcheck.Down:
				s.downs++
			case healthcheck.Suspect:
				s.suspects++
			}
		case <-watch.C:
			s.latencies = append(s.latencies, 0) // one blip done
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *scenario) drain() {
	for {
		select {
		case <-s.events:
		default:
			return
		}
	}
}

func (s *scenario) waitUp(ctx context.Context, c *healthcheck.Checker) error {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for c.State(s.key) != healthcheck.Up {
		select {
		case <-s.events:
		case <-time.After(10 * time.Millisecond): // the state may have changed before we looked
		case <-deadline.C:
			return fmt.Errorf("not up within 30s (state %v)", c.State(s.key))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *scenario) waitDown(ctx context.Context) (healthcheck.Event, error) {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case e := <-s.events:
			if e.New == healthcheck.Down {
				return e, nil
			}
		case <-deadline.C:
			return healthcheck.Event{}, fmt.Errorf("not down within 30s of the failure")
		case <-ctx.Done():
			return healthcheck.Event{}, ctx.Err()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// quantile is the nearest-rank quantile of sorted samples.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func report(cases []*scenario) bool {
	fmt.Printf("\n%-13s %-27s %5s %10s %10s %10s %12s %12s  %s\n", "case", "failure", "n", "p50", "p99", "max", "target p99", "bound", "verdict")
	ok := true
	for _, s := range cases {
		lat := slices.Clone(s.latencies)
		slices.Sort(lat)
		bound := s.bound.String()
		if s.kind == "watch" && !s.silent {
			bound = "at once"
		}
		verdict := "PASS"
		switch {
		case s.err != nil && len(lat) == 0:
			verdict = "SKIPPED: " + s.err.Error()
		case s.err != nil:
			verdict = "INCOMPLETE: " + s.err.Error()
			ok = false
		case quantile(lat, 0.99) > s.target:
			verdict = "FAIL"
			ok = false
		}
		if s.blip > 0 {
			if s.err == nil && s.downs > 0 {
				verdict, ok = "FAIL", false
			}
			fmt.Printf("%-13s %-27s %5d %10s %10s %10s %12s %12s  %s  (%d downs; %d drops confirmed by a reconnect)\n", s.name(), s.failure(), len(lat),
				"-", "-", "-", "0 downs", "-", verdict, s.downs, s.suspects)
			continue
		}
		r := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
		fmt.Printf("%-13s %-27s %5d %10s %10s %10s %12s %12s  %s\n", s.name(), s.failure(), len(lat),
			r(quantile(lat, 0.5)), r(quantile(lat, 0.99)), r(quantile(lat, 1)), s.target, bound, verdict)
	}
	return ok
}
