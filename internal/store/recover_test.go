package store

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// fakeClock has a settable Now; After still waits real time (scaled
// down by the test's Backoff), so only what reads Now is driven.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// deadEndpoint is a loopback address nothing listens on.
func deadEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestBackoffAndClockInjected(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	var attempts []int
	cfg := testConfig(deadEndpoint(t))
	cfg.DialTimeout = 100 * time.Millisecond
	s := newStore(t, cfg, Options{Clock: clock, Backoff: func(n int) time.Duration {
		mu.Lock()
		attempts = append(attempts, n)
		mu.Unlock()
		return time.Millisecond
	}})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three retries", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) >= 3
	})
	mu.Lock()
	for i, n := range attempts[:3] {
		if n != i {
			t.Errorf("retry %d asked backoff for attempt %d; want growing attempts", i, n)
		}
	}
	mu.Unlock()
	clock.add(time.Hour)
	st := s.Status()
	if st.Connected || st.Lag < time.Hour || st.LastError == "" {
		t.Errorf("status = %+v; want disconnected, lag ≥ 1h from the injected clock, an error", st)
	}
}

func TestSilentWatchCountsAsDisconnected(t *testing.T) {
	srv := startEtcd(t)
	clock := &fakeClock{now: time.Now()}
	s := newStore(t, testConfig(srv.Endpoint), Options{Clock: clock})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", 5*time.Second, func() bool { return s.Status().Connected })
	// Nothing heard for longer than the heartbeat and dial timeout allow:
	// the status must not claim a connection, whatever the watcher thinks.
	clock.add(time.Minute)
	if st := s.Status(); st.Connected || st.Lag < time.Minute {
		t.Errorf("status after a silent minute = %+v; want disconnected, lag ≥ 1m", st)
	}
}

func TestLostLeasesAreRenewed(t *testing.T) {
	srv := startEtcd(t)
	cfg := testConfig(srv.Endpoint)
	r := newStore(t, cfg, Options{})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	cfg.Instance = "ns2"
	w := newStore(t, cfg, Options{})
	ctx := context.Background()
	if err := w.Register(ctx, "web", "b1", Registration{Address: "10.0.0.1", Site: "east"}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := w.PublishObservation("b1", Observation{State: "up", Since: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	present := func() bool {
		s := r.Snapshot()
		_, reg := s.Registrations["web"]["b1"]
		_, obs := s.Observations["ns2"]["b1"]
		return reg && obs
	}
	waitFor(t, "written", 2*time.Second, present)

	// Someone revokes both leases (as etcd does when a lease runs out
	// while its holder cannot reach it): the keys go, and come back under
	// new leases without anyone calling Register or Publish again.
	cli := rawClient(t, srv.Endpoint)
	for _, key := range []string{w.RegistrationKey("web", "b1"), w.ObservationKey("ns2", "b1")} {
		resp, err := cli.Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatal(err)
		}
		if _, err := cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "keys gone with their leases", 2*time.Second, func() bool {
		s := r.Snapshot()
		return len(s.Registrations) == 0 && len(s.Observations) == 0
	})
	waitFor(t, "keys back under new leases", 5*time.Second, present)
}

func TestAuthUsernamePassword(t *testing.T) {
	srv := startEtcd(t)
	cli := rawClient(t, srv.Endpoint)
	ctx := context.Background()
	if _, err := cli.UserAdd(ctx, "root", "rootpw"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv.Endpoint)
	anon := newStore(t, cfg, Options{})
	if _, err := anon.PutZone(ctx, "a.test.", []byte("a")); err == nil {
		t.Errorf("write without credentials succeeded with auth enabled")
	}
	cfg.Username, cfg.Password = "root", "rootpw"
	// New authenticates within DialTimeout, and etcd checks a password with
	// bcrypt: on a busy machine that takes longer than the tests' 500 ms.
	cfg.DialTimeout = 10 * time.Second
	s := newStore(t, cfg, Options{})
	if _, err := s.PutZone(ctx, "a.test.", []byte("a")); err != nil {
		t.Fatalf("write with credentials: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "authenticated watch", 5*time.Second, func() bool { return len(s.Snapshot().Zones) == 1 })
}

func TestQuietWatchStaysConnected(t *testing.T) {
	srv := startEtcd(t)
	cfg := testConfig(srv.Endpoint)
	s := newStore(t, cfg, Options{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", 5*time.Second, func() bool { return s.Status().Connected })
	// No writes at all for three times the silence the status tolerates:
	// the heartbeat's progress notifications keep the watch known alive.
	end := time.Now().Add(3 * (cfg.Heartbeat + cfg.DialTimeout))
	for time.Now().Before(end) {
		if st := s.Status(); !st.Connected {
			t.Fatalf("a quiet, healthy watch reported %+v", st)
		}
		time.Sleep(10 * time.Millisecond) // sampling a window, not waiting for an event
	}
}
