package hadns

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/store"
	"github.com/hadns/hadns/internal/zone"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

func TestParseStore(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parseIt := func(body string) (*config, error) {
		c := caddy.NewTestController("dns", "hadns {\n zone a.yaml\n state "+dir+"/state.json\n"+body+"}")
		c.ServerBlockKeys = []string{"example.test."}
		_, cfg, err := parse(c)
		return cfg, err
	}
	cfg, err := parseIt(" store etcd 127.0.0.1:2379 https://10.0.0.2:2379 {\n  prefix /x/\n  username hadns\n  password_file " + pw + "\n  dial_timeout 2s\n  instance ns1\n  instance_ttl 5s\n }\n")
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.store
	if sc == nil || !slices.Equal(sc.cfg.Endpoints, []string{"127.0.0.1:2379", "https://10.0.0.2:2379"}) || sc.cfg.Prefix != "/x/" ||
		sc.cfg.Username != "hadns" || sc.cfg.Password != "s3cret" || sc.cfg.DialTimeout != 2*time.Second ||
		sc.cfg.Instance != "ns1" || sc.cfg.InstanceTTL != 5*time.Second {
		t.Fatalf("store config %+v", sc)
	}
	if sc.cfg.CacheFile != filepath.Join(dir, defaultCacheName) {
		t.Errorf("cache file %q, want it next to the state file", sc.cfg.CacheFile)
	}
	if sc.key == "" {
		t.Error("no key")
	}
	if cfg, err := parseIt(""); err != nil || cfg.store != nil {
		t.Errorf("without a store line: store %+v, err %v", cfg.store, err)
	}
	// A line after a bad store block still parses: the error is the store's.
	for _, tc := range []struct{ body, want string }{
		{" store etcd\n", "Testfile:4 - Error during parsing: store: want `store etcd ENDPOINT...`"},
		{" store consul 127.0.0.1:8500\n", "Testfile:4 - Error during parsing: store: want"},
		{" store etcd 127.0.0.1:2379 {\n  dial_timeout soon\n }\n", "Testfile:5 - Error during parsing: store: dial_timeout: \"soon\" is not a duration"},
		{" store etcd 127.0.0.1:2379 {\n  colour blue\n }\n", "Testfile:5 - Error during parsing: store: unknown option \"colour\""},
		{" store etcd 127.0.0.1:2379 {\n  username u\n }\n", "Testfile:4: store: username and password go together"},
		{" store etcd 127.0.0.1:2379 {\n  tls " + dir + "/no.crt " + dir + "/no.key\n }\n", "Testfile:4: store: tls file"},
		{" store etcd ftp://x {\n }\n", "Testfile:4: store: endpoint"},
		{" store etcd 127.0.0.1:2379 {\n  password_file " + dir + "/none\n }\n", "Testfile:5 - Error during parsing: store: password_file"},
	} {
		_, err := parseIt(tc.body + " colour blue\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.body, err, tc.want)
			continue
		}
		// Parsing went on after the store block: the next bad line is seen.
		if pe, ok := err.(parseErrors); !ok || len(pe) < 2 || !strings.Contains(pe[len(pe)-1].Error(), `unknown property "colour"`) {
			t.Errorf("%q: parsing did not resume after the store block: %v", tc.body, err)
		}
	}
}

