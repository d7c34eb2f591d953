package healthcheck

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.1:80")
	base := Target{Addr: a, Spec: &Spec{Kind: "http", Headers: map[string]string{"b": "2", "a": "1"}}}
	explicit := Target{Addr: a, Spec: &Spec{Kind: "http", Interval: time.Second, Method: "GET", Headers: map[string]string{"a": "1", "b": "2"}}}
	if base.Key() != explicit.Key() {
		t.Fatalf("defaulted keys differ:\n%s\n%s", base.Key(), explicit.Key())
	}
	want := "http://192.0.2.1:80?interval=1s&timeout=800ms&fast_interval=200ms&down_interval=1s&rise=2&fall=2&method=GET&path=%2F&header.a=1&header.b=2&status=200-399"
	if base.Key() != want {
		t.Fatalf("key\n%s\nwant\n%s", base.Key(), want)
	}
	other := base
	spec := *base.Spec
	spec.Path = "/health"
	other.Spec = &spec
	if other.Key() == base.Key() {
		t.Fatal("different paths share a key")
	}
	// The probe port, not the service port, identifies the loop.
	p1 := Target{Addr: netip.MustParseAddrPort("192.0.2.1:80"), Spec: &Spec{Port: 9000}}
	p2 := Target{Addr: netip.MustParseAddrPort("192.0.2.1:443"), Spec: &Spec{Port: 9000}}
	if p1.Key() != p2.Key() {
		t.Fatalf("same probe address, different keys: %s %s", p1.Key(), p2.Key())
	}
	if p1.ProbeAddr().Port() != 9000 {
		t.Fatalf("probe port %d", p1.ProbeAddr().Port())
	}
}

// keyExcluded lists the Spec fields that Target.Key may leave out, each with
// the reason. Every other field must be part of the key: two targets that
// differ in it run different checks, and must never share a probe loop (and
// so a state). Empty today: every field changes what a probe does.
var keyExcluded = map[string]string{}

// TestKeyCoversEverySpecField sets each Spec field in turn to two different
// non-zero, non-default values and checks that each gives a key of its own:
// a field added to Spec but not to Key fails here. A field of a type this
// test has no values for fails too, so that its author looks at Key.
func TestKeyCoversEverySpecField(t *testing.T) {
	base := Target{Addr: netip.MustParseAddrPort("192.0.2.1:80")}
	seen := map[string]string{base.Key(): "the zero Spec"}
	st := reflect.TypeOf(Spec{})
	for i := range st.NumField() {
		f := st.Field(i)
		if reason, ok := keyExcluded[f.Name]; ok {
			t.Logf("%s: not in the key: %s", f.Name, reason)
			continue
		}
		vals := keyTestValues(f.Type)
		if vals == nil {
			t.Errorf("Spec.%s: no test values for type %s; add them to keyTestValues, and the field to Target.Key", f.Name, f.Type)
			continue
		}
		for _, v := range vals {
			tg := base
			tg.Spec = &Spec{}
			reflect.ValueOf(tg.Spec).Elem().Field(i).Set(reflect.ValueOf(v))
			k := tg.Key()
			what := fmt.Sprintf("Spec.%s = %v", f.Name, v)
			if prev, dup := seen[k]; dup {
				t.Errorf("%s gives the same key as %s: %s\n(is Spec.%s part of Target.Key, encoded without ambiguity?)", what, prev, k, f.Name)
				continue
			}
			seen[k] = what
		}
	}
}

// keyTestValues returns two distinct values of type typ, neither zero nor a
// default (Port: neither zero nor the base target's port 80), or one if typ
// has only one non-zero value; nil if it knows no values of typ.
func keyTestValues(typ reflect.Type) []any {
	switch {
	case typ == reflect.TypeOf(time.Duration(0)):
		return []any{7777 * time.Millisecond, 8888 * time.Millisecond}
	case typ == reflect.TypeOf(""):
		return []any{"zz1", "zz2"}
	case typ == reflect.TypeOf(0):
		return []any{7, 9}
	case typ == reflect.TypeOf(false):
		return []any{true}
	case typ == reflect.TypeOf([]string(nil)):
		return []any{[]string{"zz1"}, []string{"zz1", "zz2"}}
	case typ == reflect.TypeOf(map[string]string(nil)):
		return []any{map[string]string{"zz": "1"}, map[string]string{"zz": "2"}}
	}
	return nil
}

// TestKeyHeaderNamesEscaped: a header name is escaped in the key like every
// value, so no header set spells the key of another. Unescaped, the name
// "a=1&header.b" with the value "2" read as two headers, a: 1 and b: 2.
func TestKeyHeaderNamesEscaped(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.1:80")
	one := Target{Addr: a, Spec: &Spec{Kind: "http", Headers: map[string]string{"a=1&header.b": "2"}}}
	two := Target{Addr: a, Spec: &Spec{Kind: "http", Headers: map[string]string{"a": "1", "b": "2"}}}
	if one.Key() == two.Key() {
		t.Fatalf("different headers share the key %s", one.Key())
	}
	// Ordinary names read as before.
	plain := Target{Addr: a, Spec: &Spec{Kind: "http", Headers: map[string]string{"X-Check_1.v~2": "yes"}}}
	if k := plain.Key(); !strings.Contains(k, "&header.X-Check_1.v~2=yes&") {
		t.Fatalf("key %s", k)
	}
}
