package main

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestDemoRefusesSource: with -refuse-from, checks from that source get a
// 503 and checks from any other source a 200.
func TestDemoRefusesSource(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var refuse refuseFrom
	if err := refuse.Set("127.0.0.9"); err != nil {
		t.Fatal(err)
	}
	if err := refuse.Set("not-an-address"); err == nil {
		t.Fatal("a bad -refuse-from was accepted")
	}
	d := &demoSet{servers: map[string]*http.Server{}, out: io.Discard, refuse: refuse}
	if err := d.start(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stopAll)
	get := func(src string) int {
		t.Helper()
		cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext}}
		resp, err := cl.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("healthz from %s: %v", src, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("127.0.0.9"); code != http.StatusServiceUnavailable {
		t.Errorf("from the refused source: %d, want 503", code)
	}
	if code := get("127.0.0.10"); code != http.StatusOK {
		t.Errorf("from another source: %d, want 200", code)
	}
}
