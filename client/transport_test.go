package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// dropper accepts connections and closes them at once: a backend that
// dies before it answers. It counts the connections.
type dropper struct {
	net.Listener
	accepted atomic.Int32
}

func startDropper(t *testing.T) *dropper {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dropper{Listener: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			d.accepted.Add(1)
			c.Close()
		}
	}()
	return d
}

// echo answers every request with its method, Host and body.
func startEcho(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.Host+" "+string(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

const serviceURL = "http://_http._tcp.api.test/path"

// nonReplayable is a body http.NewRequest cannot rewind (no GetBody).
type nonReplayable struct{ io.Reader }

// TestTransportRetries: an idempotent request whose connection dies before
// the response is sent again on the next target; others are not.
func TestTransportRetries(t *testing.T) {
	s := startDNS(t)
	drop, echo := startDropper(t), startEcho(t)
	setTargets(s, drop.Addr().String(), echo.Listener.Addr().String())
	r, clock, _ := testResolver(s)

	for _, tc := range []struct {
		name   string
		method string
		body   io.Reader
		header string // header set to "k1", if any
		retry  bool
		want   string // the echo's answer
	}{
		{"GET", http.MethodGet, nil, "", true, "GET _http._tcp.api.test "},
		{"HEAD", http.MethodHead, nil, "", true, ""},
		{"DELETE", http.MethodDelete, nil, "", true, "DELETE _http._tcp.api.test "},
		{"PUT with a replayable body", http.MethodPut, strings.NewReader("put body"), "", true, "PUT _http._tcp.api.test put body"},
		{"POST", http.MethodPost, strings.NewReader("post body"), "", false, ""},
		{"POST with Idempotency-Key", http.MethodPost, strings.NewReader("post body"), "Idempotency-Key", true, "POST _http._tcp.api.test post body"},
		{"POST with X-Idempotency-Key", http.MethodPost, strings.NewReader("post body"), "X-Idempotency-Key", true, "POST _http._tcp.api.test post body"},
		{"PUT with a body that cannot be replayed", http.MethodPut, nonReplayable{strings.NewReader("x")}, "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A Dialer of its own: no penalty left over from other cases.
			d := &Dialer{Resolver: r, Clock: clock}
			tr := &Transport{Dialer: d}
			defer tr.CloseIdleConnections()
			before := drop.accepted.Load()
			req, err := http.NewRequest(tc.method, serviceURL, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set(tc.header, "k1")
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if got := drop.accepted.Load() - before; got != 1 {
				t.Errorf("the dying target got %d connections, want 1 (it comes first)", got)
			}
			if !tc.retry {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("%s: a response; want the connection's error, not a retry", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v; want a retry on the next target", tc.name, err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != tc.want {
				t.Errorf("%s: %d %q, want 200 %q", tc.name, resp.StatusCode, got, tc.want)
			}
			if !d.box.penalized(drop.Addr().String(), clock.Now()) {
				t.Errorf("the dying target is not penalized")
			}
		})
	}
}

// TestTransportAttemptsBound: a request is sent at most Attempts times,
// each time to the next target.
func TestTransportAttemptsBound(t *testing.T) {
	s := startDNS(t)
	d1, d2 := startDropper(t), startDropper(t)
	setTargets(s, d1.Addr().String(), d2.Addr().String())
	r, clock, _ := testResolver(s)
	tr := &Transport{Dialer: &Dialer{Resolver: r, Clock: clock}}
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get(serviceURL)
	if err == nil {
		t.Fatal("a response from targets that close every connection")
	}
	// Attempts 3: d1, then d2 (d1 penalized), then d1 again (both are).
	if a, b := d1.accepted.Load(), d2.accepted.Load(); a != 2 || b != 1 {
		t.Errorf("connections: %d to the first target, %d to the second; want 2 and 1", a, b)
	}
}

// TestTransportNoRetryAfterDialError: when the Dialer tried every target
// and none connected, the request is not sent again.
func TestTransportNoRetryAfterDialError(t *testing.T) {
	s := startDNS(t)
	setTargets(s, deadAddr(t), deadAddr(t))
	r, clock, _ := testResolver(s)
	rec := &recordingDial{}
	tr := &Transport{Dialer: &Dialer{Resolver: r, Clock: clock, DialAddr: rec.dial}}
	_, err := (&http.Client{Transport: tr}).Get(serviceURL)
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("Get: %v; want a DialError", err)
	}
	if tried := rec.take(); len(tried) != 2 {
		t.Errorf("tried %v, want each of the two targets once", tried)
	}
}

// TestTransportServices: Services maps a URL host to an SRV name, and the
// URL's host stays the Host header. Other hosts are dialed as they are.
func TestTransportServices(t *testing.T) {
	s := startDNS(t)
	echo := startEcho(t)
	setTargets(s, echo.Listener.Addr().String())
	r, clock, _ := testResolver(s)
	tr := &Transport{Dialer: &Dialer{Resolver: r, Clock: clock}, Services: map[string]string{"API.test": srvName}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for url, want := range map[string]string{
		"http://api.test/x":  "GET api.test ",
		"http://Api.Test/x":  "GET Api.Test ",
		echo.URL + "/direct": "GET " + echo.Listener.Addr().String() + " ",
	} {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != want {
			t.Errorf("GET %s: %q, want %q", url, got, want)
		}
	}
}

// TestTransportCancelled: a request whose context ends is not retried.
func TestTransportCancelled(t *testing.T) {
	s := startDNS(t)
	drop, echo := startDropper(t), startEcho(t)
	setTargets(s, drop.Addr().String(), echo.Listener.Addr().String())
	r, clock, _ := testResolver(s)
	tr := &Transport{Dialer: &Dialer{Resolver: r, Clock: clock}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, serviceURL, nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("RoundTrip with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestTransportNoRetryAfterLookupError: a name that does not resolve is
// asked once, not once per attempt.
func TestTransportNoRetryAfterLookupError(t *testing.T) {
	s := startDNS(t)
	r, _, _ := testResolver(s)
	r.MaxStale = -1
	s.setServfail(true)
	tr := &Transport{Dialer: &Dialer{Resolver: r}}
	_, err := (&http.Client{Transport: tr}).Get(serviceURL)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Get: %v; want ErrUnreachable", err)
	}
	if n := s.count(srvName, dns.TypeSRV); n != DefaultAttempts {
		t.Errorf("%d queries, want %d (one lookup)", n, DefaultAttempts)
	}
}