func TestQuorumVerdict(t *testing.T) {
	const (
		up, down = obsUp, obsDown
	)
	U, S, D, X := healthcheck.Up, healthcheck.Suspect, healthcheck.Down, healthcheck.Unknown
	for _, tc := range []struct {
		name  string
		own   healthcheck.State
		peers []string
		n     int
		want  zone.Health
	}{
		{"peers silent: own down stands", D, nil, 2, zone.Down},
		{"peers silent: own up stands", U, nil, 2, zone.Healthy},
		{"peers silent: own suspect stands", S, nil, 2, zone.Suspect},
		{"cut off alone: quorum 2 keeps it", D, []string{up, up}, 2, zone.Healthy},
		{"cut off alone, one peer: quorum 2 keeps it", D, []string{up}, 2, zone.Healthy},
		{"two agree: down", D, []string{down, up}, 2, zone.Down},
		{"peers agree without us: down", U, []string{down, down}, 2, zone.Down},
		{"one peer down, quorum 2: up", U, []string{down, up}, 2, zone.Healthy},
		{"quorum 1: any view down", U, []string{down}, 1, zone.Down},
		{"quorum 3 of 3 not reached", D, []string{down, up}, 3, zone.Healthy},
		{"quorum 3 of 3 reached", D, []string{down, down}, 3, zone.Down},
		{"unchecked here, peers up", X, []string{up, up}, 2, zone.Healthy},
		{"unchecked here, peers down", X, []string{down, down}, 2, zone.Down},
		{"suspect here, set up: stays suspect (short TTL)", S, []string{up}, 2, zone.Suspect},
	} {
		if got := quorumVerdict(tc.own, tc.peers, tc.n); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// storeEngine is an engine set up with a store line but not started: the
// test hands it store views itself, no etcd involved.
func storeEngine(t *testing.T, fileZone string, withSites bool) (*engine, *Hadns) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zone.yaml")
	if err := os.WriteFile(path, []byte(fileZone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config{origins: []string{"."}, files: []string{path}}
	if withSites {
		cfg.sites = []sites.Config{{Name: "east"}, {Name: "west"}, {Name: "north"}}
	}
	cfg.store = &storeConfig{cfg: store.Config{Endpoints: []string{"127.0.0.1:1"}, Instance: "ns1"}}
	cfg.store.finish(filepath.Join(t.TempDir(), "state.json"))
	snap, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &Hadns{}
	e := newEngine(h, cfg, snap, newCheckerPool(healthcheck.Options{}))
	h.ready.Store(true)
	t.Cleanup(func() { e.stop() })
	return e, h
}

// setView makes v the store's view and has e apply it, as a snapshot from
// the watcher would.
func setView(e *engine, snap *store.Snapshot, connected bool) {
	if snap.Zones == nil {
		snap.Zones = map[string]store.Zone{}
	}
	if snap.Overrides == nil {
		snap.Overrides = map[string]store.Override{}
	}
	prev := e.st.set.view.Load()
	v := &storeView{snap: snap, connected: connected, overrides: convertOverrides(snap.Overrides)}
	e.st.set.view.Store(v)
	e.storeChanged(prev, v)
}

const otherZone = `origin: other.test.
soa: {mname: ns1, rname: h, serial: %d}
ns: [ns1]
records: |
  ns1 A 192.0.2.53
services:
  - name: www
    port: 80
    backends:
      - {address: 10.9.0.1, site: %s}
`

func storeAddrs(t *testing.T, h *Hadns, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	r := query(t, h, m, udpWriter())
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	if r.Rcode != dns.RcodeSuccess {
		out = append(out, dns.RcodeToString[r.Rcode])
	}
	return out
}

func soaSerial(t *testing.T, h *Hadns, origin string) uint32 {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(origin, dns.TypeSOA)
	r := query(t, h, m, udpWriter())
	if len(r.Answer) != 1 {
		t.Fatalf("SOA %s: %v", origin, r)
	}
	return r.Answer[0].(*dns.SOA).Serial
}

func TestStoreZonesPrecedenceAndBadDocuments(t *testing.T) {
	e, h := storeEngine(t, zonetest.SelZone, true)
	doc := func(serial int, site string) []byte { return []byte(fmt.Sprintf(otherZone, serial, site)) }
	if got := storeAddrs(t, h, "www.other.test."); !slices.Equal(got, []string{"REFUSED"}) {
		t.Fatalf("before the store has it: %v", got)
	}
	// A store zone is served; a store zone with a file zone's origin is not.
	shadow := strings.Replace(zonetest.SelZone, "10.1.0.1", "10.7.7.7", 1)
	setView(e, &store.Snapshot{Revision: 5, Zones: map[string]store.Zone{
		"other.test.":   {Doc: doc(7, "east"), ModRevision: 5},
		"example.test.": {Doc: []byte(shadow), ModRevision: 4},
	}}, true)
	if got := storeAddrs(t, h, "www.other.test."); !slices.Equal(got, []string{"10.9.0.1"}) {
		t.Errorf("store zone: %v", got)
	}
	if s := soaSerial(t, h, "other.test."); s != 7 {
		t.Errorf("store zone serial %d", s)
	}
	if got := storeAddrs(t, h, "api.example.test."); slices.Contains(got, "10.7.7.7") {
		t.Errorf("the store's version of a file zone is served: %v", got)
	}

	// A new version naming a site the Corefile lacks is refused: the
	// previous version keeps serving.
	setView(e, &store.Snapshot{Revision: 6, Zones: map[string]store.Zone{"other.test.": {Doc: doc(8, "mars"), ModRevision: 6}}}, true)
	if s := soaSerial(t, h, "other.test."); s != 7 {
		t.Errorf("a refused version replaced the good one: serial %d", s)
	}
	// A good version replaces it; deleting it from the store stops serving it.
	setView(e, &store.Snapshot{Revision: 7, Zones: map[string]store.Zone{"other.test.": {Doc: doc(9, "west"), ModRevision: 7}}}, true)
	if s := soaSerial(t, h, "other.test."); s != 9 {
		t.Errorf("serial %d after a good push, want 9", s)
	}
	setView(e, &store.Snapshot{Revision: 8}, true)
	if got := storeAddrs(t, h, "www.other.test."); !slices.Equal(got, []string{"REFUSED"}) {
		t.Errorf("after the delete: %v", got)
	}
}

func TestRegistrationsJoinTheirService(t *testing.T) {
	e, h := storeEngine(t, zonetest.SelZone, true)
	w := uint16(3)
	regs := map[string]map[string]store.Registration{
		"api.example.test.": {
			"10.1.0.9:80": {Address: "10.1.0.9", Port: 80, Site: "east", Weight: &w},
			"10.1.0.8":    {Address: "10.1.0.8", Site: "mars"},  // no such site: left out
			"bad":         {Address: "not-an-ip", Site: "east"}, // left out
		},
	}
	setView(e, &store.Snapshot{Revision: 3, Registrations: regs}, true)
	got := storeAddrs(t, h, "api.example.test.")
	if !slices.Contains(got, "10.1.0.9") || slices.Contains(got, "10.1.0.8") {
		t.Fatalf("answers %v: want the registered 10.1.0.9 and not the misfit 10.1.0.8", got)
	}
	var keys []string
	for _, tg := range e.targets {
		keys = append(keys, tg.Key())
	}
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, "10.1.0.9:80") }) {
		t.Errorf("the registered backend is not health checked: %v", keys)
	}
	// The registration's lease ran out: it leaves.
	setView(e, &store.Snapshot{Revision: 4, Registrations: map[string]map[string]store.Registration{}}, true)
	if got := storeAddrs(t, h, "api.example.test."); slices.Contains(got, "10.1.0.9") {
		t.Errorf("expired registration still answered: %v", got)
	}
}

