package hadns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hadns/hadns/healthcheck"
)

// gauge returns the value of the series of v with label service=name, and
// whether it exists.
func gauge(t *testing.T, v *prometheus.GaugeVec, name string) (float64, bool) {
	t.Helper()
	ch := make(chan prometheus.Metric, 64)
	go func() {
		v.Collect(ch)
		close(ch)
	}()
	val, found := 0.0, false
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		for _, l := range d.GetLabel() {
			if l.GetName() == "service" && l.GetValue() == name {
				val, found = d.GetGauge().GetValue(), true
			}
		}
	}
	return val, found
}

const budgetZone = `origin: budget.test.
soa: {mname: ns1.budget.test., rname: hostmaster.budget.test.}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    ttl: 20
    port: 80
    failover_budget: 30s
    check: {kind: tcp, interval: 2s, timeout: 500ms, fall: 3, fast_interval: 250ms}
    backends:
      - {address: 192.0.2.1, site: east}
  - name: web
    port: 80
    backends:
      - {address: 192.0.2.2, site: east}
`

func TestFailoverBudgetMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zone.yaml")
	if err := os.WriteFile(path, []byte(budgetZone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config{origins: []string{"."}, files: []string{path}}
	snap, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(&Hadns{}, cfg, snap, newCheckerPool(healthcheck.Options{}))
	e.promote() // gauges are published once the engine serves
	t.Cleanup(func() { liveSeries.set(e, nil) })

	// api: 2.1 s longest jittered interval + 2 × 250 ms fast + 3 × 500 ms
	// timeouts + 20 s TTL; web: the tcp defaults' 2.85 s + 10 s TTL.
	for _, c := range []struct {
		v    *prometheus.GaugeVec
		name string
		want float64
	}{
		{failoverBudget, "api.budget.test.", 24.1},
		{failoverBudgetLimit, "api.budget.test.", 30},
		{failoverBudget, "web.budget.test.", 12.85},
	} {
		if got, ok := gauge(t, c.v, c.name); !ok || !near(got, c.want) {
			t.Errorf("%s: %v (present %v), want %v", c.name, got, ok, c.want)
		}
	}
	if _, ok := gauge(t, failoverBudgetLimit, "web.budget.test."); ok {
		t.Error("web has a budget limit series, but sets no failover_budget")
	}

	// A reload that drops api's limit and removes web.
	zone := strings.Replace(budgetZone, "    failover_budget: 30s\n", "", 1)
	zone = zone[:strings.Index(zone, "  - name: web")]
	zone = strings.Replace(zone, "ttl: 20", "ttl: 5", 1)
	if err := os.WriteFile(path, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	if !settleReload(e) {
		t.Fatal("the changed zone file was not reloaded")
	}
	if got, ok := gauge(t, failoverBudget, "api.budget.test."); !ok || !near(got, 9.1) {
		t.Errorf("api after reload: %v (present %v), want 9.1", got, ok)
	}
	if _, ok := gauge(t, failoverBudgetLimit, "api.budget.test."); ok {
		t.Error("api's limit series outlived its failover_budget")
	}
	if _, ok := gauge(t, failoverBudget, "web.budget.test."); ok {
		t.Error("web's budget series outlived the service")
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < float64(time.Microsecond)/float64(time.Second) && d > -float64(time.Microsecond)/float64(time.Second)
}
