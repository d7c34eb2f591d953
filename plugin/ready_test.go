package hadns

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/healthcheck/healthchecktest"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// localProber fails every probe as a process out of file descriptors does,
// while out is set.
type localProber struct{ out atomic.Bool }

func (p *localProber) Check(context.Context, healthcheck.Target) error {
	if p.out.Load() {
		return &healthcheck.ProbeError{Op: "connect", Err: os.NewSyscallError("socket", syscall.EMFILE)}
	}
	return nil
}

// TestLocalTroubleKeepsAnswersAndFailsReadiness: when the checker cannot
// probe for a reason on this host (here: out of file descriptors), every
// backend stays in the answers, nothing fails open, status shows the
// trouble, and readiness fails once it has lasted localTroubleLimit.
func TestLocalTroubleKeepsAnswersAndFailsReadiness(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zone.yaml")
	if err := os.WriteFile(path, []byte(zonetest.SelZone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config{origins: []string{"."}, files: []string{path}, startupTimeout: time.Hour}
	snap, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	prober := &localProber{}
	r := &healthRig{t: t, h: &Hadns{}, clock: healthchecktest.NewFakeClock(time.Unix(1e9, 0)), n: 6, cfg: cfg}
	r.pool = newCheckerPool(healthcheck.Options{
		Clock:   r.clock,
		Probers: map[string]healthcheck.Prober{"tcp": prober},
		Rand:    func(int64) int64 { return 0 },
	})
	r.e = newEngine(r.h, cfg, snap, r.pool)
	if err := r.e.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.e.stop() })
	r.until("ready", r.h.Ready)

	all := func() []string {
		m := r.ask("10.1.9.9", "api.example.test.", dns.TypeA, "")
		if m.Rcode != dns.RcodeSuccess || ede(m) != nil {
			t.Fatalf("answer during local trouble: rcode %d, EDE %v", m.Rcode, ede(m))
		}
		return zonetest.AddrsOf(m.Answer)
	}
	before := all()

	prober.out.Store(true)
	start := r.clock.Now()
	r.until("trouble seen", func() bool { return r.pool.trouble().Targets == r.n })
	// Well past fall, and up to the readiness limit: every backend is
	// still handed out and the server is still ready.
	advanceByFast(t, r, start.Add(localTroubleLimit-time.Second))
	if got := all(); !slices.Equal(got, before) {
		t.Fatalf("answers changed during local trouble: %v, want %v", got, before)
	}
	if !r.h.Ready() {
		t.Fatal("not ready before the local trouble lasted its limit")
	}
	doc := statusOf(r.e, r.clock.Now())
	if doc.Checker.LocalTroubleTargets != r.n || doc.Checker.LastLocalError != "connect: too many open files" || doc.Checker.LocalErrorsTotal == 0 {
		t.Fatalf("status checker %+v", doc.Checker)
	}
	for _, b := range doc.Zones[0].Services[0].Backends {
		if b.State != "up" || b.LocalError == "" || b.LocalErrorSince.IsZero() {
			t.Fatalf("backend status during local trouble %+v", b)
		}
	}

	advanceByFast(t, r, start.Add(localTroubleLimit+time.Second))
	if r.h.Ready() {
		t.Fatalf("still ready after %v of local trouble", localTroubleLimit+time.Second)
	}
	if got := all(); !slices.Equal(got, before) {
		t.Fatalf("answers changed during local trouble: %v, want %v", got, before)
	}

	prober.out.Store(false)
	r.until("ready again", r.h.Ready)
	if lt := r.pool.trouble(); lt.Targets != 0 {
		t.Fatalf("trouble after recovery %+v", lt)
	}
}

// advanceByFast moves fake time to until in steps of the fast interval, with
// every probe loop parked between steps.
func advanceByFast(t *testing.T, r *healthRig, until time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 1000 && r.clock.Now().Before(until); i++ {
		if err := r.clock.BlockUntil(ctx, r.n); err != nil {
			t.Fatalf("probe loops did not park: %v", err)
		}
		r.clock.Advance(healthcheck.DefaultFastInterval)
	}
	if r.clock.Now().Before(until) {
		t.Fatalf("fake time %v, want %v", r.clock.Now(), until)
	}
}
