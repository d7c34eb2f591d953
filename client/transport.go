package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultRequestAttempts is how many times Transport sends an idempotent request
// at most: the first try and two retries.
const DefaultRequestAttempts = 3

// Transport is an http.RoundTripper that dials service names through a
// Dialer, so requests go to the service's targets in SRV order and fail
// over to the next one on their own.
//
// The URL's host names the service: a host whose first label begins with
// "_" is the SRV name itself (http://_http._tcp.api.example.test/path), and
// Services maps other hosts to SRV names, which keeps the URL's host as the
// Host header and the TLS server name
// (https://api.example.test/ with "api.example.test" →
// "_https._tcp.api.example.test."). Other hosts are dialed as host:port.
//
// An idempotent request whose connection fails before a response arrives
// (refused, reset, EOF) is sent again, on the next target: the address that
// failed is penalized in the Dialer, so the new connection goes elsewhere.
// Idempotent are GET, HEAD, OPTIONS, TRACE, PUT and DELETE, and any request
// with an Idempotency-Key or X-Idempotency-Key header (net/http's
// convention). A request with a body is retried only when its GetBody is
// set (http.NewRequest sets it for bytes, strings and bytes.Reader bodies).
// No request is retried when the dial itself failed: the Dialer has tried
// every target already (or could not resolve the name).
type Transport struct {
	// Dialer resolves service names and connects. Default: a zero Dialer.
	Dialer *Dialer
	// Base carries the requests; a clone of it is used, with its
	// DialContext replaced. Default: http.DefaultTransport's settings
	// without its proxy (a proxy would resolve service names itself).
	Base *http.Transport
	// Services maps URL hosts (without port) to the SRV names to dial.
	Services map[string]string
	// Attempts is the most times one request is sent. Default 3.
	Attempts int

	once     sync.Once
	rt       *http.Transport
	dialer   *Dialer
	services map[string]string
}

func (t *Transport) init() {
	t.dialer = t.Dialer
	if t.dialer == nil {
		t.dialer = &Dialer{}
	}
	if t.Base != nil {
		t.rt = t.Base.Clone()
	} else {
		t.rt = http.DefaultTransport.(*http.Transport).Clone()
		// A proxy would resolve the host itself, which for a service
		// name means failing.
		t.rt.Proxy = nil
	}
	t.rt.DialContext = t.dial
	t.rt.DialTLSContext = nil
	t.services = map[string]string{}
	for h, s := range t.Services {
		t.services[strings.ToLower(h)] = s
	}
}

// dial is the inner transport's DialContext: addr is the URL's host:port.
// Its errors are marked, so RoundTrip does not retry what the Dialer has
// tried already.
func (t *Transport) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, dialFailed{err}
	}
	target := addr
	if srv, ok := t.services[strings.ToLower(host)]; ok {
		target = srv
	} else if strings.HasPrefix(host, "_") {
		target = host
	}
	conn, err := t.dialer.DialContext(ctx, network, target)
	if err != nil {
		return nil, dialFailed{err}
	}
	return conn, nil
}

// dialFailed marks an error of the dial: every target was tried, or the
// name could not be resolved. It reads as the error it wraps.
type dialFailed struct{ err error }

func (d dialFailed) Error() string { return d.err.Error() }
func (d dialFailed) Unwrap() error { return d.err }

// RoundTrip sends req, and sends it again on the next target when it is
// idempotent and its connection failed before a response arrived.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(t.init)
	attempts := t.Attempts
	if attempts <= 0 {
		attempts = DefaultRequestAttempts
	}
	retry := replayable(req)
	var err error
	for i := 0; i < attempts; i++ {
		r := req
		if i > 0 {
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		var remote atomic.Pointer[string]
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			a := info.Conn.RemoteAddr().String()
			remote.Store(&a)
		}}
		r = r.WithContext(httptrace.WithClientTrace(r.Context(), trace))
		var resp *http.Response
		resp, err = t.rt.RoundTrip(r)
		if err == nil {
			return resp, nil
		}
		var df dialFailed
		if !retry || req.Context().Err() != nil || errors.As(err, &df) {
			return nil, err
		}
		if a := remote.Load(); a != nil {
			t.dialer.Penalize(*a)
		}
	}
	return nil, err
}

// CloseIdleConnections closes the idle connections of the inner transport.
func (t *Transport) CloseIdleConnections() {
	t.once.Do(t.init)
	t.rt.CloseIdleConnections()
}

// replayable reports whether req may be sent again: it is idempotent and
// its body, if any, can be read again.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, ok := req.Header["Idempotency-Key"]
	if !ok {
		_, ok = req.Header["X-Idempotency-Key"]
	}
	return ok
}

// rewind returns a copy of req with a fresh body to send again.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	return r, nil
}
