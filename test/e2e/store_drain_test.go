package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var drainHosts = []string{"127.0.100.1", "127.0.100.2"}

func drainZone(port int) string {
	return fmt.Sprintf(`origin: store.test.
soa: {mname: ns1.store.test., rname: hostmaster.store.test., serial: 1}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    ttl: 4
    port: %d
    check: {kind: http, path: /healthz, interval: 300ms, timeout: 200ms, fast_interval: 100ms}
    backends:
      - {address: %s, site: east}
      - {address: %s, site: east}
`, port, drainHosts[0], drainHosts[1])
}

// TestStoreDrainSafeAtWaitsForEveryInstance: the set-wide drain_safe_at of
// a drained backend is given only once every live instance has reported
// on the drain. A live instance that has not (here a presence key with no
// served record, as an instance that just started has) keeps it pending;
// once it is gone, every instance shows the latest of the three
// instances' own times.
func TestStoreDrainSafeAtWaitsForEveryInstance(t *testing.T) {
	set := startStoreSet(t, 3, nil)
	port, _ := startDemoSet(t, drainHosts)
	set.push(t, 0, drainZone(port))
	for i, s := range set.ns {
		poll(t, fmt.Sprintf("ns%d answers both", i+1), stLimit, func() error {
			got, rc, err := stAsk(s)
			if err != nil || rc != dns.RcodeSuccess || !slices.Equal(got, drainHosts) {
				return fmt.Errorf("answer %v rcode %d, %v", got, rc, err)
			}
			return nil
		})
	}

	// A fourth instance, alive (its presence key under a kept lease) but
	// silent.
	ctx, cancel := context.WithTimeout(context.Background(), stLimit)
	defer cancel()
	lease, err := set.cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.cli.Put(ctx, "/hadns/v1/instances/ghost", `{"since":"2026-12-01T00:00:00Z"}`, clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}

	target := fmt.Sprintf("%s:%d", drainHosts[0], port)
	if code, out := stAPI(t, set.ns[0], "POST", "/v1/overrides", fmt.Sprintf(`{"action":"drain","backend":%q}`, target)); code != 200 {
		t.Fatalf("drain: %d %v", code, out)
	}
	// Every instance: drained here (its own drain_safe_at), the other two
	// real instances have reported, the ghost has not: no set-wide time.
	for i, s := range set.ns {
		poll(t, fmt.Sprintf("ns%d: set-wide time pending on the ghost", i+1), stLimit, func() error {
			b, err := backendStatus(t, s, drainHosts[0])
			if err != nil {
				return err
			}
			if b["drain_safe_at"] == nil || b["set_drain_safe_at"] != nil || fmt.Sprint(b["set_drain_pending"]) != "[ghost]" {
				return fmt.Errorf("status %v", b)
			}
			return nil
		})
	}
	out, _ := ctlRun(t, set.ns[1], "-token-file", set.ns[1].Dir+"/token", "status")
	if !strings.Contains(out, "pending: not yet reported by ghost") {
		t.Errorf("ctl status does not say the set-wide time is pending:\n%s", out)
	}

	// The ghost goes (its lease revoked, as a dead instance's expires):
	// every instance gives the set-wide time, the latest of the three
	// instances' own.
	if _, err := set.cli.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	var latest time.Time
	own := make([]time.Time, len(set.ns))
	for i, s := range set.ns {
		poll(t, fmt.Sprintf("ns%d's set-wide time", i+1), stLimit, func() error {
			b, err := backendStatus(t, s, drainHosts[0])
			if err != nil {
				return err
			}
			if b["set_drain_safe_at"] == nil || b["set_drain_pending"] != nil {
				return fmt.Errorf("status %v", b)
			}
			own[i], err = time.Parse(time.RFC3339Nano, b["drain_safe_at"].(string))
			return err
		})
		if own[i].After(latest) {
			latest = own[i]
		}
	}
	for i, s := range set.ns {
		poll(t, fmt.Sprintf("ns%d's set-wide time is the latest", i+1), stLimit, func() error {
			b, err := backendStatus(t, s, drainHosts[0])
			if err != nil {
				return err
			}
			at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(b["set_drain_safe_at"]))
			if err != nil {
				return err
			}
			// Served records have whole seconds: the set's time may be
			// up to a second past an instance's own exact one.
			if at.Before(latest.Truncate(time.Second)) || at.After(latest.Add(time.Second)) {
				return fmt.Errorf("set_drain_safe_at %s, own times %v", at, own)
			}
			return nil
		})
	}
}
