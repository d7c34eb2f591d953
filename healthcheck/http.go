package healthcheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
)

// HTTPProber is kinds http and https: a request on a fresh connection (no
// keep-alive: a reused connection would hide a backend that no longer
// accepts), judged by status code and optionally by body. Redirects are not
// followed.
type HTTPProber struct{}

// Check sends one request to t. Use it through a Checker, which binds the
// parsed spec and transport once per target; called directly it builds them
// each time.
func (HTTPProber) Check(ctx context.Context, t Target) error {
	p, err := HTTPProber{}.bind(t)
	if err != nil {
		return err
	}
	return p.Check(ctx, t)
}

func (HTTPProber) bind(t Target) (Prober, error) {
	s := t.spec().WithDefaults()
	status, err := parseStatus(s.Status)
	if err != nil {
		return nil, probeErr("http", err)
	}
	h := &httpCheck{status: status, method: s.Method, host: s.Host, body: s.Body}
	if s.BodyRegexp != "" {
		if h.bodyRE, err = regexp.Compile(s.BodyRegexp); err != nil {
			return nil, probeErr("http", fmt.Errorf("body_regexp: %w", err))
		}
	}
	h.header = make(http.Header, len(s.Headers)+1)
	h.header.Set("User-Agent", "hadns-healthcheck")
	for k, v := range s.Headers {
		if strings.EqualFold(k, "Host") {
			if h.host == "" {
				h.host = v
			}
			continue
		}
		h.header.Set(k, v)
	}
	scheme := "http"
	tr := &http.Transport{
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: bodyLimit,
		// Every request goes to the probe address, whatever the Host.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialTCP(ctx, t)
		},
	}
	if s.Kind == "https" {
		scheme = "https"
		cfg, err := tlsConfig(t)
		if err != nil {
			return nil, err
		}
		tr.DialTLSContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialTLS(ctx, t, cfg)
		}
	}
	h.url = scheme + "://" + t.ProbeAddr().String() + s.Path
	h.client = &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return h, nil
}

type httpCheck struct {
	client *http.Client
	url    string
	method string
	host   string
	header http.Header
	status statusSet
	body   string
	bodyRE *regexp.Regexp
}

func (h *httpCheck) Check(ctx context.Context, _ Target) error {
	req, err := http.NewRequestWithContext(ctx, h.method, h.url, nil)
	if err != nil {
		return probeErr("http", err)
	}
	req.Header = h.header.Clone()
	if h.host != "" {
		req.Host = h.host
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return probeErr("http", err)
	}
	defer resp.Body.Close()
	if !h.status.has(resp.StatusCode) {
		return &ProbeError{Op: "http", Err: fmt.Errorf("status %d", resp.StatusCode)}
	}
	if h.body == "" && h.bodyRE == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	if err != nil {
		return probeErr("http", fmt.Errorf("reading body: %w", err))
	}
	if h.body != "" && !bytes.Contains(body, []byte(h.body)) {
		return &ProbeError{Op: "http", Err: fmt.Errorf("body does not contain %q", h.body)}
	}
	if h.bodyRE != nil && !h.bodyRE.Match(body) {
		return &ProbeError{Op: "http", Err: fmt.Errorf("body does not match %q", h.bodyRE.String())}
	}
	return nil
}
