package ops

import (
	"testing"
	"time"
)

// The drain tracker forgets a backend no engine has any more once no cache
// can hold it, and keeps the others.
func TestDrainsPrune(t *testing.T) {
	start := time.Unix(1000, 0)
	d := NewDrains(start)
	d.until["svc/gone:80"] = start.Add(10 * time.Second)
	d.until["svc/kept:80"] = start.Add(10 * time.Second)
	live := map[string]bool{"svc/kept:80": true}
	d.Prune(start.Add(5*time.Second), live)
	if _, ok := d.until["svc/gone:80"]; !ok {
		t.Fatal("a removed backend was forgotten while caches may still hold it")
	}
	d.Prune(start.Add(10*time.Second), live)
	if _, ok := d.until["svc/gone:80"]; ok {
		t.Fatal("a removed backend's entry outlived its TTL")
	}
	if _, ok := d.until["svc/kept:80"]; !ok {
		t.Fatal("a live backend's entry was pruned")
	}
}
