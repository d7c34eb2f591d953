package admin

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hadns/hadns/internal/admin/admintest"
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/ops"
)

func TestAdminAuth(t *testing.T) {
	r := newAdminRig(t, nil)
	const local, remote = "127.0.0.1:5000", "192.0.2.7:5000"
	drain := `{"action": "drain", "backend": "10.1.0.1"}`
	tests := []struct {
		name, method, path, body, token, client string
		want                                    int
	}{
		{"change without token", "POST", "/v1/overrides", drain, "", local, 401},
		{"change with wrong token", "POST", "/v1/overrides", drain, "nope", local, 401},
		{"delete without token", "DELETE", "/v1/overrides/1", "", "", local, 401},
		{"delete with wrong token", "DELETE", "/v1/overrides/1", "", "nope", local, 401},
		{"read from loopback", "GET", "/v1/status", "", "", local, 200},
		{"overrides from loopback", "GET", "/v1/overrides", "", "", local, 200},
		{"page from loopback", "GET", "/", "", "", local, 200},
		{"page from elsewhere without token", "GET", "/", "", "", remote, 200},
		{"read with wrong token", "GET", "/v1/status", "", "nope", local, 401},
		{"read from elsewhere", "GET", "/v1/status", "", "", remote, 401},
		{"read from elsewhere with token", "GET", "/v1/status", "", testToken, remote, 200},
		{"change with token", "POST", "/v1/overrides", drain, testToken, remote, 200},
	}
	for _, tc := range tests {
		code, body := r.call(tc.method, tc.path, tc.body, tc.token, tc.client)
		if code != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, code, body, tc.want)
		}
		if code >= 400 && (body == nil || body["error"] == "") {
			t.Errorf("%s: error reply without a JSON error: %v", tc.name, body)
		}
	}

	// No token configured: changes are refused with a reason, reads from
	// loopback still work.
	a := r.server()
	a.mu.Lock()
	a.cfg = &Config{Addr: a.cfg.Addr}
	a.mu.Unlock()
	code, body := r.call("POST", "/v1/overrides", drain, "anything", local)
	if code != 403 || !strings.Contains(body["error"].(string), "no admin token is configured") {
		t.Errorf("change without a configured token: %d %v", code, body)
	}
	if code, _ := r.call("GET", "/v1/status", "", "", local); code != 200 {
		t.Errorf("read without a configured token: %d", code)
	}
}

// TestAdminNewestEngineDecides: during a Corefile reload the new engine
// registers beside the old on the same address, and its token applies;
// when it leaves again (the reload failed), the old one's applies, on the
// same listener. The last engine out closes the listener.
func TestAdminNewestEngineDecides(t *testing.T) {
	r := newAdminRig(t, nil)
	addr := r.server().Addr().String()
	newer := newFakeEngine(r.e.store, "example.test.")
	if err := r.servers.Register(newer, &Config{Addr: "127.0.0.1:0", Token: "newer-token"}); err != nil {
		t.Fatal(err)
	}
	const remote = "192.0.2.9:4000"
	if code, _ := r.call("GET", "/v1/status", "", "newer-token", remote); code != 200 {
		t.Errorf("the newest engine's token gets %d, want 200", code)
	}
	if code, _ := r.call("GET", "/v1/status", "", testToken, remote); code != 401 {
		t.Errorf("the older engine's token gets %d while a newer one is registered, want 401", code)
	}
	if got := r.server().Engines(); len(got) != 2 || got[0] != Engine(r.e) || got[1] != Engine(newer) {
		t.Fatalf("engines %v, want the old then the new", got)
	}
	r.servers.Unregister(newer, "127.0.0.1:0")
	if code, _ := r.call("GET", "/v1/status", "", testToken, remote); code != 200 {
		t.Errorf("the remaining engine's token gets %d, want 200", code)
	}
	if code, _ := r.call("GET", "/v1/status", "", "newer-token", remote); code != 401 {
		t.Errorf("the departed engine's token gets %d, want 401", code)
	}
	if got := r.server().Addr().String(); got != addr {
		t.Errorf("listener moved from %s to %s", addr, got)
	}
	r.servers.Unregister(r.e, "127.0.0.1:0")
	if r.servers.Get("127.0.0.1:0") != nil {
		t.Fatal("the server outlived its last engine")
	}
	if c, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/v1/status"); err == nil {
		c.Body.Close()
		t.Fatal("the listener still answers after the last engine left")
	}
}

