package main

import (
	"slices"
	"testing"

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
