package store

import (
	"context"
	"testing"
	"time"
)

// A registration written with RegisterLease lives only while it is renewed:
// renewing rebinds it to a fresh lease, and once the renewals stop etcd
// deletes it after the TTL, although the writing store is still open.
func TestRegisterLeaseLivesWhileRenewed(t *testing.T) {
	srv := startEtcd(t)
	r := newStore(t, testConfig(srv.Endpoint), Options{})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	w := newStore(t, testConfig(srv.Endpoint), Options{})
	ctx := context.Background()
	const ttl = time.Second
	reg := Registration{Address: "10.0.0.9", Port: 80, Site: "east"}
	if err := w.RegisterLease(ctx, "api.example.test.", "10.0.0.9:80", reg, ttl); err != nil {
		t.Fatal(err)
	}
	has := func() bool { _, ok := r.Snapshot().Registrations["api.example.test."]["10.0.0.9:80"]; return ok }
	waitFor(t, "registered", 2*time.Second, has)

	// Renewed every half TTL for three TTLs: it never vanishes.
	end := time.Now().Add(3 * ttl)
	for time.Now().Before(end) {
		if err := w.RegisterLease(ctx, "api.example.test.", "10.0.0.9:80", reg, ttl); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if !has() {
				t.Fatal("registration vanished while renewed")
			}
			time.Sleep(ttl / 10) // sampling a window, not waiting for an event
		}
	}
	stopped := time.Now()
	took := waitFor(t, "vanished after the renewals stopped", ttl+4*time.Second, func() bool { return !has() })
	t.Logf("vanished %s after the last renewal (ttl %s)", took, ttl)
	if time.Since(stopped) < ttl/2 {
		t.Errorf("vanished after %s, before its TTL could have run out", took)
	}
	if err := w.RegisterLease(ctx, "api.example.test.", "10.0.0.9:80", reg, time.Millisecond); err == nil {
		t.Error("a TTL under a second was accepted")
	}
}
