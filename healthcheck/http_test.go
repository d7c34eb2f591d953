package healthcheck

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "status: healthy, version 1.2.3")
	})
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "draining", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/204", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/503", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select { // until the prober gives up, bounded
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("X-Method", "HEAD")
		}
		fmt.Fprintf(w, "host=%s token=%s method=%s", r.Host, r.Header.Get("X-Token"), r.Method)
	})
	return mux
}

func TestHTTPProbe(t *testing.T) {
	srv := httptest.NewServer(healthHandler())
	defer srv.Close()
	addr := addrOf(t, srv.Listener.Addr())
	http := func(s Spec) Target { s.Kind = "http"; return Target{Addr: addr, Spec: new(s)} }
	tests := []struct {
		name    string
		tg      Target
		timeout time.Duration
		want    string
	}{
		{"200", http(Spec{Path: "/ok"}), time.Second, ""},
		{"503", http(Spec{Path: "/503"}), time.Second, "http: status 503"},
		{"503 accepted when listed", http(Spec{Path: "/503", Status: []string{"200", "500-599"}}), time.Second, ""},
		{"404 on the default path", http(Spec{}), time.Second, "http: status 404"},
		{"204 outside the list", http(Spec{Path: "/204", Status: []string{"200"}}), time.Second, "http: status 204"},
		{"redirect not followed", http(Spec{Path: "/redirect"}), time.Second, ""},
		{"slow beyond timeout", http(Spec{Path: "/slow"}), 300 * time.Millisecond, "http: timeout"},
		{"body substring", http(Spec{Path: "/ok", Body: "healthy"}), time.Second, ""},
		{"body mismatch", http(Spec{Path: "/ok", Body: "ready"}), time.Second, `http: body does not contain "ready"`},
		{"body regexp", http(Spec{Path: "/ok", BodyRegexp: `version 1\.\d+`}), time.Second, ""},
		{"body regexp mismatch", http(Spec{Path: "/ok", BodyRegexp: `^version`}), time.Second, `http: body does not match "^version"`},
		{"host and headers", http(Spec{Path: "/echo", Host: "api.example", Headers: map[string]string{"X-Token": "s3"}, Body: "host=api.example token=s3 method=GET"}), time.Second, ""},
		{"head", http(Spec{Path: "/echo", Method: "HEAD"}), time.Second, ""},
		{"refused", Target{Addr: boundSocket(t), Spec: &Spec{Kind: "http"}}, time.Second, "connect: connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			wantErr(t, probe(t, tc.tg, tc.timeout), tc.want)
			if el := time.Since(start); el > tc.timeout+500*time.Millisecond {
				t.Fatalf("probe took %v, timeout %v", el, tc.timeout)
			}
		})
	}
}

func TestHTTPFreshConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(healthHandler())
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tg := Target{Addr: addrOf(t, srv.Listener.Addr()), Spec: new(Spec{Kind: "http", Path: "/ok"}.WithDefaults())}
	p, err := HTTPProber{}.bind(tg)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := p.Check(t.Context(), tg); err != nil {
			t.Fatal(err)
		}
	}
	srv.Close() // waits for the connections, so conns is settled
	if n := conns.Load(); n != 3 {
		t.Fatalf("3 probes used %d connections", n)
	}
}

func TestHTTPSProbe(t *testing.T) {
	srv := httptest.NewUnstartedServer(healthHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the bad-certificate cases are expected
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	der := srv.TLS.Certificates[0].Certificate[0]
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := addrOf(t, srv.Listener.Addr())
	now := time.Now()
	expired, expiredCA := selfSigned(t, now.Add(-2*time.Hour), now.Add(-time.Hour))
	esrv := httptest.NewUnstartedServer(healthHandler())
	esrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	esrv.TLS = &tls.Config{Certificates: []tls.Certificate{expired}}
	esrv.StartTLS()
	defer esrv.Close()

	https := func(a Target, s Spec) Target { s.Kind = "https"; s.Path = "/ok"; a.Spec = &s; return a }
	tests := []struct {
		name string
		tg   Target
		want string
	}{
		{"verified with ca file", https(Target{Addr: addr}, Spec{CAFile: ca}), ""},
		{"sni from host", https(Target{Addr: addr}, Spec{CAFile: ca, Host: "example.com"}), ""},
		{"bad certificate", https(Target{Addr: addr}, Spec{}), "tls: certificate signed by unknown authority"},
		{"expired certificate", https(Target{Addr: addrOf(t, esrv.Listener.Addr())}, Spec{CAFile: expiredCA}), "tls: certificate expired"},
		{"insecure", https(Target{Addr: addr}, Spec{Insecure: true}), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, probe(t, tc.tg, 2*time.Second), tc.want)
		})
	}
}
