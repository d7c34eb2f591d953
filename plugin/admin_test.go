package hadns

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hadns/hadns/internal/admin"
	"github.com/hadns/hadns/internal/admin/admintest"
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/ops"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

const testToken = "s3cret"

// adminRig is a healthRig with the admin API on a free loopback port and a
// state file.
type adminRig struct {
	*healthRig
	state string
}

func newAdminRig(t *testing.T, state string) *adminRig {
	t.Helper()
	if state == "" {
		state = filepath.Join(t.TempDir(), "state.json")
	}
	r := newHealthRigWith(t, func(c *config) {
		c.admin = &admin.Config{Addr: "127.0.0.1:0", Token: testToken}
		c.state = state
	})
	r.until("ready", r.h.Ready)
	return &adminRig{healthRig: r, state: state}
}

func (r *adminRig) server() *admin.Server {
	r.t.Helper()
	a := r.pool.ops.admins.Get("127.0.0.1:0")
	if a == nil {
		r.t.Fatal("no admin server")
	}
	return a
}

// statusOf is the status document of the admin server that serves e alone.
func statusOf(e *engine, now time.Time) adminapi.Status {
	return admin.Status([]admin.Engine{adminView{e}}, now)
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

func (r *adminRig) eastA() []string {
	return zonetest.AddrsOf(r.ask("10.1.9.9", "api.example.test.", dns.TypeA, "").Answer)
}

// backendStatus returns the status of backend id of api.example.test.
func (r *adminRig) backendStatus(id string) adminapi.BackendStatus {
	r.t.Helper()
	doc := statusOf(r.e, r.clock.Now())
	for _, z := range doc.Zones {
		for _, s := range z.Services {
			for _, b := range s.Backends {
				if b.ID == id {
					return b
				}
			}
		}
	}
	r.t.Fatalf("no backend %s in the status", id)
	return adminapi.BackendStatus{}
}

func TestAdminBadInput(t *testing.T) {
	r := newAdminRig(t, "")
	tests := []struct {
		body  string
		code  int
		field string // the error names it
	}{
		{`{"action": "drain", "backend": "10.1.0.1"`, 400, "body"},
		{`{"action": "drain", "backend": "10.1.0.1", "colour": "red"}`, 400, `unknown field "colour"`},
		{`{"backend": "10.1.0.1"}`, 400, "action"},
		{`{"action": "nap", "backend": "10.1.0.1"}`, 400, "action"},
		{`{"action": "drain"}`, 400, "backend"},
		{`{"action": "drain", "backend": "10.1.0.1", "site": "east"}`, 400, "exactly one"},
		{`{"action": "drain", "glob": "[10"}`, 400, "glob"},
		{`{"action": "drain", "backend": "10.1.0.1", "expires": "soon"}`, 400, "expires"},
		{`{"action": "drain", "backend": "10.1.0.1", "expires": "-5m"}`, 400, "expires"},
		{`{"action": "drain", "backend": "10.1.0.1", "expires": "2001-01-01T00:00:00Z"}`, 400, "in the past"},
		{`{"action": "clear", "backend": "10.1.0.1", "expires": "5m"}`, 400, "expires"},
		{`{"action": "drain", "backend": "10.9.9.9"}`, 404, "backend 10.9.9.9 matches no backend"},
		{`{"action": "down", "site": "mars"}`, 404, "site mars"},
		{`{"action": "up", "glob": "api.*/192.*"}`, 404, "glob"},
		{`{"action": "clear", "backend": "10.1.0.1"}`, 404, "no override on backend 10.1.0.1"},
		{`{"action": "undrain", "site": "east"}`, 404, "no drain override"},
		{`{"action": "drain", "backend": "10.1.0.1"} {"action": "up"}`, 400, "trailing data"},
		{`{"action": "drain", "backend": "10.1.0.1"}x`, 400, "trailing data"},
		{`{"action": "up", "backend": "10.1.0.1", "action": "drain"}`, 400, `key "action" given twice`},
		{`{"action": "drain", "backend": "10.1.0.1", "Backend": "10.1.0.2"}`, 400, `key "Backend" given twice`},
		{`{"action": "drain", "backend": "10.1.0.1", "by": "alice\n[INFO] plugin/hadns: forged"}`, 400, "by: control character '\\n' at byte 5"},
		{`{"action": "drain", "backend": "10.1.0.1", "reason": "a\u001b[2Jb"}`, 400, "reason: control character"},
	}
	for _, tc := range tests {
		code, body := r.post(tc.body)
		msg, _ := body["error"].(string)
		if code != tc.code || !strings.Contains(msg, tc.field) {
			t.Errorf("%s: %d %q, want %d naming %q", tc.body, code, msg, tc.code, tc.field)
		}
	}
	if code, body := r.call("DELETE", "/v1/overrides/42", "", testToken, "127.0.0.1:1"); code != 404 {
		t.Errorf("delete unknown id: %d %v", code, body)
	}
	if code, body := r.call("PUT", "/v1/status", "", "", "127.0.0.1:1"); code != 405 || !strings.Contains(body["error"].(string), "allowed: GET") {
		t.Errorf("wrong method: %d %v", code, body)
	}
	if code, body := r.call("GET", "/v2/nothing", "", "", "127.0.0.1:1"); code != 404 || !strings.Contains(body["error"].(string), "no route") {
		t.Errorf("unknown route: %d %v", code, body)
	}
	if len(r.e.store.All()) != 0 {
		t.Fatalf("bad requests left overrides: %v", r.e.store.All())
	}
}

func TestAdminDrainAndClear(t *testing.T) {
	r := newAdminRig(t, "")
	if got := r.eastA(); !slices.Equal(got, []string{"10.1.0.1", "10.1.0.2"}) {
		t.Fatalf("east before %v", got)
	}
	drainedAt := r.clock.Now()
	code, body := r.post(`{"action": "drain", "backend": "10.1.0.1:80", "reason": "disk swap", "by": "alice"}`)
	if code != 200 {
		t.Fatalf("drain: %d %v", code, body)
	}
	if m := body["matched"].([]any); len(m) != 1 || m[0] != "api.example.test/10.1.0.1:80" {
		t.Fatalf("matched %v", m)
	}
	// Out of every answer at once (east tops up from west: min_healthy 2).
	if got := r.eastA(); slices.Contains(got, "10.1.0.1") {
		t.Fatalf("drained backend still in %v", got)
	}
	if got := srvTargets(r.ask("10.2.9.9", "_http._tcp.api.example.test.", dns.TypeSRV, "")); slices.Contains(got, "10-1-0-1") {
		t.Fatalf("drained backend still in SRV %v", got)
	}
	// It left the answers at drainedAt, which went out with TTL 20.
	b := r.backendStatus("10.1.0.1:80")
	if b.State != "drained" || b.Checker != "up" || b.Override == nil || b.Override.By != "alice" || b.InAnswers || b.DrainPending {
		t.Fatalf("status %+v", b)
	}
	if b.DrainSafeAt == nil || !b.DrainSafeAt.Equal(drainedAt.Add(20*time.Second)) {
		t.Fatalf("drain_safe_at %v, want %v", b.DrainSafeAt, drainedAt.Add(20*time.Second))
	}

	// Force the whole east site down but keep 10.1.0.2 up: the backend's
	// own override wins.
	if code, body := r.post(`{"action": "down", "site": "east"}`); code != 200 {
		t.Fatalf("down: %d %v", code, body)
	}
	if code, body := r.post(`{"action": "up", "backend": "10.1.0.2"}`); code != 200 {
		t.Fatalf("up: %d %v", code, body)
	}
	if got := r.eastA(); !slices.Contains(got, "10.1.0.2") || slices.Contains(got, "10.1.0.1") {
		t.Fatalf("east with site down, 10.1.0.2 up, 10.1.0.1 drained: %v", got)
	}
	code, body = r.call("GET", "/v1/overrides", "", "", "127.0.0.1:1")
	if list := body["overrides"].([]any); code != 200 || len(list) != 3 {
		t.Fatalf("overrides: %d %v", code, body)
	}

	// undrain clears only the drain; clear the rest; DELETE by id.
	if code, body := r.post(`{"action": "undrain", "backend": "10.1.0.1:80"}`); code != 200 {
		t.Fatalf("undrain: %d %v", code, body)
	}
	if code, body := r.post(`{"action": "clear", "site": "east"}`); code != 200 {
		t.Fatalf("clear: %d %v", code, body)
	}
	id := r.e.store.All()[0].ID
	if code, body := r.call("DELETE", "/v1/overrides/"+id, "", testToken, "127.0.0.1:1"); code != 200 {
		t.Fatalf("delete: %d %v", code, body)
	}
	if got := r.eastA(); !slices.Equal(got, []string{"10.1.0.1", "10.1.0.2"}) {
		t.Fatalf("east after clearing %v", got)
	}
	if st, err := ops.LoadState(r.state); err != nil || len(st) != 0 {
		t.Fatalf("state file after clearing: %v %v", st, err)
	}
}

func TestOverrideExpires(t *testing.T) {
	r := newAdminRig(t, "")
	if code, body := r.post(`{"action": "down", "backend": "10.1.0.1", "expires": "10s"}`); code != 200 {
		t.Fatalf("down: %d %v", code, body)
	}
	if slices.Contains(r.eastA(), "10.1.0.1") {
		t.Fatal("forced down backend in the answer")
	}
	r.n++ // the expiry timer is armed beside the probe loops
	start := r.clock.Now()
	r.until("expired", func() bool { return slices.Contains(r.eastA(), "10.1.0.1") })
	if took := r.clock.Now().Sub(start); took < 9*time.Second || took > 11*time.Second {
		t.Fatalf("expired after %v of fake time, want 10s", took)
	}
	if len(r.e.store.All()) != 0 {
		t.Fatalf("expired override kept: %v", r.e.store.All())
	}
}

func TestOverridesSurviveRestart(t *testing.T) {
	r := newAdminRig(t, "")
	if code, body := r.post(`{"action": "drain", "site": "east", "reason": "maintenance"}`); code != 200 {
		t.Fatalf("drain: %d %v", code, body)
	}
	r.e.stop()
	// A new process: new pool, new store, the same state file.
	r2 := newAdminRig(t, r.state)
	if got := r2.eastA(); slices.Contains(got, "10.1.0.1") || slices.Contains(got, "10.1.0.2") {
		t.Fatalf("after a restart east is not drained: %v", got)
	}
	if b := r2.backendStatus("10.1.0.2:80"); b.Override == nil || b.Override.Reason != "maintenance" {
		t.Fatalf("status after restart %+v", b)
	}
}

func TestOverridesSurviveReloads(t *testing.T) {
	r := newAdminRig(t, "")
	addr := r.server().Addr().String()
	get := func() *http.Response {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/v1/overrides")
		if err != nil {
			t.Fatalf("admin API after reload: %v", err)
		}
		return resp
	}
	if code, body := r.post(`{"action": "drain", "backend": "10.1.0.1"}`); code != 200 {
		t.Fatalf("drain: %d %v", code, body)
	}
	for range 3 {
		r.reloadCorefile()
		if got := r.eastA(); slices.Contains(got, "10.1.0.1") {
			t.Fatalf("after a Corefile reload the drained backend is back: %v", got)
		}
		get().Body.Close()
	}
	// The admin server serves the new engine only, on the same listener.
	if a := r.server(); len(a.Engines()) != 1 || a.Engines()[0] != (adminView{r.e}) || a.Addr().String() != addr {
		t.Fatalf("admin server after reloads: %d engines, addr %s", len(a.Engines()), a.Addr())
	}
	// A change after the reload reaches the new engine.
	if code, body := r.post(`{"action": "down", "backend": "10.1.0.2"}`); code != 200 {
		t.Fatalf("down: %d %v", code, body)
	}
	if got := r.eastA(); slices.Contains(got, "10.1.0.2") {
		t.Fatalf("forced down after reload still served: %v", got)
	}

	// A zone reload that drops the backend keeps the override, unmatched;
	// when the backend returns, it holds again.
	zone := r.cfg.files[0]
	orig, _ := os.ReadFile(zone)
	os.WriteFile(zone, bytes.Replace(orig, []byte("      - {address: 10.1.0.1, site: east}\n"), nil, 1), 0o644)
	if !settleReload(r.e) {
		t.Fatal("zone reload failed")
	}
	resp := get()
	var doc struct{ Overrides []adminapi.OverrideStatus }
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	json.Unmarshal(data, &doc)
	if len(doc.Overrides) != 2 || !doc.Overrides[0].Unmatched || doc.Overrides[1].Unmatched {
		t.Fatalf("overrides after the zone lost 10.1.0.1: %s", data)
	}
	os.WriteFile(zone, orig, 0o644)
	if !settleReload(r.e) {
		t.Fatal("zone reload failed")
	}
	if got := r.eastA(); slices.Contains(got, "10.1.0.1") {
		t.Fatalf("backend back in the zone but its drain is lost: %v", got)
	}
}

// TestAdminConnectionLimit: the admin server holds at most admin.MaxConns
// connections; one more is closed at once and counted in the metric, and a
// freed slot serves again.
func TestAdminConnectionLimit(t *testing.T) {
	r := newAdminRig(t, "")
	addr := r.server().Addr().String()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// Each held connection sends a partial request, so it is surely
	// accepted and served (waiting for the rest of its headers).
	for range admin.MaxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if _, err := io.WriteString(c, "GET /v1/status HTTP/1.1\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	before := adminCounterValue(t, adminRejectedConns)
	// The excess connection is accepted and closed.
	deadline := time.Now().Add(5 * time.Second)
	excess, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = excess.SetDeadline(deadline)
	io.WriteString(excess, "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	if n, err := excess.Read(make([]byte, 1)); n != 0 || err == nil || adminIsTimeout(err) {
		t.Fatalf("excess connection: read %d, %v; want it closed", n, err)
	}
	excess.Close()
	if got := adminCounterValue(t, adminRejectedConns); got != before+1 {
		t.Errorf("admin_rejected_connections_total went from %v to %v, want +1", before, got)
	}

	// Free one slot: a new client is served.
	held[0].Close()
	held = held[1:]
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/v1/status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			break
		}
		// The slot is freed when the server sees the close: retry until
		// the deadline.
		if time.Now().After(deadline) {
			t.Fatalf("no slot freed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func adminIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// adminCounterValue reads a counter's current value.
func adminCounterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
