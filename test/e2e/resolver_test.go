package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"
)

// TestGoResolver queries hadns with Go's own stub resolver (PreferGo, every
// query dialled to our port), over UDP and over TCP.
func TestGoResolver(t *testing.T) {
	t.Parallel()
	s := startMain(t)
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			r := s.resolver(network)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			for name, want := range map[string][]string{
				"api.e2e.test.":    {"127.0.1.1", "127.0.1.2"}, // a service: its healthy east backends
				"static.e2e.test.": {"127.0.0.30", "127.0.0.31"},
				"www.e2e.test.":    {"127.0.1.1", "127.0.1.2"}, // CNAME to the service
				"ns2.e2e.test.":    {"127.0.0.2", "::2"},
			} {
				addrs, err := r.LookupHost(ctx, name)
				if err != nil {
					t.Errorf("LookupHost(%s): %v", name, err)
					continue
				}
				slices.Sort(addrs)
				if !slices.Equal(addrs, want) {
					t.Errorf("LookupHost(%s) = %v, want %v", name, addrs, want)
				}
			}

			_, err := r.LookupHost(ctx, "nope.e2e.test.")
			var de *net.DNSError
			if !errors.As(err, &de) || !de.IsNotFound {
				t.Errorf("LookupHost(nope.e2e.test.): %v, want a not-found error", err)
			}

			// One hop: Go reports the first CNAME's target, not the chain's end.
			if cname, err := r.LookupCNAME(ctx, "www.e2e.test."); err != nil || cname != "api.e2e.test." {
				t.Errorf("LookupCNAME(www.e2e.test.) = %q, %v; want api.e2e.test.", cname, err)
			}

			cname, srvs, err := r.LookupSRV(ctx, "http", "tcp", "api.e2e.test.")
			if err != nil {
				t.Fatalf("LookupSRV: %v", err)
			}
			if cname != "_http._tcp.api.e2e.test." {
				t.Errorf("LookupSRV cname %q, want _http._tcp.api.e2e.test.", cname)
			}
			var got []string
			for _, srv := range srvs {
				got = append(got, fmt.Sprintf("%d %d %s", srv.Priority, srv.Port, srv.Target))
			}
			// Sorted by priority; inside a priority the order is a
			// weighted random choice, so compare that tier as a set.
			if len(got) == 3 {
				slices.Sort(got[:2])
			}
			want := []string{
				fmt.Sprintf("1 %d 127-0-1-1.api.e2e.test.", backendPort),
				fmt.Sprintf("1 %d 127-0-1-2.api.e2e.test.", backendPort),
				fmt.Sprintf("2 %d 127-0-2-1.api.e2e.test.", backendPort),
			}
			if !slices.Equal(got, want) {
				t.Errorf("LookupSRV = %q, want %q", got, want)
			}

			nss, err := r.LookupNS(ctx, "e2e.test.")
			if err != nil {
				t.Fatalf("LookupNS: %v", err)
			}
			var hosts []string
			for _, ns := range nss {
				hosts = append(hosts, ns.Host)
			}
			slices.Sort(hosts)
			if !slices.Equal(hosts, []string{"ns1.e2e.test.", "ns2.e2e.test."}) {
				t.Errorf("LookupNS(e2e.test.) = %v", hosts)
			}

			mxs, err := r.LookupMX(ctx, "e2e.test.")
			if err != nil || len(mxs) != 1 || mxs[0].Host != "mail.e2e.test." || mxs[0].Pref != 10 {
				t.Errorf("LookupMX(e2e.test.) = %v, %v; want 10 mail.e2e.test.", mxs, err)
			}

			txts, err := r.LookupTXT(ctx, "foo.wild.e2e.test.")
			if err != nil || !slices.Equal(txts, []string{"wildcard"}) {
				t.Errorf("LookupTXT(foo.wild.e2e.test.) = %q, %v", txts, err)
			}
		})
	}
}
