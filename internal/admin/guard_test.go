package admin

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
	"sync/atomic"
	"testing"
	"time"
)

// TestAdminHostCheck: a browser page that rebinds its own name to
// 127.0.0.1 sends that name as Host; the server refuses it, so the page
// cannot read the API without a token (DNS rebinding).
func TestAdminHostCheck(t *testing.T) {
	r := newAdminRig(t, nil)
	a := r.server()
	a.mu.Lock()
	cfg := *a.cfg
	cfg.Hosts = []string{"hadns.example.net"}
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
	r := newAdminRig(t, nil)
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
	r := newAdminRig(t, nil)
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

// TestAdminRefusesBeforeBody: a request without the token is answered from
// its headers, at once, without waiting for a body that never comes, and
// its connection is closed.
func TestAdminRefusesBeforeBody(t *testing.T) {
	r := newAdminRig(t, nil)
	c, err := net.Dial("tcp", r.server().Addr().String())
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

// TestLimitListener: the listener holds at most its limit of connections
// open; one more is accepted and closed at once (and counted), and a closed
// connection frees its slot, once however often it is closed.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var rejected atomic.Int64
	ln := newLimitListener(inner, 2, func() { rejected.Add(1) })
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}
	take := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no connection accepted")
			return nil
		}
	}
	dial()
	dial()
	first, _ := take(), take()
	excess := dial()
	if n, err := excess.Read(make([]byte, 1)); n != 0 || err == nil || adminIsTimeout(err) {
		t.Fatalf("excess connection: read %d, %v; want it closed", n, err)
	}
	if got := rejected.Load(); got != 1 {
		t.Fatalf("%d connections counted as rejected, want 1", got)
	}
	first.Close()
	first.Close() // a second close must not free a second slot
	dial()
	take()
	excess = dial()
	if n, err := excess.Read(make([]byte, 1)); n != 0 || err == nil || adminIsTimeout(err) {
		t.Fatalf("excess connection after a slot was freed and taken: read %d, %v; want it closed", n, err)
	}
	if got := rejected.Load(); got != 2 {
		t.Fatalf("%d connections counted as rejected, want 2", got)
	}
}

func adminIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
