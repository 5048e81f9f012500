package cli_test

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/cli"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// create creates rs and waits until the operator committed its first revision.
func create(rs *rotationv1alpha1.RotatedSecret) *rotationv1alpha1.RotatedSecret {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, rs)).To(Succeed())
	return cluster.WaitForRevision(rs, 1)
}

var _ = Describe("status", func() {
	It("shows revision, age, next rotation, phase and flags, for one, a namespace, or all", func() {
		ns := cluster.NewNamespace("status")
		other := cluster.NewNamespace("status-other")
		jwt := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("backend-env", "JWT_SECRET")))
		create(testgen.RotatedSecret("cookie", other, testgen.WithTTL("90d"), testgen.WithTarget("backend-env", "COOKIE_SECRET")))

		r := run("status", "jwt", "-n", ns, "-o", "json")
		Expect(r.code).To(Equal(0))
		var s cli.Status
		Expect(json.Unmarshal([]byte(r.out), &s)).To(Succeed())
		Expect(s.Revision).To(Equal(int64(1)))
		Expect(s.Phase).To(Equal(string(rotationv1alpha1.PhaseReady)))
		Expect(s.NextRotation.Time).To(BeTemporally("~", jwt.Status.NextRotationTime.Time, time.Second))
		Expect(s.Overdue).To(BeFalse())
		Expect(s.Suspended).To(BeFalse())

		// The table of one namespace has no NAMESPACE column; -A lists both namespaces with it.
		r = run("status", "-n", ns)
		Expect(r.code).To(Equal(0))
		Expect(r.out).To(HavePrefix("NAME "))
		Expect(r.out).To(MatchRegexp(`(?m)^jwt\s+1\s+\S+\s+\S+\s+Ready\s`))
		Expect(r.out).NotTo(ContainSubstring("cookie"))
		r = run("status", "-A")
		Expect(r.out).To(HavePrefix("NAMESPACE "))
		Expect(r.out).To(MatchRegexp(`(?m)^` + ns + `\s+jwt\s+1\s`))
		Expect(r.out).To(MatchRegexp(`(?m)^` + other + `\s+cookie\s+1\s`))

		// YAML is the same document.
		r = run("status", "jwt", "-n", ns, "-o", "yaml")
		var fromYAML cli.Status
		Expect(yaml.Unmarshal([]byte(r.out), &fromYAML)).To(Succeed())
		Expect(fromYAML.Revision).To(Equal(int64(1)))

		// Suspended shows as a flag.
		cluster.Update(jwt, func(rs *rotationv1alpha1.RotatedSecret) { rs.Spec.Suspend = true })
		Eventually(func() string { return run("status", "jwt", "-n", ns).out }, wait).Should(ContainSubstring("Suspended"))
	})

	It("moves the next rotation to the maintenance window the operator waits for", func() {
		ns := cluster.NewNamespace("status-window")
		// One window a week, one hour long: the TTL of 90 days almost never ends inside it.
		rs := create(testgen.RotatedSecret("stripe", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "KEY"),
			func(rs *rotationv1alpha1.RotatedSecret) {
				rs.Spec.Schedule = &rotationv1alpha1.ScheduleSpec{TimeZone: "Europe/Paris", Windows: []rotationv1alpha1.MaintenanceWindow{
					{Days: []rotationv1alpha1.Weekday{"Sun"}, Start: "03:00", Duration: "1h"}}}
			}))
		r := run("status", "stripe", "-n", ns, "-o", "json")
		var s cli.Status
		Expect(json.Unmarshal([]byte(r.out), &s)).To(Succeed())
		paris, err := time.LoadLocation("Europe/Paris")
		Expect(err).NotTo(HaveOccurred())
		start := s.NextRotation.In(paris)
		Expect(start.Weekday()).To(Equal(time.Sunday))
		Expect(start.Format("15:04")).To(Equal("03:00"))
		Expect(start).To(BeTemporally(">=", rs.Status.NextRotationTime.Time))
		Expect(start).To(BeTemporally("<", rs.Status.NextRotationTime.Add(7*24*time.Hour)))
		Expect(s.NextRotationNote).To(ContainSubstring("window Sun 03:00"))
	})

	It("refuses an unknown output format and a name with -A", func() {
		r := run("status", "-o", "xml")
		Expect(r.code).To(Equal(1))
		Expect(r.err).To(MatchError(ContainSubstring(`unknown output format "xml"`)))
		r = run("status", "x", "-A")
		Expect(r.code).To(Equal(1))
		r = run("status", "does-not-exist", "-n", "default")
		Expect(r.code).To(Equal(1))
		Expect(strings.ToLower(r.err.Error())).To(ContainSubstring("not found"))
	})
})

var _ = Describe("version", func() {
	It("prints the module and the toolchain the plugin was built with", func() {
		r := run("version", "-o", "json")
		Expect(r.code).To(Equal(0))
		var info map[string]any
		Expect(json.Unmarshal([]byte(r.out), &info)).To(Succeed())
		Expect(info).To(HaveKeyWithValue("binary", "kubectl-rotation"))
		Expect(info).To(HaveKeyWithValue("goVersion", HavePrefix("go1.")))
		Expect(run("version").out).To(HavePrefix("kubectl-rotation "))
	})
})
