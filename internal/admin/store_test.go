package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/store"
)

// fakeShared is a shared store in memory: zones by origin, registrations
// by SERVICE/BACKEND, and a status naming it. A zone document "bad" is
// refused as the store's validator would; down makes every call fail as
// an unreachable etcd does.
type fakeShared struct {
	name    string
	started bool
	down    bool

	mu    sync.Mutex
	zones map[string][]byte
	regs  map[string]store.Registration
	ttls  map[string]time.Duration
	rev   int64
}

func newFakeShared(name string) *fakeShared {
	return &fakeShared{name: name, started: true, zones: map[string][]byte{}, regs: map[string]store.Registration{}, ttls: map[string]time.Duration{}}
}

func (f *fakeShared) Status() *adminapi.StoreStatus {
	return &adminapi.StoreStatus{Instance: f.name, Zones: len(f.zones), Instances: []string{f.name}}
}

func (f *fakeShared) Client() (StoreClient, error) {
	if !f.started {
		return nil, errors.New("store: not started")
	}
	return f, nil
}

// CheckRegistration refuses the sites and addresses the tests call bad.
func (f *fakeShared) CheckRegistration(service string, reg store.Registration) error {
	if reg.Site == "bad site" {
		return fmt.Errorf("site %q: use letters, digits, - and _", reg.Site)
	}
	if strings.HasPrefix(reg.Address, "224.") {
		return fmt.Errorf("address %q is a multicast address, not a backend", reg.Address)
	}
	return nil
}

var errUnreachable = errors.New("etcd unreachable")

func (f *fakeShared) GetZone(_ context.Context, origin string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, false, errUnreachable
	}
	doc, ok := f.zones[origin]
	return doc, ok, nil
}

func (f *fakeShared) PutZone(_ context.Context, origin string, doc []byte) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, errUnreachable
	}
	if string(doc) == "bad" {
		return 0, fmt.Errorf("%w: %s: no services", store.ErrInvalidZone, origin)
	}
	f.rev++
	f.zones[origin] = doc
	return f.rev, nil
}

func (f *fakeShared) DeleteZone(_ context.Context, origin string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errUnreachable
	}
	delete(f.zones, origin)
	return nil
}

func (f *fakeShared) RegisterLease(_ context.Context, service, backend string, reg store.Registration, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errUnreachable
	}
	f.regs[service+"/"+backend] = reg
	f.ttls[service+"/"+backend] = ttl
	return nil
}

func (f *fakeShared) Deregister(_ context.Context, service, backend string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errUnreachable
	}
	delete(f.regs, service+"/"+backend)
	return nil
}

// TestStoreRoutesWithoutStore: without a shared store every store route
// answers 404 saying how to add one, and the status has no store section.
func TestStoreRoutesWithoutStore(t *testing.T) {
	r := newAdminRig(t, nil)
	const local = "127.0.0.1:5000"
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/store", ""},
		{"GET", "/v1/zones/example.test", ""},
		{"PUT", "/v1/zones/example.test", "zone"},
		{"DELETE", "/v1/zones/example.test", ""},
		{"POST", "/v1/registrations", `{"service": "api.example.test", "address": "10.0.0.1", "site": "east"}`},
		{"DELETE", "/v1/registrations/api.example.test/10.0.0.1", ""},
	} {
		code, body := r.call(c.method, c.path, c.body, testToken, local)
		if code != 404 || !strings.Contains(fmt.Sprint(body["error"]), "no shared store") {
			t.Errorf("%s %s: %d %v, want 404 naming the missing store", c.method, c.path, code, body)
		}
	}
	if _, has := r.status()["store"]; has {
		t.Error("the status has a store section without a store")
	}
}

