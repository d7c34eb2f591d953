package hadns

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestAdminHostCheck: a browser page that rebinds its own name to
// 127.0.0.1 sends that name as Host; the server refuses it, so the page
// cannot read the API without a token (DNS rebinding).
func TestAdminHostCheck(t *testing.T) {
	r := newAdminRig(t, "")
	a := r.server()
	a.mu.Lock()
	cfg := *a.cfg
	cfg.hosts = []string{"hadns.example.net"}
	a.cfg = &cfg
	a.mu.Unlock()
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:8053", 200},
		{"127.0.0.1", 200},
		{"[::1]:8053", 200},
		{"localhost:9000", 200}, // through a tunnel: the port may differ
		{"LOCALHOST.", 200},
		{"192.0.2.10:8053", 200}, // an address literal cannot be rebound
		{"hadns.example.net:8053", 200},
		{"Hadns.Example.Net.", 200},
		{"attacker.example:8053", 421},
		{"localhost.attacker.example", 421},
		{"", 421},
	}
	for _, tc := range tests {
		for _, path := range []string{"/v1/status", "/"} {
			req := httptest.NewRequest("GET", path, nil)
			req.RemoteAddr = "127.0.0.1:5000"
			req.Host = tc.host
			rec := httptest.NewRecorder()
			a.routes().ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("GET %s Host %q: %d, want %d: %s", path, tc.host, rec.Code, tc.want, rec.Body)
			}
			if tc.want == 421 && !strings.Contains(rec.Body.String(), "admin_hosts") {
				t.Errorf("Host %q: the refusal does not say how to allow a name: %s", tc.host, rec.Body)
			}
		}
	}
}

// TestAdminStatusCached: pollers share one status document a second;
// an override set through the API shows at once.
func TestAdminStatusCached(t *testing.T) {
	r := newAdminRig(t, "")
	a := r.server()
	get := func() []byte {
		req := httptest.NewRequest("GET", "/v1/status", nil)
		req.RemoteAddr, req.Host = "127.0.0.1:5000", "127.0.0.1"
		rec := httptest.NewRecorder()
		a.routes().ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status: %d %s", rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	first := get()
	built := a.status
	if again := get(); !bytes.Equal(first, again) || a.status != built {
		t.Fatal("a second request within statusMaxAge built the document again")
	}
	if code, body := r.post(`{"action": "drain", "backend": "10.1.0.1"}`); code != 200 {
		t.Fatalf("drain: %d %v", code, body)
	}
	if after := get(); !bytes.Contains(after, []byte(`"state":"drained"`)) {
		t.Fatalf("the drain set through the API is not in the next status: %s", after)
	}
	built = a.status
	r.clock.Advance(statusMaxAge)
	get()
	if a.status == built {
		t.Fatal("a document older than statusMaxAge was served")
	}

	// A document that took long to build (a huge zone) is kept for
	// statusCostFactor times its cost, so builds cannot take a core.
	built = a.status
	built.cost = 2 * time.Second
	r.clock.Advance(statusCostFactor*built.cost - time.Millisecond)
	get()
	if a.status != built {
		t.Fatal("a costly document was rebuilt before statusCostFactor times its cost")
	}
	r.clock.Advance(time.Millisecond)
	get()
	if a.status == built {
		t.Fatal("a costly document was kept past statusCostFactor times its cost")
	}
}

// TestAdminStatusGzip: a client that accepts gzip gets the status
// compressed (the same document); one that refuses it gets it plain.
func TestAdminStatusGzip(t *testing.T) {
	r := newAdminRig(t, "")
	a := r.server()
	get := func(accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/v1/status", nil)
		req.RemoteAddr, req.Host = "127.0.0.1:5000", "127.0.0.1"
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		rec := httptest.NewRecorder()
		a.routes().ServeHTTP(rec, req)
		return rec
	}
	plain := get("")
	if plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("compressed without Accept-Encoding: %v", plain.Header())
	}
	for _, accept := range []string{"gzip", "deflate, gzip;q=1.0, br", "GZIP"} {
		rec := get(accept)
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("Accept-Encoding %q: not compressed: %v", accept, rec.Header())
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, plain.Body.Bytes()) {
			t.Fatalf("Accept-Encoding %q: the compressed document differs (%v)", accept, err)
		}
	}
	if rec := get("gzip;q=0, identity"); rec.Header().Get("Content-Encoding") != "" {
		t.Fatalf("gzip;q=0: compressed anyway")
	}
}

// adminAddr is the real address of the rig's admin listener.
func adminAddr(t *testing.T, r *adminRig) string {
	t.Helper()
	return r.server().ln.Addr().String()
}

// TestAdminRefusesBeforeBody: a request without the token is answered from
// its headers, at once, without waiting for a body that never comes, and
// its connection is closed.
func TestAdminRefusesBeforeBody(t *testing.T) {
	r := newAdminRig(t, "")
	c, err := net.Dial("tcp", adminAddr(t, r))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	// Headers only: the promised body is never sent.
	if _, err := io.WriteString(c, "POST /v1/overrides HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no reply before the body: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("connection after the refusal: %v, want it closed (EOF)", err)
	}
}

// TestAdminConnectionLimit: the admin server holds at most adminMaxConns
// connections; one more is closed at once, and a freed slot serves again.
func TestAdminConnectionLimit(t *testing.T) {
	r := newAdminRig(t, "")
	addr := adminAddr(t, r)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// Each held connection sends a partial request, so it is surely
	// accepted and served (waiting for the rest of its headers).
	for range adminMaxConns {
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
