package hadns

import (
	"strings"
	"time"

	"github.com/hadns/hadns/internal/admin"
	"github.com/hadns/hadns/internal/adminapi"
)

// adminView is an engine as the admin server (internal/admin) sees it. It
// is a value holding the engine, so two views of one engine are equal, as
// the admin server's registration needs.
type adminView struct{ e *engine }

var _ admin.Engine = adminView{}

// Store is the override store the engine folds into its answers.
func (v adminView) Store() admin.OverrideStore { return v.e.store }

// Checker describes the process's health checker (shared by every engine).
func (v adminView) Checker() adminapi.CheckerStatus {
	lt := v.e.pool.trouble()
	return adminapi.CheckerStatus{LocalTroubleTargets: lt.Targets, LocalTroubleSince: lt.Since, LocalErrorsTotal: lt.Total, LastLocalError: lt.LastErr}
}

// Match lists SERVICE/ID of every backend sel picks in the zones the
// engine serves now.
func (v adminView) Match(sel adminapi.Selector) []string {
	snap := v.e.h.snap.Load()
	if snap == nil {
		return nil
	}
	var out []string
	for _, z := range snap.zones {
		for _, s := range z.Services() {
			for _, b := range s.Backends() {
				if matches(sel, s.Name(), b) {
					out = append(out, strings.TrimSuffix(s.Name(), ".")+"/"+b.ID())
				}
			}
		}
	}
	return out
}

// Status describes the zones the engine serves now (see engine.status).
func (v adminView) Status(now time.Time, skip func(zone string) bool) (admin.EngineStatus, bool) {
	return v.e.status(now, skip)
}
