package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// refuseBad is a stand-in for the plugin's zone check: a document
// containing "bad" is refused, with a line number as the real one gives.
func refuseBad(origin string, doc []byte) error {
	if strings.Contains(string(doc), "bad") {
		return fmt.Errorf("zone.yaml:1: %s is bad", origin)
	}
	return nil
}

func TestWatchSeesZonePut(t *testing.T) {
	srv := startEtcd(t)
	var mu sync.Mutex
	var calls []*Snapshot
	r := newStore(t, testConfig(srv.Endpoint), Options{Validate: refuseBad, OnSnapshot: func(s *Snapshot) {
		mu.Lock()
		calls = append(calls, s)
		mu.Unlock()
	}})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first snapshot", 5*time.Second, func() bool { return r.Status().Connected && r.Snapshot().Revision > 0 })
	w := newStore(t, testConfig(srv.Endpoint), Options{Validate: refuseBad})

	ctx := context.Background()
	start := time.Now()
	rev, err := w.PutZone(ctx, "Example.TEST", []byte("origin: example.test.\n"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "zone in snapshot", 2*time.Second, func() bool {
		_, ok := r.Snapshot().Zones["example.test."]
		return ok
	})
	took := time.Since(start) // from before the write to the watcher's snapshot
	t.Logf("zone put → in the watcher's snapshot: %s", took)
	// Typically 10-30 ms; the bound leaves room for a loaded CI machine.
	if took > time.Second {
		t.Errorf("zone took %s to arrive; want milliseconds", took)
	}
	snap := r.Snapshot()
	if snap.Revision < rev || snap.Stale {
		t.Errorf("snapshot revision %d stale %v; want ≥ %d, fresh", snap.Revision, snap.Stale, rev)
	}
	mu.Lock()
	last := calls[len(calls)-1]
	mu.Unlock()
	if last != snap {
		t.Errorf("OnSnapshot did not get the current snapshot")
	}

	// A bad document is refused before it reaches etcd.
	if _, err := w.PutZone(ctx, "example.test.", []byte("bad")); !errors.Is(err, ErrInvalidZone) {
		t.Fatalf("PutZone(bad) = %v, want ErrInvalidZone", err)
	}
	doc, ok, err := w.GetZone(ctx, "example.test.")
	if err != nil || !ok || string(doc) != "origin: example.test.\n" {
		t.Fatalf("GetZone = %q %v %v; the good document must stay", doc, ok, err)
	}

	// A bad document written by other means is refused by the watcher and
	// the previous version keeps serving.
	cli := rawClient(t, srv.Endpoint)
	if _, err := cli.Put(ctx, r.ZoneKey("example.test."), "bad zone"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "refusal", 2*time.Second, func() bool { return len(r.Snapshot().Rejected) == 1 })
	if z := r.Snapshot().Zones["example.test."]; string(z.Doc) != "origin: example.test.\n" {
		t.Errorf("after a bad write the zone is %q; want the previous good one", z.Doc)
	}
	if !strings.Contains(r.Snapshot().Rejected[r.ZoneKey("example.test.")], "zone.yaml:1") {
		t.Errorf("rejection %q does not carry the validator's reason", r.Snapshot().Rejected)
	}
	// A good version clears the refusal.
	if _, err := w.PutZone(ctx, "example.test.", []byte("origin: example.test. # v2\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2", 2*time.Second, func() bool {
		s := r.Snapshot()
		return len(s.Rejected) == 0 && strings.Contains(string(s.Zones["example.test."].Doc), "v2")
	})
}

func TestEtcdKilledKeepsSnapshotAndCatchesUp(t *testing.T) {
	srv := startEtcd(t)
	cfg := testConfig(srv.Endpoint)
	r := newStore(t, cfg, Options{})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	w := newStore(t, cfg, Options{})
	ctx := context.Background()
	if _, err := w.PutZone(ctx, "a.test.", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.PutOverride(ctx, "o1", Override{Action: "drain", Selector: Selector{Backend: "10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "initial data", 2*time.Second, func() bool {
		s := r.Snapshot()
		return len(s.Zones) == 1 && len(s.Overrides) == 1
	})
	relists := r.Status().Relists
	before := r.Snapshot()

	srv.Kill()
	waitFor(t, "disconnected status", 5*time.Second, func() bool { return !r.Status().Connected })
	st := r.Status()
	if st.LastError == "" || st.Revision != before.Revision {
		t.Errorf("status while down = %+v; want an error and revision %d", st, before.Revision)
	}
	if r.Snapshot() != before {
		t.Errorf("the snapshot changed while etcd was down")
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Writes right after etcd returns, some before the watcher is back:
	// the resumed watch must deliver every one.
	retry(t, "write after restart", 10*time.Second, func(ctx context.Context) error {
		_, err := w.PutOverride(ctx, "o2", Override{Action: "down", Selector: Selector{Site: "east"}})
		return err
	})
	for i := range 20 {
		if _, err := w.PutOverride(ctx, "n"+strconv.Itoa(i), Override{Action: "up", Selector: Selector{Backend: "10.0.1." + strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.ClearOverride(ctx, "o1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "catch up", 10*time.Second, func() bool {
		s := r.Snapshot()
		_, o1 := s.Overrides["o1"]
		return len(s.Overrides) == 21 && !o1 && r.Status().Connected
	})
	if got := r.Status().Relists; got != relists {
		t.Errorf("relists = %d, want %d: a restart without compaction resumes the watch", got, relists)
	}
}

func TestCompactionWhileCutOffRelists(t *testing.T) {
	srv := startEtcd(t)
	p := newProxy(t, srv.Endpoint)
	r := newStore(t, testConfig(p.endpoint()), Options{})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cli := rawClient(t, srv.Endpoint)
	w := newStore(t, testConfig(srv.Endpoint), Options{})
	for i := range 5 {
		if err := w.Register(ctx, "web", "b"+strconv.Itoa(i), Registration{Address: "10.0.0." + strconv.Itoa(i), Site: "east"}, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "registrations", 2*time.Second, func() bool { return len(r.Snapshot().Registrations["web"]) == 5 })
	relists := r.Status().Relists

	p.setCut(true)
	waitFor(t, "disconnected", 5*time.Second, func() bool { return !r.Status().Connected })
	// While cut off: changes, then a compaction past them.
	if err := w.Deregister(ctx, "web", "b0"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.PutZone(ctx, "z.test.", []byte("z")); err != nil {
		t.Fatal(err)
	}
	resp, err := w.PutOverride(ctx, "x", Override{Action: "down", Selector: Selector{Glob: "*"}})
	if err != nil || resp == nil {
		t.Fatal(err)
	}
	g, err := cli.Get(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, g.Header.Revision); err != nil {
		t.Fatal(err)
	}
	p.setCut(false)

	waitFor(t, "relist after compaction", 10*time.Second, func() bool {
		s := r.Snapshot()
		_, b0 := s.Registrations["web"]["b0"]
		return r.Status().Relists > relists && !b0 && len(s.Registrations["web"]) == 4 && len(s.Zones) == 1 && len(s.Overrides) == 1
	})
	if !r.Status().Connected {
		t.Errorf("not connected after relist")
	}
}

func TestRestartWhileEtcdDownServesPersisted(t *testing.T) {
	srv := startEtcd(t)
	cfg := testConfig(srv.Endpoint)
	cfg.CacheFile = filepath.Join(t.TempDir(), "store.json")
	first := newStore(t, cfg, Options{Validate: refuseBad})
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := first.PutZone(ctx, "a.test.", []byte("zone a")); err != nil {
		t.Fatal(err)
	}
	if _, err := first.PutOverride(ctx, "d", Override{Action: "drain", Selector: Selector{Backend: "10.0.0.9"}, By: "ops"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "data", 2*time.Second, func() bool {
		s := first.Snapshot()
		return len(s.Zones) == 1 && len(s.Overrides) == 1
	})
	rev := first.Snapshot().Revision
	first.Close()
	srv.Kill()

	var got []*Snapshot
	var mu sync.Mutex
	second := newStore(t, cfg, Options{Validate: refuseBad, OnSnapshot: func(s *Snapshot) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}})
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "persisted copy", 5*time.Second, func() bool { return second.Snapshot().Stale })
	s := second.Snapshot()
	if string(s.Zones["a.test."].Doc) != "zone a" || s.Overrides["d"].By != "ops" || s.Revision != rev {
		t.Errorf("persisted snapshot = %+v; want zone a, override d, revision %d", s, rev)
	}
	if st := second.Status(); st.Connected || !st.Stale {
		t.Errorf("status = %+v; want disconnected and stale", st)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fresh snapshot", 10*time.Second, func() bool { return !second.Snapshot().Stale && second.Status().Connected })
	if len(second.Snapshot().Zones) != 1 {
		t.Errorf("fresh snapshot lost the zone")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 2 || !got[0].Stale || got[len(got)-1].Stale {
		t.Errorf("OnSnapshot calls: want the stale copy first, then a fresh one")
	}
}

func TestConcurrentOverrideEditsNoneLost(t *testing.T) {
	srv := startEtcd(t)
	a := newStore(t, testConfig(srv.Endpoint), Options{})
	b := newStore(t, testConfig(srv.Endpoint), Options{})
	const perWorker, workers = 125, 4 // × 2 clients = 1,000 edits
	incr := func(cur *Override) (*Override, error) {
		n := 0
		if cur != nil {
			n, _ = strconv.Atoi(cur.Reason)
		}
		next := Override{Action: "drain", Selector: Selector{Site: "west"}, Reason: strconv.Itoa(n + 1)}
		if cur != nil {
			next.Created = cur.Created
		}
		return &next, nil
	}
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for _, s := range []*Store{a, b} {
		for range workers {
			wg.Go(func() {
				for range perWorker {
					if _, err := s.EditOverride(ctx, "counter", incr); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("1,000 CAS edits from 2 clients × %d workers: %s", workers, time.Since(start))
	cli := rawClient(t, srv.Endpoint)
	resp, err := cli.Get(ctx, a.OverrideKey("counter"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatal(err)
	}
	var o Override
	if err := strictJSON(resp.Kvs[0].Value, &o); err != nil {
		t.Fatal(err)
	}
	if o.Reason != "1000" {
		t.Errorf("counter = %s after 1,000 edits; edits were lost", o.Reason)
	}
	if resp.Kvs[0].Version != 1000 {
		t.Errorf("key version = %d, want 1000 writes", resp.Kvs[0].Version)
	}
}

func TestRegistrationVanishesAfterTTL(t *testing.T) {
	srv := startEtcd(t)
	r := newStore(t, testConfig(srv.Endpoint), Options{})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	reg := newStore(t, testConfig(srv.Endpoint), Options{})
	ctx := context.Background()
	const ttl = time.Second
	if err := reg.Register(ctx, "api.example.test.", "10.0.0.7", Registration{Address: "10.0.0.7", Port: 8080, Site: "east"}, ttl); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(ctx, "api.example.test.", "10.0.0.8", Registration{Address: "10.0.0.8", Site: "west"}, ttl); err != nil {
		t.Fatal(err)
	}
	has := func(b string) bool { _, ok := r.Snapshot().Registrations["api.example.test."][b]; return ok }
	waitFor(t, "registered", 2*time.Second, func() bool { return has("10.0.0.7") && has("10.0.0.8") })

	// The keepalive holds it well past its TTL (three TTLs watched).
	end := time.Now().Add(3 * ttl)
	for time.Now().Before(end) {
		if !has("10.0.0.7") {
			t.Fatalf("registration vanished while its keepalive ran")
		}
		time.Sleep(10 * time.Millisecond) // sampling a window, not waiting for an event
	}

	// Deregister removes at once.
	if err := reg.Deregister(ctx, "api.example.test.", "10.0.0.8"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deregistered", time.Second, func() bool { return !has("10.0.0.8") })

	// The registrant dies without deregistering: its keepalive stops and
	// nothing deletes the key; etcd does, after the TTL.
	reg.mu.Lock()
	dead := reg.regs[reg.RegistrationKey("api.example.test.", "10.0.0.7")]
	reg.mu.Unlock()
	dead.stop()
	stopped := time.Now()
	took := waitFor(t, "vanished after TTL", ttl+3*time.Second, func() bool { return !has("10.0.0.7") })
	t.Logf("registration vanished %s after its keepalive stopped (ttl %s)", took, ttl)
	if time.Since(stopped) < ttl/2 {
		t.Errorf("vanished after %s, before its TTL could have run out", took)
	}
}

func TestExpiringOverrideVanishesWithNothingRunning(t *testing.T) {
	srv := startEtcd(t)
	w := newStore(t, testConfig(srv.Endpoint), Options{})
	ctx := context.Background()
	key := w.OverrideKey("maint")
	o, err := w.PutOverride(ctx, "maint", Override{Action: "down", Selector: Selector{Site: "east"}, Expires: time.Now().Add(1500 * time.Millisecond)})
	if err != nil || o == nil {
		t.Fatal(err)
	}
	// An override without expiry has no lease and stays.
	if _, err := w.PutOverride(ctx, "forever", Override{Action: "drain", Selector: Selector{Site: "east"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// No hadns store is running now: only etcd.
	cli := rawClient(t, srv.Endpoint)
	resp, err := cli.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("expiring override = %v %v; want it present, under a lease", resp, err)
	}
	took := waitFor(t, "expired override deleted by etcd", 5*time.Second, func() bool {
		r, err := cli.Get(ctx, key)
		return err == nil && len(r.Kvs) == 0
	})
	t.Logf("expiring override gone %s after the check", took)
	resp, err = cli.Get(ctx, w.OverrideKey("forever"))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease != 0 {
		t.Errorf("override without expiry: %v %v; want it kept, no lease", resp, err)
	}
}

func TestObservationsOnChangeUnderInstanceLease(t *testing.T) {
	srv := startEtcd(t)
	cfg := testConfig(srv.Endpoint)
	r := newStore(t, cfg, Options{})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	cfg.Instance = "ns2"
	inst := newStore(t, cfg, Options{})
	since := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	for range 5 { // the same state again and again: one write
		if err := inst.PublishObservation("10.0.0.1:80", Observation{State: "up", Since: since}); err != nil {
			t.Fatal(err)
		}
	}
	if err := inst.PublishServed("10.0.0.1", Served{Last: since, TTL: 30 * time.Second, For: since}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "observation", 2*time.Second, func() bool {
		s := r.Snapshot()
		return s.Observations["ns2"]["10.0.0.1:80"].State == "up" && len(s.Served["ns2"]) == 1
	})
	if got, _ := r.Snapshot().SetDrainSafeAt("10.0.0.1", "ns1", since); !got.Equal(since.Add(30 * time.Second)) {
		t.Errorf("SetDrainSafeAt = %s", got)
	}
	cli := rawClient(t, srv.Endpoint)
	okey := inst.ObservationKey("ns2", "10.0.0.1:80")
	resp, err := cli.Get(context.Background(), okey)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatal(err)
	}
	if resp.Kvs[0].Version != 1 || resp.Kvs[0].Lease == 0 {
		t.Errorf("observation version %d lease %x; want one write under a lease", resp.Kvs[0].Version, resp.Kvs[0].Lease)
	}
	if err := inst.PublishObservation("10.0.0.1:80", Observation{State: "down", Since: since.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "change", 2*time.Second, func() bool { return r.Snapshot().Observations["ns2"]["10.0.0.1:80"].State == "down" })

	// The instance dies (its keepalive stops, nothing revoked): its views
	// vanish after the instance TTL.
	inst.mu.Lock()
	il := inst.instance
	inst.instance = nil
	inst.mu.Unlock()
	il.stop(inst, false)
	waitFor(t, "views gone", cfg.InstanceTTL+3*time.Second, func() bool {
		s := r.Snapshot()
		return len(s.Observations) == 0 && len(s.Served) == 0
	})
}