func TestStoreOverridesApply(t *testing.T) {
	e, h := storeEngine(t, zonetest.SelZone, true)
	setView(e, &store.Snapshot{Revision: 2, Overrides: map[string]store.Override{
		"backend=10.1.0.1": {Action: "drain", Selector: store.Selector{Backend: "10.1.0.1"}, Created: time.Unix(1, 0)},
		"site=bogus":       {Action: "explode", Selector: store.Selector{Site: "east"}}, // unknown action: ignored
	}}, true)
	if got := storeAddrs(t, h, "api.example.test."); slices.Contains(got, "10.1.0.1") {
		t.Errorf("drained in the store, still answered: %v", got)
	}
	if all := e.store.All(); len(all) != 1 || all[0].ID != "backend=10.1.0.1" {
		t.Errorf("overrides %+v", all)
	}
	setView(e, &store.Snapshot{Revision: 3}, true)
	if got := storeAddrs(t, h, "api.example.test."); len(got) == 0 || got[0] == "REFUSED" {
		t.Errorf("after the clear: %v", got)
	}
}

// The quorum verdict reads peers' observations from the view, and falls
// back to local health when etcd is away.
func TestQuorumUsesPeersOnlyWhileConnected(t *testing.T) {
	zoneText := strings.Replace(zonetest.SelZone, "    ttl: 20\n", "    ttl: 20\n    health: quorum 2\n", 1)
	e, _ := storeEngine(t, zoneText, true)
	var svc *zone.Service
	for _, z := range e.snap.zones {
		svc = z.Services()[0]
	}
	b := svc.Backends()[0]
	key := b.Check().Key()
	obs := func(states ...string) map[string]map[string]store.Observation {
		m := map[string]map[string]store.Observation{"ns1": {key: {State: obsUp}}}
		for i, s := range states {
			m["peer"+string(rune('a'+i))] = map[string]store.Observation{key: {State: s}}
		}
		return m
	}
	setView(e, &store.Snapshot{Revision: 1, Observations: obs(obsDown, obsDown)}, true)
	if h := e.backendHealth(svc, b); h != zone.Down {
		t.Errorf("two peers see it down (quorum 2): %v", h)
	}
	setView(e, &store.Snapshot{Revision: 2, Observations: obs(obsDown, obsDown)}, false)
	if h := e.backendHealth(svc, b); h != zone.Healthy {
		t.Errorf("etcd away: local health (unchecked: healthy) should stand, got %v", h)
	}
}

// A Corefile reload whose new instance has a store line and fails after its
// start-up hooks ran leaves no store client, watch or lease behind.
func TestFailedReloadLeavesNoStoreGhost(t *testing.T) {
	r := newHealthRigWith(t, nil)
	cfg := *r.cfg
	cfg.startupTimeout = 50 * time.Millisecond
	cfg.store = &storeConfig{cfg: store.Config{Endpoints: []string{"127.0.0.1:1"}, Instance: "ns1", DialTimeout: 100 * time.Millisecond}}
	cfg.store.finish(filepath.Join(t.TempDir(), "state.json"))
	if err := r.pool.beginRestart(); err != nil {
		t.Fatal(err)
	}
	snap, err := load(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	ghost := newEngine(&Hadns{}, &cfg, snap, r.pool)
	if err := ghost.start(); err != nil {
		t.Fatal(err)
	}
	set := ghost.st.set
	if _, err := set.client(); err != nil {
		t.Fatalf("the new instance's store did not start: the test proves nothing (%v)", err)
	}
	if err := r.pool.abortRestart(); err != nil {
		t.Fatal(err)
	}
	r.pool.ops.mu.Lock()
	n := len(r.pool.ops.sets)
	r.pool.ops.mu.Unlock()
	if n != 0 {
		t.Errorf("%d store(s) kept after the failed reload", n)
	}
	if _, err := set.client(); err == nil {
		t.Error("the rejected instance's store client is still open")
	}
}