// TestStatusMerge: two engines serving the same zone (a reload in
// progress) show the newest's view once; a store they share lists its
// overrides once; an override is matched and effective from the zones
// shown; engines not yet loaded add nothing.
func TestStatusMerge(t *testing.T) {
	r := newAdminRig(t, nil)
	old := r.e
	newer := newFakeEngine(old.store, "example.test.")
	newer.backends = newer.backends[:1] // the reload removed two backends
	newer.ready = false
	other := newFakeEngine(ops.NewStore("", r.clock, testLog{t}), "other.test.")
	// Override IDs count per store: make this store's next one differ
	// from the first store's.
	if o, _, err := other.store.Set(adminapi.Override{Action: adminapi.ActionDown, Site: "nowhere"}); err != nil {
		t.Fatal(err)
	} else if _, err := other.store.Delete(o.ID, "test"); err != nil {
		t.Fatal(err)
	}
	unloaded := newFakeEngine(other.store, "late.test.")
	unloaded.loaded = false
	for _, e := range []*fakeEngine{other, newer, unloaded} {
		if err := r.servers.Register(e, &Config{Addr: "127.0.0.1:0", Token: testToken}); err != nil {
			t.Fatal(err)
		}
		defer r.servers.Unregister(e, "127.0.0.1:0")
	}
	if code, body := r.post(`{"action": "drain", "site": "east"}`); code != 200 {
		t.Fatalf("drain: %d %v", code, body)
	} else if m := body["matched"].([]any); len(m) != 4 {
		t.Fatalf("drain matched %v, want each east backend of both zones once", m)
	}
	doc := Status(r.server().Engines(), r.clock.Now())
	if doc.Ready {
		t.Error("ready while the newest engine is not")
	}
	if doc.Checker.LocalTroubleTargets != 3 {
		t.Errorf("checker %+v, want the oldest engine's", doc.Checker)
	}
	var zones []string
	for _, z := range doc.Zones {
		zones = append(zones, z.Zone)
	}
	if !slices.Equal(zones, []string{"example.test.", "other.test."}) {
		t.Fatalf("zones %v", zones)
	}
	if n := len(doc.Zones[0].Services[0].Backends); n != 1 {
		t.Fatalf("example.test. shows %d backends, want the newest engine's one", n)
	}
	// Newest engine first: the late engine's store (shared with other),
	// then the first store.
	want := [][]string{{"api.other.test/10.1.0.1:80", "api.other.test/10.1.0.2:80"}, {"api.example.test/10.1.0.1:80"}}
	if len(doc.Overrides) != len(want) {
		t.Fatalf("overrides %+v, want one per store", doc.Overrides)
	}
	for i, o := range doc.Overrides {
		if !slices.Equal(o.Matched, want[i]) || !o.Effective || o.Unmatched {
			t.Errorf("override %d: %+v, want matched %v, effective", i, o, want[i])
		}
	}
}

func TestAdminTLS(t *testing.T) {
	cert := selfSigned(t)
	r := newAdminRig(t, &Config{Addr: "127.0.0.1:0", Token: testToken, Cert: &cert})
	a := r.server()
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	resp, err := c.Get("https://" + a.Addr().String() + "/v1/status")
	if err != nil {
		t.Fatalf("status over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status over TLS: %s", resp.Status)
	}
	// Plain HTTP to the TLS listener is not served.
	if resp, err := http.Get("http://" + a.Addr().String() + "/v1/status"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served by the TLS listener")
		}
	}
}

// selfSigned makes a certificate for localhost.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	cert, err := tls.X509KeyPair(admintest.KeyPair(t))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