// TestStoreRoutes drives the zone and registration routes against a shared
// store: what they write reaches it under canonical names, refusals get
// the right code, changes need the token, and the status and GET
// /v1/store show the store section.
func TestStoreRoutes(t *testing.T) {
	r := newAdminRig(t, nil)
	sh := newFakeShared("ns1")
	r.e.shared = sh
	const local = "127.0.0.1:5000"

	if code, _ := r.call("PUT", "/v1/zones/example.test", "zone doc", "", local); code != 401 {
		t.Errorf("zone push without token: %d, want 401", code)
	}
	if code, _ := r.call("POST", "/v1/registrations", `{}`, "", local); code != 401 {
		t.Errorf("registration without token: %d, want 401", code)
	}
	code, body := r.call("PUT", "/v1/zones/Example.TEST", "zone doc", testToken, local)
	if code != 200 || body["zone"] != "example.test." || body["revision"] != float64(1) {
		t.Errorf("zone push: %d %v, want 200 for example.test. at revision 1", code, body)
	}
	if string(sh.zones["example.test."]) != "zone doc" {
		t.Errorf("stored zones %v, want example.test.'s document", sh.zones)
	}
	if code, body := r.call("PUT", "/v1/zones/example.test", "bad", testToken, local); code != 422 || !strings.Contains(fmt.Sprint(body["error"]), "invalid zone") {
		t.Errorf("invalid zone push: %d %v, want 422 with the validator's reason", code, body)
	}
	if string(sh.zones["example.test."]) != "zone doc" {
		t.Error("a refused push changed the stored zone")
	}
	// GET answers the document itself, not JSON.
	if code, body := r.call("GET", "/v1/zones/example.test.", "", "", local); code != 200 || body != nil {
		t.Errorf("zone read: %d %v, want 200 with the YAML document", code, body)
	}
	if code, _ := r.call("GET", "/v1/zones/other.test", "", "", local); code != 404 {
		t.Errorf("read of a zone not in the store: %d, want 404", code)
	}

	code, body = r.call("POST", "/v1/registrations", `{"service": "API.example.test", "address": "::ffff:10.0.0.9", "port": 8080, "site": "east", "ttl_seconds": 30}`, testToken, local)
	if code != 200 || body["service"] != "api.example.test." || body["backend"] != "10.0.0.9:8080" || body["ttl_seconds"] != float64(30) {
		t.Errorf("registration: %d %v", code, body)
	}
	if reg := sh.regs["api.example.test./10.0.0.9:8080"]; reg.Address != "10.0.0.9" || reg.Site != "east" || sh.ttls["api.example.test./10.0.0.9:8080"] != 30*time.Second {
		t.Errorf("stored registrations %v %v", sh.regs, sh.ttls)
	}
	code, body = r.call("POST", "/v1/registrations", `{"service": "api.example.test", "address": "10.0.0.8", "site": "east"}`, testToken, local)
	if code != 200 || body["backend"] != "10.0.0.8" || sh.ttls["api.example.test./10.0.0.8"] != defaultRegistrationTTL {
		t.Errorf("registration with the default lease: %d %v %v", code, body, sh.ttls)
	}
	for _, bad := range []string{
		`{"service": "api.example.test", "address": "10.0.0.1"}`,
		`{"service": "api.example.test", "address": "10.0.0.1", "site": "east", "ttl_seconds": 90000}`,
		`{"service": "api.example.test", "address": "10.0.0.1", "site": "bad site"}`,
		`{"service": "api.example.test", "address": "224.0.0.1", "site": "east"}`,
		`{"service": "api.example.test", "address": "10.0.0.1", "site": "east", "colour": "red"}`,
	} {
		if code, body := r.call("POST", "/v1/registrations", bad, testToken, local); code != 400 || body["error"] == nil {
			t.Errorf("registration %s: %d %v, want 400 with a reason", bad, code, body)
		}
	}
	if code, body := r.call("DELETE", "/v1/registrations/api.example.test/10.0.0.8", "", testToken, local); code != 200 || body["deregistered"] != "api.example.test./10.0.0.8" {
		t.Errorf("deregistration: %d %v", code, body)
	}
	if _, ok := sh.regs["api.example.test./10.0.0.8"]; ok {
		t.Error("the deregistered backend is still registered")
	}

	if code, body := r.call("GET", "/v1/store", "", "", local); code != 200 || body["instance"] != "ns1" {
		t.Errorf("GET /v1/store: %d %v", code, body)
	}
	if st, _ := r.status()["store"].(map[string]any); st == nil || st["instance"] != "ns1" || st["zones"] != float64(1) {
		t.Errorf("status store section %v, want ns1's with one zone", r.status()["store"])
	}

	if code, _ := r.call("DELETE", "/v1/zones/example.test", "", testToken, local); code != 200 || len(sh.zones) != 0 {
		t.Errorf("zone delete: %d, zones left %v", code, sh.zones)
	}
	if code, _ := r.call("DELETE", "/v1/zones/example.test", "", testToken, local); code != 404 {
		t.Errorf("delete of a zone no longer in the store: %d, want 404", code)
	}

	sh.down = true
	if code, _ := r.call("PUT", "/v1/zones/example.test", "zone doc", testToken, local); code != 503 {
		t.Errorf("zone push while etcd is away: %d, want 503", code)
	}
	sh.down, sh.started = false, false
	if code, body := r.call("GET", "/v1/zones/example.test", "", "", local); code != 503 || !strings.Contains(fmt.Sprint(body["error"]), "not started") {
		t.Errorf("zone read before the store started: %d %v, want 503", code, body)
	}
}

// TestStoreRoutesDuringReload: with two engines registered (a reload in
// progress) on different shared stores, changes go to the newest engine's
// store, while the status section stays the oldest's, as the plugin
// decided before the admin server moved.
func TestStoreRoutesDuringReload(t *testing.T) {
	r := newAdminRig(t, nil)
	oldStore, newStore := newFakeShared("old"), newFakeShared("new")
	r.e.shared = oldStore
	newer := newFakeEngine(r.e.store, "example.test.")
	newer.shared = newStore
	if err := r.servers.Register(newer, &Config{Addr: "127.0.0.1:0", Token: testToken}); err != nil {
		t.Fatal(err)
	}
	defer r.servers.Unregister(newer, "127.0.0.1:0")
	if code, _ := r.call("PUT", "/v1/zones/example.test", "zone doc", testToken, "127.0.0.1:5000"); code != 200 {
		t.Fatalf("zone push: %d", code)
	}
	if len(newStore.zones) != 1 || len(oldStore.zones) != 0 {
		t.Errorf("zones old %v new %v, want the push in the newest engine's store", oldStore.zones, newStore.zones)
	}
	if st, _ := r.status()["store"].(map[string]any); st == nil || st["instance"] != "old" {
		t.Errorf("status store section %v, want the oldest engine's", r.status()["store"])
	}
}

// status reads the status document from loopback.
func (r *adminRig) status() map[string]any {
	r.t.Helper()
	code, doc := r.call("GET", "/v1/status", "", "", "127.0.0.1:5000")
	if code != 200 {
		r.t.Fatalf("GET /v1/status: %d %v", code, doc)
	}
	return doc
}
