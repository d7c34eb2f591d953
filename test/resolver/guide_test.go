package main

import (
	"os"
	"regexp"
	"testing"
)

// The operator's guide names metrics in its alert rules and queries; each
// must be one that hadns or CoreDNS exports, as plugin/README.md lists
// them, so that an alert copied from the guide can fire.
func TestGuideMetricsExist(t *testing.T) {
	guide, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := os.ReadFile("../../plugin/README.md")
	if err != nil {
		t.Fatal(err)
	}
	metric := regexp.MustCompile(`\bcoredns_[a-z_]+[a-z]\b`)
	known := map[string]bool{}
	for _, m := range metric.FindAllString(string(listed), -1) {
		known[m] = true
	}
	used := metric.FindAllString(string(guide), -1)
	if len(used) < 10 {
		t.Fatalf("the guide names %d metrics; expected its alert rules", len(used))
	}
	for _, m := range used {
		base := regexp.MustCompile(`_(count|sum|bucket)$`).ReplaceAllString(m, "")
		if !known[m] && !known[base] {
			t.Errorf("docs/operations.md names %s, which plugin/README.md does not list", m)
		}
	}
}
