package monitoring

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// dashboardQueries lists the PromQL of every panel target and the metric of every label_values variable.
func dashboardQueries(t *testing.T) []string {
	g := NewWithT(t)
	data, err := os.ReadFile(filepath.Join(root(t), "config", "grafana", "secret-rotator.json"))
	g.Expect(err).NotTo(HaveOccurred())
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	g.Expect(json.Unmarshal(data, &d)).To(Succeed())
	var out []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		g.Expect(m).NotTo(BeNil(), "variable query %q is not label_values(metric, label)", v.Definition)
		out = append(out, m[1])
	}
	g.Expect(out).NotTo(BeEmpty())
	return out
}

type panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// grafanaVariables stand for the dashboard's variables in queries promtool parses.
var grafanaVariables = strings.NewReplacer("${__rate_interval}", "5m", "$__rate_interval", "5m", "${__range}", "1h",
	"$__range", "1h", "${__interval}", "1m", "$__interval", "1m", "${namespace}", ".*", "$namespace", ".*")

func TestDashboardQueriesParse(t *testing.T) {
	g := NewWithT(t)
	var rules []rule
	for i, q := range dashboardQueries(t) {
		expr := grafanaVariables.Replace(q)
		g.Expect(expr).NotTo(ContainSubstring("$"), "a variable this test does not know: %s", q)
		rules = append(rules, rule{Record: "dashboard:query_" + strconv.Itoa(i), Expr: expr})
	}
	p := writeRuleFile(t, t.TempDir(), "dashboard.yaml", []ruleGroup{{Name: "dashboard", Rules: rules}})
	g.Expect(run(t, "check", "rules", p)).To(ContainSubstring("SUCCESS"))
}
