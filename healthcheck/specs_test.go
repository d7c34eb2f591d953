package healthcheck

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestSpecsInternCoversEverySpecField sets each Spec field in turn to two
// different non-zero, non-default values: each must intern to a Spec of its
// own, equal to what was given (defaults filled), and a second, equal Spec
// must intern to the same pointer. A field added to Spec but not to the
// interning key fails here: specs that differ in it would share one check.
// A field of a type keyTestValues has no values for fails too.
func TestSpecsInternCoversEverySpecField(t *testing.T) {
	var ss Specs
	seen := map[*Spec]string{ss.Intern(Spec{}): "the zero Spec"}
	st := reflect.TypeOf(Spec{})
	for i := range st.NumField() {
		f := st.Field(i)
		vals := keyTestValues(f.Type)
		if vals == nil {
			t.Errorf("Spec.%s: no test values for type %s; add them to keyTestValues, and the field to Spec.internKey", f.Name, f.Type)
			continue
		}
		for _, v := range vals {
			var s Spec
			reflect.ValueOf(&s).Elem().Field(i).Set(reflect.ValueOf(v))
			p := ss.Intern(s)
			what := fmt.Sprintf("Spec.%s = %v", f.Name, v)
			if prev, dup := seen[p]; dup {
				t.Errorf("%s interns to the Spec of %s (is Spec.%s part of Spec.internKey?)", what, prev, f.Name)
				continue
			}
			seen[p] = what
			if !reflect.DeepEqual(*p, s.WithDefaults()) {
				t.Errorf("%s interned as %+v, want %+v", what, *p, s.WithDefaults())
			}
			var again Spec
			reflect.ValueOf(&again).Elem().Field(i).Set(reflect.ValueOf(v))
			if q := ss.Intern(again); q != p {
				t.Errorf("%s: an equal Spec interns to another pointer", what)
			}
		}
	}
	if ss.Len() != len(seen) {
		t.Errorf("Len %d, want %d", ss.Len(), len(seen))
	}
}

// TestSpecsInternDefaults: a default spelled out and the same default left
// zero are one check; the interned Spec keeps no reference to the caller's
// headers or status list.
func TestSpecsInternDefaults(t *testing.T) {
	var ss Specs
	headers := map[string]string{"a": "1"}
	status := []string{"200"}
	a := ss.Intern(Spec{Kind: "http", Headers: headers, Status: status})
	b := ss.Intern(Spec{Kind: "HTTP", Interval: time.Second, Method: "GET", Path: "/", Headers: map[string]string{"a": "1"}, Status: []string{"200"}})
	if a != b {
		t.Fatalf("specs equal but for spelled-out defaults intern apart:\n%+v\n%+v", *a, *b)
	}
	headers["a"] = "2"
	status[0] = "500"
	if a.Headers["a"] != "1" || a.Status[0] != "200" {
		t.Fatalf("the caller's map or slice changed the shared Spec: %+v", *a)
	}
	if c := ss.Intern(Spec{Kind: "http", Headers: map[string]string{"a": "2"}, Status: []string{"200"}}); c == a {
		t.Fatal("different headers intern to one Spec")
	}
}

// TestSetSharesSpecs: the checker holds one Spec per distinct check, not a
// copy per target, and none of the caller's.
func TestSetSharesSpecs(t *testing.T) {
	c := New(Options{})
	spec := Spec{Kind: "tcp", Interval: 2 * time.Second}
	var targets []Target
	for i := range 3 {
		s := spec
		targets = append(targets, Target{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), 80), Spec: &s})
	}
	if err := c.Set(targets); err != nil {
		t.Fatal(err)
	}
	var held []*Spec
	for _, tg := range targets {
		st, ok := c.Status(tg.Key())
		if !ok {
			t.Fatalf("%s not checked", tg.Key())
		}
		held = append(held, st.Target.Spec)
	}
	for i, p := range held {
		if p != held[0] {
			t.Errorf("target %d holds its own Spec", i)
		}
		if p == targets[i].Spec {
			t.Errorf("target %d: the checker holds the caller's Spec", i)
		}
	}
}
