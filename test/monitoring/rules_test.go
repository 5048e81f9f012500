// Package monitoring checks config/prometheus/rules.yaml and config/grafana/secret-rotator.json: the alerts pass
// `promtool check rules` and their unit tests (config/prometheus/rules_test.yaml, `promtool test rules`), the
// dashboard's queries parse, and every metric an alert or a panel names is one the operator exports.
package monitoring

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// promtoolVersion is the version hack/promtool.sh builds.
const promtoolVersion = "v0.316.0"

// root is the repository's root directory.
func root(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the test's own path")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// promtool returns the path of bin/promtool-<version>, and fails the test when it is not built.
func promtool(t *testing.T) string {
	p := filepath.Join(root(t), "bin", "promtool-"+promtoolVersion)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run make promtool", p)
	}
	return p
}

// prometheusRule is the part of a monitoring.coreos.com/v1 PrometheusRule these tests read.
type prometheusRule struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       struct {
		Groups []ruleGroup `json:"groups"`
	} `json:"spec"`
}

type ruleGroup struct {
	Name  string `json:"name"`
	Rules []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// readRules reads the PrometheusRule of config/prometheus/rules.yaml.
func readRules(t *testing.T) prometheusRule {
	g := NewWithT(t)
	data, err := os.ReadFile(filepath.Join(root(t), "config", "prometheus", "rules.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	var pr prometheusRule
	g.Expect(yaml.UnmarshalStrict(data, &pr)).To(Succeed())
	g.Expect(pr.APIVersion).To(Equal("monitoring.coreos.com/v1"))
	g.Expect(pr.Kind).To(Equal("PrometheusRule"))
	g.Expect(pr.Spec.Groups).NotTo(BeEmpty())
	return pr
}

// writeRuleFile writes groups as the plain rule file promtool reads, and returns its path.
func writeRuleFile(t *testing.T, dir, name string, groups []ruleGroup) string {
	data, err := yaml.Marshal(map[string]any{"groups": groups})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	p := filepath.Join(dir, name)
	NewWithT(t).Expect(os.WriteFile(p, data, 0o600)).To(Succeed())
	return p
}

// run runs promtool with args and fails the test with its output when it fails.
func run(t *testing.T, args ...string) string {
	cmd := exec.Command(promtool(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func TestRulesPassPromtoolCheck(t *testing.T) {
	dir := t.TempDir()
	p := writeRuleFile(t, dir, "rules.yaml", readRules(t).Spec.Groups)
	out := run(t, "check", "rules", p)
	NewWithT(t).Expect(out).To(ContainSubstring("SUCCESS"))
}

func TestRulesUnitTests(t *testing.T) {
	g := NewWithT(t)
	pr := readRules(t)
	dir := t.TempDir()
	writeRuleFile(t, dir, "rules.yaml", pr.Spec.Groups)
	tests, err := os.ReadFile(filepath.Join(root(t), "config", "prometheus", "rules_test.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(filepath.Join(dir, "rules_test.yaml"), tests, 0o600)).To(Succeed())
	run(t, "test", "rules", filepath.Join(dir, "rules_test.yaml"))

	// Every alert is tested firing and quiet: its name appears in an alert_rule_test with alerts and in one
	// without.
	var file struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	g.Expect(yaml.Unmarshal(tests, &file)).To(Succeed())
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tg := range file.Tests {
		for _, a := range tg.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, grp := range pr.Spec.Groups {
		for _, r := range grp.Rules {
			if r.Alert == "" {
				continue
			}
			g.Expect(firing).To(HaveKey(r.Alert), "no test where %s fires", r.Alert)
			g.Expect(quiet).To(HaveKey(r.Alert), "no near miss where %s stays quiet", r.Alert)
			g.Expect(r.Labels).To(HaveKey("severity"), r.Alert)
			g.Expect(r.Annotations).To(And(HaveKey("summary"), HaveKey("description")), r.Alert)
		}
	}
}
