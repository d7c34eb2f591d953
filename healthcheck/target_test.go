package healthcheck

import (
	"net/netip"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.1:80")
	base := Target{Addr: a, Spec: Spec{Kind: "http", Headers: map[string]string{"b": "2", "a": "1"}}}
	explicit := Target{Addr: a, Spec: Spec{Kind: "http", Interval: time.Second, Method: "GET", Headers: map[string]string{"a": "1", "b": "2"}}}
	if base.Key() != explicit.Key() {
		t.Fatalf("defaulted keys differ:\n%s\n%s", base.Key(), explicit.Key())
	}
	want := "http://192.0.2.1:80?interval=1s&timeout=800ms&fast_interval=200ms&down_interval=1s&rise=2&fall=2&method=GET&path=%2F&header.a=1&header.b=2&status=200-399"
	if base.Key() != want {
		t.Fatalf("key\n%s\nwant\n%s", base.Key(), want)
	}
	other := base
	other.Spec.Path = "/health"
	if other.Key() == base.Key() {
		t.Fatal("different paths share a key")
	}
	// The probe port, not the service port, identifies the loop.
	p1 := Target{Addr: netip.MustParseAddrPort("192.0.2.1:80"), Spec: Spec{Port: 9000}}
	p2 := Target{Addr: netip.MustParseAddrPort("192.0.2.1:443"), Spec: Spec{Port: 9000}}
	if p1.Key() != p2.Key() {
		t.Fatalf("same probe address, different keys: %s %s", p1.Key(), p2.Key())
	}
	if p1.ProbeAddr().Port() != 9000 {
		t.Fatalf("probe port %d", p1.ProbeAddr().Port())
	}
}
