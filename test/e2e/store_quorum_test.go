package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// The quorum test's world: two east backends, the first of which refuses
// the checks of ns1 (they come from its probe_source address); ns2 probes
// from another address and ns3 from the kernel's choice (127.0.0.1), so
// the three instances' checks of one backend differ in their source only.
const (
	qCut  = "127.0.98.1" // refuses checks from qSrc1
	qOK   = "127.0.98.2"
	qSrc1 = "127.0.97.1"
	qSrc2 = "127.0.97.2"
)

func quorumZone(port, serial int, health string) string {
	return fmt.Sprintf(`origin: store.test.
soa: {mname: ns1.store.test., rname: hostmaster.store.test., serial: %d}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    ttl: 4
    port: %d
    health: %s
    check: {kind: http, path: /healthz, interval: 300ms, timeout: 200ms, fast_interval: 100ms}
    backends:
      - {address: %s, site: east}
      - {address: %s, site: east}
`, serial, port, health, qCut, qOK)
}

// TestStoreQuorum cuts one instance's checker off a healthy backend: with
// `health: quorum 2` the backend stays in every instance's answers (the
// cut-off instance's own view alone does not count), with `local` only the
// cut-off instance drops it.
func TestStoreQuorum(t *testing.T) {
	set := startStoreSet(t, 3, func(i int) string {
		switch i {
		case 0:
			return "        probe_source " + qSrc1 + "\n"
		case 1:
			return "        probe_source " + qSrc2 + "\n"
		}
		return ""
	})
	ns := set.ns
	port, _ := startDemoSet(t, []string{qOK})
	cut := &loadtest.Demo{Bin: hadnsBin, Host: qCut, Addr: fmt.Sprintf("%s:%d", qCut, port), Flags: []string{"-refuse-from", qSrc1}, StartTimeout: startTimeout}
	if err := cut.Start(context.Background()); err != nil {
		t.Fatalf("demo backend %s: %v", qCut, err)
	}
	t.Cleanup(cut.Kill)

	answers := func(s *server, want []string) error {
		got, rc, err := stAsk(s)
		if err != nil {
			return err
		}
		if rc != dns.RcodeSuccess || !slices.Equal(got, want) {
			return fmt.Errorf("answer %v rcode %s, want %v", got, dns.RcodeToString[rc], want)
		}
		return nil
	}
	both := []string{qCut, qOK}
	checker := func(i int, want string) {
		t.Helper()
		poll(t, fmt.Sprintf("ns%d's own checker sees %s %s", i+1, qCut, want), stLimit, func() error {
			b, err := backendStatus(t, ns[i], qCut)
			if err != nil {
				return err
			}
			if b["checker"] != want {
				return fmt.Errorf("checker %v (%v)", b["checker"], b["last_error"])
			}
			return nil
		})
	}
	// views waits until every instance has published its view of qCut,
	// and checks that they met under one key whatever their source.
	views := func() {
		t.Helper()
		poll(t, "every instance's view of "+qCut+" in etcd", stLimit, func() error {
			keys := map[string]bool{}
			got := map[string]string{}
			for k, v := range set.get(t, "observations/") {
				inst, target, _ := strings.Cut(k, "/")
				target, _ = url.PathUnescape(target)
				if !strings.Contains(target, "://"+qCut+":") {
					continue
				}
				var o struct{ State string }
				if err := json.Unmarshal([]byte(v), &o); err != nil {
					return err
				}
				keys[target] = true
				got[inst] = o.State
			}
			want := map[string]string{"ns1": "down", "ns2": "up", "ns3": "up"}
			if len(keys) != 1 || fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("views %v under %d keys %v, want %v under one", got, len(keys), keys, want)
			}
			return nil
		})
	}

	// quorum 2: ns1 alone sees the backend down; every instance hands it out.
	set.push(t, 0, quorumZone(port, 1, "quorum 2"))
	checker(0, "down")
	checker(1, "up")
	checker(2, "up")
	views()
	for i, s := range ns {
		poll(t, fmt.Sprintf("ns%d answers both with quorum 2", i+1), stLimit, func() error { return answers(s, both) })
	}
	// ns1's checker still says down, and it keeps answering both.
	checker(0, "down")
	for round := range 5 {
		for i, s := range ns {
			if err := answers(s, both); err != nil {
				t.Fatalf("round %d, ns%d with quorum 2: %v", round, i+1, err)
			}
		}
	}
	// Its status says so too (the status document may be a second old).
	poll(t, "ns1's status: in answers, not down", stLimit, func() error {
		b, err := backendStatus(t, ns[0], qCut)
		if err != nil {
			return err
		}
		if b["in_answers"] != true || b["state"] == "down" || b["checker"] != "down" {
			return fmt.Errorf("status %v", b)
		}
		return nil
	})

	// local: the cut-off instance drops the backend; the others keep it.
	set.push(t, 1, quorumZone(port, 2, "local"))
	poll(t, "ns1 drops the backend with local", stLimit, func() error { return answers(ns[0], []string{qOK}) })
	for i, s := range ns[1:] {
		poll(t, fmt.Sprintf("serial 2 on ns%d", i+2), stLimit, func() error {
			if n, err := stSerial(s); err != nil || n != 2 {
				return fmt.Errorf("serial %d, %v", n, err)
			}
			return nil
		})
		if err := answers(s, both); err != nil {
			t.Errorf("ns%d with local: %v", i+2, err)
		}
	}

	// And back to quorum: ns1 hands it out again.
	set.push(t, 2, quorumZone(port, 3, "quorum 2"))
	poll(t, "ns1 answers both with quorum 2 again", stLimit, func() error { return answers(ns[0], both) })
}
