package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/hadns/hadns/healthcheck/healthchecktest"
	"github.com/hadns/hadns/internal/admin/admintest"
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/ops"
)

const testToken = "s3cret"

// fakeBackend is a backend of the fake engine's one service.
type fakeBackend struct{ id, addr, site string }

// fakeEngine serves one zone with one service, api.example.test., whose
// backends' state is the action of the newest override naming them (by
// ID, address or site): enough of an engine to drive the admin server.
type fakeEngine struct {
	zone     string
	store    *ops.Store
	shared   *fakeShared // nil: no shared store
	backends []fakeBackend
	loaded   bool
	ready    bool
}

func newFakeEngine(store *ops.Store, zone string) *fakeEngine {
	return &fakeEngine{zone: zone, store: store, loaded: true, ready: true, backends: []fakeBackend{
		{"10.1.0.1:80", "10.1.0.1", "east"}, {"10.1.0.2:80", "10.1.0.2", "east"}, {"10.2.0.1:80", "10.2.0.1", "west"},
	}}
}

func (f *fakeEngine) Store() OverrideStore { return f.store }

func (f *fakeEngine) Shared() SharedStore {
	if f.shared == nil {
		return nil
	}
	return f.shared
}

func (f *fakeEngine) Checker() adminapi.CheckerStatus {
	return adminapi.CheckerStatus{LocalTroubleTargets: len(f.backends)}
}

func (f *fakeEngine) service() string { return "api." + f.zone }

func (f *fakeEngine) picks(sel adminapi.Selector, b fakeBackend) bool {
	return sel.Backend == b.id || sel.Backend == b.addr || sel.Site == b.site
}

func (f *fakeEngine) Match(sel adminapi.Selector) []string {
	if !f.loaded {
		return nil
	}
	var out []string
	for _, b := range f.backends {
		if f.picks(sel, b) {
			out = append(out, strings.TrimSuffix(f.service(), ".")+"/"+b.id)
		}
	}
	return out
}

func (f *fakeEngine) Status(now time.Time, skip func(string) bool) (EngineStatus, bool) {
	if !f.loaded {
		return EngineStatus{}, false
	}
	es := EngineStatus{Ready: f.ready, Matched: map[string][]string{}}
	if skip(f.zone) {
		return es, true
	}
	ss := adminapi.ServiceStatus{Name: f.service()}
	list := f.store.All()
	for _, b := range f.backends {
		bs := adminapi.BackendStatus{ID: b.id, Address: b.addr, Site: b.site, State: "up"}
		for i := range list {
			if o := &list[i]; f.picks(o.Selector(), b) {
				es.Matched[o.ID] = append(es.Matched[o.ID], strings.TrimSuffix(f.service(), ".")+"/"+b.id)
				bs.Override, bs.State = o, map[string]string{adminapi.ActionDrain: "drained", adminapi.ActionDown: "down", adminapi.ActionUp: "up"}[o.Action]
			}
		}
		ss.Backends = append(ss.Backends, bs)
	}
	es.Zones = []adminapi.ZoneStatus{{Zone: f.zone, Services: []adminapi.ServiceStatus{ss}}}
	return es, true
}

// testLog sends the servers' and stores' log lines to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Infof(format string, args ...any)    { l.t.Logf("INFO "+format, args...) }
func (l testLog) Warningf(format string, args ...any) { l.t.Logf("WARNING "+format, args...) }
func (l testLog) Errorf(format string, args ...any)   { l.t.Logf("ERROR "+format, args...) }

// adminRig is an admin server on a free loopback port serving one fake
// engine with a memory-only override store, on a fake clock.
type adminRig struct {
	t       *testing.T
	clock   *healthchecktest.FakeClock
	servers *Servers
	e       *fakeEngine
}

func newAdminRig(t *testing.T, cfg *Config) *adminRig {
	t.Helper()
	if cfg == nil {
		cfg = &Config{Addr: "127.0.0.1:0", Token: testToken}
	}
	r := &adminRig{t: t, clock: healthchecktest.NewFakeClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))}
	r.servers = NewServers(Options{Clock: r.clock, Log: testLog{t}})
	r.e = newFakeEngine(ops.NewStore("", r.clock, testLog{t}), "example.test.")
	if err := r.servers.Register(r.e, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.servers.Unregister(r.e, cfg.Addr) })
	return r
}

func (r *adminRig) server() *Server {
	r.t.Helper()
	a := r.servers.Get("127.0.0.1:0")
	if a == nil {
		r.t.Fatal("no admin server")
	}
	return a
}

// call runs one request through the admin handler from client (an address
// with port) and decodes the JSON reply.
func (r *adminRig) call(method, path, body, token, client string) (int, map[string]any) {
	r.t.Helper()
	return admintest.Call(r.t, r.server().Handler(), method, path, body, token, client)
}

func (r *adminRig) post(body string) (int, map[string]any) {
	r.t.Helper()
	return r.call("POST", "/v1/overrides", body, testToken, "127.0.0.1:4000")
}
