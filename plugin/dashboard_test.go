package hadns

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/metrics/vars"
	"github.com/prometheus/client_golang/prometheus"
)

// pluginCollectors is every metric metrics.go defines; TestPluginCollectorsComplete
// keeps the list whole.
var pluginCollectors = []prometheus.Collector{
	backendUp, healthyBackends, checkDuration, transitions, answers, degradedAnswers,
	failoverBudget, failoverBudgetLimit, backendOverride, drainSafeAt,
	localProbeErrors, localTroubleTargets, adminRejectedConns,
	fastPathBehindPlugins, unsentAnswers,
}

// coreDNSCollectors are CoreDNS's own request metrics (the metrics plugin).
var coreDNSCollectors = []prometheus.Collector{
	vars.RequestCount, vars.RequestDuration, vars.RequestSize, vars.RequestDo,
	vars.ResponseSize, vars.ResponseRcode, vars.Panic, vars.PluginEnabled,
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exportedNames maps every series name the collectors export to whether
// it is a histogram's (name_bucket, name_sum and name_count are too).
func exportedNames(t *testing.T, cs []prometheus.Collector) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 8)
		go func() {
			c.Describe(ch)
			close(ch)
		}()
		for d := range ch {
			// Desc keeps its name unexported; its String is stable and
			// has been for every client_golang release.
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("no name in %s", d)
			}
			switch c.(type) {
			case *prometheus.HistogramVec, prometheus.Histogram:
				names[m[1]] = true
			default:
				names[m[1]] = false
			}
		}
	}
	return names
}

func TestPluginCollectorsComplete(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "metrics.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		if call, ok := node.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "promauto" {
					n++
				}
			}
		}
		return true
	})
	if n != len(pluginCollectors) {
		t.Fatalf("metrics.go defines %d metrics, pluginCollectors lists %d: add the new one", n, len(pluginCollectors))
	}
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// metricRef finds the metric names in a PromQL expression: every name
// hadns and CoreDNS export starts with coredns_.
var metricRef = regexp.MustCompile(`\bcoredns_[a-zA-Z0-9_:]*`)

// The dashboard must only query metrics that exist, so that it cannot rot
// silently when one is renamed, and must show every hadns metric.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("../dashboards/hadns.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboards/hadns.json: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q: both are needed to import it", d.Title, d.UID)
	}

	hadnsNames := exportedNames(t, pluginCollectors)
	known := exportedNames(t, coreDNSCollectors)
	for n, h := range hadnsNames {
		known[n] = h
	}
	exists := func(name string) bool {
		if _, ok := known[name]; ok {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
				return true
			}
		}
		return false
	}
	used := map[string]bool{}
	check := func(where, expr string) {
		refs := metricRef.FindAllString(expr, -1)
		if len(refs) == 0 {
			t.Errorf("%s: %q queries no hadns or CoreDNS metric", where, expr)
		}
		for _, r := range refs {
			if !exists(r) {
				t.Errorf("%s: %s is not a metric hadns or CoreDNS exports", where, r)
			}
			for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(r, suffix); ok {
					used[base] = true
				}
			}
		}
	}

	// An importable dashboard asks for its Prometheus data source.
	hasDS := false
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			var q string
			if json.Unmarshal(v.Query, &q) == nil && q == "prometheus" && v.Name == "datasource" {
				hasDS = true
			}
		case "query":
			check("variable "+v.Name, v.Definition)
		}
	}
	if !hasDS {
		t.Error("no Prometheus data source variable named datasource")
	}

	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %+v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			if q.Datasource != nil && q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: a query's data source is %+v", p.Title, q.Datasource)
			}
			check("panel "+p.Title, q.Expr)
		}
	}
	if queries == 0 {
		t.Fatal("the dashboard has no queries")
	}
	var missing []string
	for n := range hadnsNames {
		if !used[n] {
			missing = append(missing, n)
		}
	}
	for _, n := range []string{"coredns_dns_requests_total", "coredns_dns_request_duration_seconds"} {
		if !used[n] {
			missing = append(missing, n)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("no panel shows %s", strings.Join(missing, ", "))
	}
}
