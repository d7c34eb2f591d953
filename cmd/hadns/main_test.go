package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
)

func TestDirectiveBeforeCache(t *testing.T) {
	d := dnsserver.Directives
	h, c := slices.Index(d, "hadns"), slices.Index(d, "cache")
	if h < 0 || c < 0 {
		t.Fatalf("hadns at %d, cache at %d: both must be registered", h, c)
	}
	if h != c-1 {
		t.Fatalf("hadns at %d, cache at %d: hadns must come right before cache", h, c)
	}
	if slices.Index(d, "prometheus") > h || slices.Index(d, "log") > h {
		t.Fatal("log and prometheus must still wrap hadns")
	}
}

func TestDemoStopsAndStarts(t *testing.T) {
	in, w := io.Pipe()
	// Read only after demo returned: the channel orders its writes first.
	var out strings.Builder
	done := make(chan error, 1)
	go func() { done <- demo([]string{"127.0.0.1:0"}, in, &out) }()
	// Port 0 cannot be stopped by name; exercise the command parser instead.
	fmt.Fprintln(w, "stop 127.0.0.1:1")
	fmt.Fprintln(w, "quit")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not quit")
	}
	if s := out.String(); !strings.Contains(s, "backend 127.0.0.1:0 up") || !strings.Contains(s, "127.0.0.1:1 is not running") {
		t.Fatalf("demo output:\n%s", s)
	}
}

func TestDemoBackendServesHealth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := &demoSet{servers: map[string]*http.Server{}, out: io.Discard}
	if err := d.start(addr); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	d.command("stop " + addr)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("a stopped backend still accepts connections")
	}
}
