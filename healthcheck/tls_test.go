package healthcheck

import (
	"testing"
	"time"
)

func TestTLSProbe(t *testing.T) {
	now := time.Now()
	good, goodCA := selfSigned(t, now.Add(-time.Hour), now.Add(time.Hour))
	expired, expiredCA := selfSigned(t, now.Add(-2*time.Hour), now.Add(-time.Hour))
	goodAddr := addrOf(t, tlsListener(t, good).Addr())
	expiredAddr := addrOf(t, tlsListener(t, expired).Addr())
	tests := []struct {
		name string
		tg   Target
		want string
	}{
		{"verified against the ca file, by IP", Target{Addr: goodAddr, Spec: &Spec{Kind: "tls", CAFile: goodCA}}, ""},
		{"verified by server name", Target{Addr: goodAddr, Spec: &Spec{Kind: "tls", CAFile: goodCA, ServerName: "backend.test"}}, ""},
		{"wrong server name", Target{Addr: goodAddr, Spec: &Spec{Kind: "tls", CAFile: goodCA, ServerName: "other.test"}},
			"tls: certificate is valid for backend.test, not other.test"},
		{"unknown authority", Target{Addr: goodAddr, Spec: &Spec{Kind: "tls"}}, "tls: certificate signed by unknown authority"},
		{"expired", Target{Addr: expiredAddr, Spec: &Spec{Kind: "tls", CAFile: expiredCA}}, "tls: certificate expired"},
		{"insecure skips verification", Target{Addr: expiredAddr, Spec: &Spec{Kind: "tls", Insecure: true}}, ""},
		{"refused", Target{Addr: boundSocket(t), Spec: &Spec{Kind: "tls", Insecure: true}}, "connect: connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, probe(t, tc.tg, 2*time.Second), tc.want)
		})
	}
}
