package hadns

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hadns/hadns/internal/admin"
	"github.com/hadns/hadns/internal/ops"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// ghostService adds a service only the rejected configuration has.
const ghostService = `  - name: ghost
    port: 80
    backends:
      - {address: 10.1.0.99, site: east}
`

// A Corefile reload whose new instance fails after its OnStartup hooks ran
// (caddy then drops it without OnShutdown, and runs the old instance's
// OnRestartFailed) must leave the checker pool, the admin server (its
// token), the override store and the metrics exactly as they were, and
// nothing probing for the rejected configuration.
func TestFailedCorefileReloadLeavesNoGhost(t *testing.T) {
	r := newAdminRig(t, "")
	old := r.e
	targetsBefore := checkedKeys(r.pool)
	if _, found := gauge(t, backendUp, "ghost.example.test."); found {
		t.Fatal("ghost series before the reload")
	}

	// The rejected configuration: one more service, another token, another
	// state file.
	dir := t.TempDir()
	zonePath := filepath.Join(dir, "zone.yaml")
	if err := os.WriteFile(zonePath, []byte(zonetest.SelZone+ghostService), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := *r.cfg
	cfg.files = []string{zonePath}
	cfg.admin = &admin.Config{Addr: "127.0.0.1:0", Token: "rejected-token"}
	cfg.state = filepath.Join(dir, "other-state.json")

	if err := r.pool.beginRestart(); err != nil { // the old instance's OnRestart
		t.Fatal(err)
	}
	snap, err := load(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	ghost := newEngine(&Hadns{}, &cfg, snap, r.pool) // setup
	if err := ghost.start(); err != nil {            // OnStartup
		t.Fatal(err)
	}
	if len(checkedKeys(r.pool)) != len(targetsBefore)+1 {
		t.Fatal("the new instance's targets were never handed to the checker: the test proves nothing")
	}
	// Gauges wait until the instance serves.
	if _, found := gauge(t, backendUp, "ghost.example.test."); found {
		t.Error("backend_up of a service whose instance does not serve yet")
	}

	// Its servers fail to start (a port in use): caddy drops it and calls
	// the old instance's OnRestartFailed, once per hadns block.
	for range 2 {
		if err := r.pool.abortRestart(); err != nil {
			t.Fatal(err)
		}
	}

	if got := checkedKeys(r.pool); !slices.Equal(got, targetsBefore) {
		t.Errorf("checked targets after the failed reload:\n%v\nwant\n%v", got, targetsBefore)
	}
	r.pool.mu.Lock()
	engines := len(r.pool.engines)
	_, ghostKnown := r.pool.made[ghost]
	r.pool.mu.Unlock()
	if engines != 1 || ghostKnown {
		t.Errorf("pool has %d engines (ghost known: %v), want the old one alone", engines, ghostKnown)
	}
	if code, _ := r.call("GET", "/v1/status", "", testToken, "192.0.2.9:4000"); code != 200 {
		t.Errorf("the live token gets %d after the failed reload, want 200", code)
	}
	if code, _ := r.call("GET", "/v1/status", "", "rejected-token", "192.0.2.9:4000"); code != 401 {
		t.Errorf("the rejected configuration's token gets %d, want 401", code)
	}
	if engines := r.server().Engines(); len(engines) != 1 || engines[0] != (adminView{old}) {
		t.Errorf("admin server serves %d engines, want the old one alone", len(engines))
	}
	r.pool.ops.mu.Lock()
	_, otherStore := r.pool.ops.stores[cfg.state]
	r.pool.ops.mu.Unlock()
	if otherStore {
		t.Error("the rejected configuration's state file store is still kept")
	}
	ghostUser, users := old.store.(*ops.Store).Attached(ghost)
	if ghostUser || users != 1 {
		t.Errorf("override store has %d users (ghost among them: %v), want the old engine alone", users, ghostUser)
	}
	if _, found := gauge(t, backendUp, "ghost.example.test."); found {
		t.Error("ghost backend_up series after the failed reload")
	}
	if _, found := gauge(t, failoverBudget, "ghost.example.test."); found {
		t.Error("ghost failover_budget series after the failed reload")
	}
	// The old instance still answers, with the old token's overrides.
	if got := r.eastA(); len(got) == 0 {
		t.Error("the old instance does not answer after the failed reload")
	}
}

// A reload that succeeds publishes the new instance's gauges when the old
// instance stops, and deletes the series of what it removed.
func TestSucceededCorefileReloadPublishesAndForgets(t *testing.T) {
	// A zone of its own: metrics are the process's, and other tests leave
	// engines with example.test behind.
	dir := t.TempDir()
	first := filepath.Join(dir, "first.yaml")
	if err := os.WriteFile(first, []byte(strings.ReplaceAll(zonetest.SelZone, "example.test", "lifecycle.test")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newHealthRigWith(t, func(c *config) { c.files = []string{first} })
	r.until("ready", r.h.Ready)
	if _, found := gauge(t, backendUp, "api.lifecycle.test."); !found {
		t.Fatal("no backend_up series for api")
	}
	zonePath := filepath.Join(dir, "zone.yaml")
	// The new configuration renames the service: api's series must go.
	if err := os.WriteFile(zonePath, []byte(strings.Replace(strings.ReplaceAll(zonetest.SelZone, "example.test", "lifecycle.test"), "name: api", "name: api2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := *r.cfg
	cfg.files = []string{zonePath}
	r.pool.beginRestart()
	snap, err := load(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &Hadns{}
	e := newEngine(h, &cfg, snap, r.pool)
	if err := e.start(); err != nil {
		t.Fatal(err)
	}
	if _, found := gauge(t, backendUp, "api2.lifecycle.test."); found {
		t.Error("backend_up of the new instance before it serves")
	}
	r.e.stop() // the old instance's OnShutdown: the new one serves
	r.h, r.e = h, e
	if _, found := gauge(t, backendUp, "api2.lifecycle.test."); !found {
		t.Error("no backend_up for the new instance's service once it serves")
	}
	for _, v := range serviceVecsForTest() {
		if _, found := gauge(t, v, "api.lifecycle.test."); found {
			t.Errorf("a series of the removed service api outlived the reload")
		}
	}
}

func serviceVecsForTest() []*prometheus.GaugeVec {
	return []*prometheus.GaugeVec{backendUp, healthyBackends, failoverBudget}
}

// checkedKeys lists the targets the pool's checker probes, sorted.
func checkedKeys(p *checkerPool) []string {
	var keys []string
	for _, st := range p.current().Snapshot() {
		keys = append(keys, st.Key)
	}
	slices.Sort(keys)
	return keys
}

// hasSeries reports whether c has a series with every label of want.
func hasSeries(t *testing.T, c prometheus.Collector, want map[string]string) bool {
	t.Helper()
	ch := make(chan prometheus.Metric, 256)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	found := false
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range d.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				n++
			}
		}
		found = found || n == len(want)
	}
	return found
}

// A zone reload that removes a backend and a site deletes their series:
// a decommissioned backend's backend_up 0 must not fire alerts forever.
func TestZoneReloadDeletesRemovedSeries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zone.yaml")
	zoneText := strings.ReplaceAll(zonetest.SelZone, "example.test", "series.test")
	if err := os.WriteFile(path, []byte(zoneText), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newHealthRigWith(t, func(c *config) { c.files = []string{path} })
	r.prober.set(true, "10.3.0.1")
	r.until("10.3.0.1 down", func() bool {
		return hasSeries(t, transitions, map[string]string{"service": "api.series.test.", "backend": "10.3.0.1:80", "to": "down"})
	})
	north := map[string]string{"service": "api.series.test.", "backend": "10.3.0.1:80"}
	if !hasSeries(t, backendUp, north) {
		t.Fatal("no backend_up for 10.3.0.1 before the reload")
	}
	// north's only backend leaves the zone.
	if err := os.WriteFile(path, []byte(strings.Replace(zoneText, "      - {address: 10.3.0.1, site: north}\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if !settleReload(r.e) {
		t.Fatal("the zone was not reloaded")
	}
	for name, c := range map[string]prometheus.Collector{"backend_up": backendUp, "transitions_total": transitions} {
		if hasSeries(t, c, north) {
			t.Errorf("%s of the removed backend 10.3.0.1 outlived the reload", name)
		}
	}
	if hasSeries(t, healthyBackends, map[string]string{"service": "api.series.test.", "site": "north"}) {
		t.Error("healthy_backends of a site the service no longer has outlived the reload")
	}
	if hasSeries(t, answers, map[string]string{"service": "api.series.test.", "served_site": "north"}) {
		t.Error("answers_total served from a site the service no longer has outlived the reload")
	}
	if !hasSeries(t, backendUp, map[string]string{"service": "api.series.test.", "backend": "10.1.0.1:80"}) {
		t.Error("a kept backend's backend_up was deleted")
	}
}
