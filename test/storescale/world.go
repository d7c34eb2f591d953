package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/store"
)

// origin is the measured zone. Besides the big services it has "probe", a
// service of two backends whose answers show when a change was applied.
const origin = "scale.test."

// world is what is measured: backends (listener addresses) spread over
// services, and overrides on the first of them.
type world struct {
	addrs     []string // backend j: addrs[j], in service j / per
	services  int
	overrides int
	probe     []string // the probe service's two backends
}

func (w *world) per() int { return len(w.addrs) / w.services }

// overridden is the backend of override i: one in every
// len(addrs)/overrides, so the drains are spread over the services.
func (w *world) overridden(i int) string { return w.addrs[i*(len(w.addrs)/w.overrides)] }

func svcName(i int) string { return "svc" + strconv.Itoa(i) }

func siteOf(j int) string { return "s" + strconv.Itoa(j%2) }

// zoneYAML is the zone with the first static backends of each service:
// all of them (files, store zone) or only the first (registrations).
func (w *world) zoneYAML(serial int, staticPer int) string {
	var b strings.Builder
	b.Grow(len(w.addrs) * 64)
	fmt.Fprintf(&b, "origin: %s\nsoa: {mname: ns1.%s, rname: hostmaster.%s, serial: %d}\nns: [ns1]\nrecords: |\n  ns1 A 127.0.0.1\nservices:\n",
		origin, origin, origin, serial)
	// first < 0: every backend in site s0, the queries' own (the probe:
	// both backends in its answers).
	service := func(name string, addrs []string, first int) {
		fmt.Fprintf(&b, "  - name: %s\n    check: {kind: tcp, interval: 5s}\n    backends:\n", name)
		for k, a := range addrs {
			host, port, _ := strings.Cut(a, ":")
			site := "s0"
			if first >= 0 {
				site = siteOf(first + k)
			}
			fmt.Fprintf(&b, "      - {address: %s, port: %s, site: %s}\n", host, port, site)
		}
	}
	for s := range w.services {
		first := s * w.per()
		service(svcName(s), w.addrs[first:first+staticPer], first)
	}
	service("probe", w.probe, -1)
	return b.String()
}

// stateJSON is the local state file holding the overrides (files mode).
func (w *world) stateJSON() (string, error) {
	var st struct {
		Overrides []adminapi.Override `json:"overrides"`
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range w.overrides {
		st.Overrides = append(st.Overrides, adminapi.Override{ID: "o" + strconv.Itoa(i), Action: adminapi.ActionDrain,
			Backend: w.overridden(i), Reason: "scale", By: "storescale", At: at})
	}
	data, err := json.Marshal(st)
	return string(data), err
}

// fill writes the store's content for a mode into an empty etcd prefix,
// in transactions of 128 operations (etcd's default limit).
type filler struct {
	cli *clientv3.Client
	w   *store.Store // for the key functions only
	ops []clientv3.Op
}

func (f *filler) add(ctx context.Context, op clientv3.Op) error {
	f.ops = append(f.ops, op)
	if len(f.ops) == 128 {
		return f.flush(ctx)
	}
	return nil
}

func (f *filler) flush(ctx context.Context) error {
	if len(f.ops) == 0 {
		return nil
	}
	_, err := f.cli.Txn(ctx).Then(f.ops...).Commit()
	f.ops = f.ops[:0]
	return err
}

func overrideValue(addr, reason string) string {
	o := store.Override{Action: adminapi.ActionDrain, Selector: store.Selector{Backend: addr}, Reason: reason, By: "storescale",
		Created: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	data, _ := json.Marshal(o)
	return string(data)
}

func registrationValue(addr, site string, weight uint16) string {
	host, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	data, _ := json.Marshal(store.Registration{Address: host, Port: uint16(p), Site: site, Weight: &weight})
	return string(data)
}

// overrideID is the plugin's key name of a backend selector's override.
func overrideID(addr string) string { return "backend=" + addr }

// fillStore writes the zone, the overrides and (registrations mode) every
// backend but each service's first as a registration.
func (w *world) fillStore(ctx context.Context, f *filler, registrations bool) error {
	staticPer := w.per()
	if registrations {
		staticPer = 1
	}
	if _, err := f.cli.Put(ctx, f.w.ZoneKey(origin), w.zoneYAML(1, staticPer)); err != nil {
		return err
	}
	for i := range w.overrides {
		a := w.overridden(i)
		if err := f.add(ctx, clientv3.OpPut(f.w.OverrideKey(overrideID(a)), overrideValue(a, "scale"))); err != nil {
			return err
		}
	}
	if registrations {
		for j, a := range w.addrs {
			if j%w.per() == 0 {
				continue
			}
			svc := svcName(j/w.per()) + "." + origin
			if err := f.add(ctx, clientv3.OpPut(f.w.RegistrationKey(svc, a), registrationValue(a, siteOf(j), 1))); err != nil {
				return err
			}
		}
	}
	return f.flush(ctx)
}
