package healthcheck

import (
	"strings"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	s := Spec{}.WithDefaults()
	if s.Kind != "tcp" || s.Interval != time.Second || s.Timeout != 800*time.Millisecond ||
		s.FastInterval != 200*time.Millisecond || s.DownInterval != time.Second || s.Rise != 2 || s.Fall != 2 {
		t.Fatalf("defaults: %+v", s)
	}
	if s.Method != "" || len(s.Status) != 0 {
		t.Fatalf("http defaults leaked into tcp: %+v", s)
	}
	h := Spec{Kind: "HTTPS", Interval: 5 * time.Second}.WithDefaults()
	if h.Kind != "https" || h.Method != "GET" || h.Path != "/" || h.Status[0] != "200-399" || h.DownInterval != 5*time.Second {
		t.Fatalf("https defaults: %+v", h)
	}
	w := Spec{Kind: "watch"}.WithDefaults()
	if w.KeepaliveInterval != time.Second || w.KeepaliveCount != 1 {
		t.Fatalf("watch defaults: %+v", w)
	}
	d := Spec{Kind: "dns", QName: "example.org"}.WithDefaults()
	if d.QType != "A" || d.RCode != "NOERROR" {
		t.Fatalf("dns defaults: %+v", d)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string // substring of the error; "" for valid
	}{
		{"defaults", Spec{}, ""},
		{"http ok", Spec{Kind: "http", Status: []string{"200", "300-302"}, BodyRegexp: "^ok"}, ""},
		{"timeout equals interval", Spec{Timeout: time.Second}, "timeout 1s must be below interval 1s"},
		{"unknown kind", Spec{Kind: "exec"}, `unknown kind "exec"`},
		{"bad status", Spec{Kind: "http", Status: []string{"399-200"}}, `bad status "399-200"`},
		{"bad status text", Spec{Kind: "http", Status: []string{"2xx"}}, `bad status "2xx"`},
		{"bad regexp", Spec{Kind: "http", BodyRegexp: "("}, "body_regexp"},
		{"bad method", Spec{Kind: "http", Method: "POST"}, `method "POST"`},
		{"head with body", Spec{Kind: "http", Method: "HEAD", Body: "x"}, "need method GET"},
		{"path", Spec{Kind: "http", Path: "health"}, "must start with /"},
		{"http field on tcp", Spec{Path: "/x"}, "for kinds http and https"},
		{"dns without qname", Spec{Kind: "dns"}, "needs a qname"},
		{"bad qtype", Spec{Kind: "dns", QName: "a.", QType: "BOGUS"}, `unknown qtype "BOGUS"`},
		{"bad rcode", Spec{Kind: "dns", QName: "a.", RCode: "NOPE"}, `unknown rcode "NOPE"`},
		{"keepalive fraction", Spec{Kind: "watch", KeepaliveInterval: 1500 * time.Millisecond}, "whole number of seconds"},
		{"missing ca file", Spec{Kind: "tls", CAFile: "/nonexistent/ca.pem"}, "ca_file"},
		{"rise", Spec{Rise: -1}, "rise -1"},
		{"port", Spec{Port: 70000}, "port 70000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.WithDefaults().Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("no error, want %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDetectionBound(t *testing.T) {
	if got := (Spec{}).WithDefaults().DetectionBound(); got != 2850*time.Millisecond {
		t.Errorf("tcp default bound %v, want 2.85s", got)
	}
	if got := (Spec{Kind: "watch"}).WithDefaults().DetectionBound(); got != 3050*time.Millisecond {
		t.Errorf("watch default bound %v, want 3.05s", got)
	}
	if got := (Spec{Kind: "watch", KeepaliveInterval: 2 * time.Second, KeepaliveCount: 3, Interval: 5 * time.Second, Timeout: time.Second}).WithDefaults().DetectionBound(); got != 10*time.Second {
		t.Errorf("watch 2s*3 bound %v, want 8s*9/8+1s = 10s", got)
	}
	if got := (Spec{Fall: 1, Timeout: 100 * time.Millisecond}).WithDefaults().DetectionBound(); got != 1150*time.Millisecond {
		t.Errorf("fall 1 bound %v, want 1.15s", got)
	}
}
