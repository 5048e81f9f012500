package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/cli"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// finishJobs ends every Job of namespace ns that has not ended and that outcome says to end, succeeded or failed,
// as the Job controller would (envtest runs none), until stop is closed.
func finishJobs(ns string, outcome func(job string) (end, succeeded bool), stop <-chan struct{}) {
	defer GinkgoRecover()
	for {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		var jobs batchv1.JobList
		if k8sClient.List(ctx, &jobs, client.InNamespace(ns)) != nil {
			continue
		}
		for i := range jobs.Items {
			j := &jobs.Items[i]
			end, succeeded := outcome(j.Name)
			if len(j.Status.Conditions) > 0 || !end {
				continue
			}
			fixture.EndJob(j, succeeded)
			_ = k8sClient.Status().Update(ctx, j)
		}
	}
}

// rollOut plays the Deployment controller for namespace ns until stop is closed: a Deployment whose template
// changed is reported rolled out after delay, so a follower sees the stage wait first.
func rollOut(ns string, delay time.Duration, stop <-chan struct{}) {
	defer GinkgoRecover()
	for {
		select {
		case <-stop:
			return
		case <-time.After(delay):
		}
		var list appsv1.DeploymentList
		if k8sClient.List(ctx, &list, client.InNamespace(ns)) != nil {
			continue
		}
		for i := range list.Items {
			if d := &list.Items[i]; d.Status.ObservedGeneration != d.Generation {
				fixture.RolledOut(d)
				_ = k8sClient.Status().Update(ctx, d)
			}
		}
	}
}

var _ = Describe("rotate", func() {
	It("follows each stage of the rollout with its workloads", func() {
		ns := cluster.NewNamespace("rotate-stages")
		for _, name := range []string{"esim-worker", "backend-api"} {
			Expect(k8sClient.Create(ctx, testgen.Deployment(name, ns, 2))).To(Succeed())
		}
		stop := make(chan struct{})
		defer close(stop)
		go rollOut(ns, 500*time.Millisecond, stop)
		create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET"),
			testgen.WithRollout(testgen.Stage("workers", "10m", "esim-worker"), testgen.Stage("api", "10m", "backend-api"))))

		r := run("rotate", "jwt", "-n", ns, "--wait", "--timeout", "1m")
		Expect(r.code).To(Equal(0), r.errOut)
		// Each stage shows its workload waiting, then healthy, workers before api.
		Expect(r.out).To(MatchRegexp(`(?s)stage workers: 0/1 workloads healthy.*stage workers healthy.*` +
			`stage api: 0/1 workloads healthy.*stage api healthy.*revision 2 Succeeded`))
		// Once it has ended, status shows the stages, not the ended rotation's progress.
		Expect(run("status", "jwt", "-n", ns).out).To(MatchRegexp(`(?m)^jwt\s+2\s+\S+\s+\S+\s+Ready\s+-\s+2\s+-\s`))
	})

	It("sets a fresh token, follows the rotation with --wait and exits 0 once it succeeded", func() {
		ns := cluster.NewNamespace("rotate")
		stop := make(chan struct{})
		defer close(stop)
		go finishJobs(ns, func(string) (bool, bool) { return true, true }, stop)
		rs := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET"),
			testgen.WithValidation(rotationv1alpha1.FailureRollback, "5m", "smoke")))

		r := run("rotate", "jwt", "-n", ns, "--wait", "--timeout", "1m")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(ContainSubstring("Asked for a rotation of " + ns + "/jwt (token "))
		Expect(r.out).To(ContainSubstring("revision 2 started"))
		Expect(r.out).To(MatchRegexp(`validation Job smoke \(\S+\): (Running|Succeeded)`))
		Expect(r.out).To(ContainSubstring("revision 2 Succeeded"))

		got := cluster.RotatedSecret(rs)
		Expect(got.Status.CurrentRevision).To(Equal(int64(2)))
		Expect(got.Annotations[rotationv1alpha1.RotateAnnotation]).To(Equal(got.Status.LastHandledRotateRequest))
		Expect(got.Annotations).NotTo(HaveKey(rotationv1alpha1.RespectWindowAnnotation))
		// The person's name is in the field manager of the patch.
		Expect(managers(got)).To(ContainElement("kubectl-rotation/alice"))

		// history lists both revisions, newest first.
		r = run("history", "jwt", "-n", ns)
		Expect(r.code).To(Equal(0))
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		Expect(lines[0]).To(HavePrefix("REVISION"))
		Expect(lines[1]).To(MatchRegexp(`^2\s+Manual\s+Succeeded \*\s`))
		Expect(lines[2]).To(MatchRegexp(`^1\s+Created\s+Succeeded\s`))
		r = run("history", "jwt", "-n", ns, "-o", "json")
		var records []rotationv1alpha1.RotationRecord
		Expect(json.Unmarshal([]byte(r.out), &records)).To(Succeed())
		Expect(records).To(HaveLen(2))
		Expect(records[0].Fingerprint).To(Equal(got.Status.CurrentFingerprint))
	})

	It("exits 2 with the reason when the rotation rolls back", func() {
		ns := cluster.NewNamespace("rotate-fail")
		stop := make(chan struct{})
		defer close(stop)
		// The first revision's smoke Job passes, the second's fails.
		go finishJobs(ns, func(job string) (bool, bool) { return true, !strings.HasSuffix(job, "-r2") }, stop)
		create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET"),
			testgen.WithValidation(rotationv1alpha1.FailureRollback, "5m", "smoke")))

		r := run("rotate", "jwt", "-n", ns, "--wait", "--timeout", "1m")
		Expect(r.code).To(Equal(cli.ExitRotationFailed))
		Expect(r.err).To(MatchError(ContainSubstring("revision 2 RolledBack")))
		Expect(r.out).To(ContainSubstring("validation Job smoke"))
	})

	It("with --respect-window waits for the window, and exits 3 when --timeout runs out first", func() {
		ns := cluster.NewNamespace("rotate-window")
		now := time.Now().UTC()
		// A window that opened an hour ago and closed: the next opening is days away.
		day := rotationv1alpha1.Weekday(now.Add(-2 * time.Hour).Format("Mon"))
		rs := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET"),
			func(rs *rotationv1alpha1.RotatedSecret) {
				rs.Spec.Schedule = &rotationv1alpha1.ScheduleSpec{Windows: []rotationv1alpha1.MaintenanceWindow{
					{Days: []rotationv1alpha1.Weekday{day}, Start: now.Add(-2 * time.Hour).Format("15:04"), Duration: "1h"}}}
			}))
		r := run("rotate", "jwt", "-n", ns, "--respect-window", "--wait", "--timeout", "3s")
		Expect(r.code).To(Equal(cli.ExitTimeout))
		Expect(r.out).To(ContainSubstring("scheduled to start at"))
		Expect(r.err).To(MatchError(ContainSubstring("timed out after 3s")))
		got := cluster.RotatedSecret(rs)
		Expect(got.Annotations[rotationv1alpha1.RespectWindowAnnotation]).To(Equal("true"))
		Expect(got.Status.CurrentRevision).To(Equal(int64(1)), "nothing rotated outside the window")
	})
})

// managers are the field managers of rs's managedFields.
func managers(rs *rotationv1alpha1.RotatedSecret) []string {
	var out []string
	for _, m := range rs.ManagedFields {
		out = append(out, m.Manager)
	}
	return out
}

var _ = Describe("emergency and incident", func() {
	It("refuses an empty reason and sets nothing", func() {
		ns := cluster.NewNamespace("emergency-refused")
		rs := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET")))
		r := run("emergency", "jwt", "-n", ns, "--reason", "   ")
		Expect(r.code).To(Equal(1))
		Expect(r.err).To(MatchError(ContainSubstring("--reason is required")))
		Expect(cluster.RotatedSecret(rs).Annotations).NotTo(HaveKey(rotationv1alpha1.EmergencyAnnotation))
	})

	It("rotates as an emergency with --wait, then writes the review from the incident record", func() {
		ns := cluster.NewNamespace("emergency")
		rs := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET")))
		r := run("emergency", "jwt", "-n", ns, "--reason", "JWT_SECRET | leaked in <CI> logs", "--wait", "--timeout", "1m")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(ContainSubstring("revision 2 Succeeded"))
		got := cluster.RotatedSecret(rs)
		Expect(got.Status.Compromised).To(ContainElement(HaveField("Revision", int64(1))))
		Expect(got.Status.Incidents).To(HaveLen(1))

		r = run("incident", "jwt", "-n", ns)
		Expect(r.code).To(Equal(0))
		review := r.out
		Expect(review).To(HavePrefix("## Incident: " + ns + "/jwt, "))
		Expect(review).To(ContainSubstring("- **Reason:** JWT_SECRET | leaked in &lt;CI&gt; logs"))
		Expect(review).To(ContainSubstring("- **Requested by:** kubectl-rotation/alice"))
		Expect(review).To(ContainSubstring("- **Compromised revision:** 1 (Created"))
		Expect(review).To(ContainSubstring("- **New revision:** 2 (Emergency, Succeeded"))
		Expect(review).To(MatchRegexp(`(?m)^\| \d\d:\d\d:\d\d \| Requested \| .+ \|$`))
		Expect(review).To(MatchRegexp(`(?m)^\| \d\d:\d\d:\d\d \| Committed \| .+ \|$`))
		Expect(review).To(ContainSubstring("### Revocations"))
		Expect(review).To(ContainSubstring("### Findings"))
		Expect(review).NotTo(ContainSubstring(string(secretValue(ns, "env", "JWT_SECRET"))))

		// --revision picks it; an unknown revision is an error; --append adds the review to a file, twice.
		Expect(run("incident", "jwt", "-n", ns, "--revision", "2").out).To(Equal(review))
		Expect(run("incident", "jwt", "-n", ns, "--revision", "7").code).To(Equal(1))
		file := filepath.Join(GinkgoT().TempDir(), "REGRESSIONS_FIXED.md")
		Expect(os.WriteFile(file, []byte("# Regressions fixed\n"), 0o644)).To(Succeed())
		Expect(run("incident", "jwt", "-n", ns, "--append", file).code).To(Equal(0))
		Expect(run("incident", "jwt", "-n", ns, "--append", file).code).To(Equal(0))
		b, err := os.ReadFile(file)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal("# Regressions fixed\n\n" + review + "\n" + review))
	})

	It("says that an emergency set during another one is queued", func() {
		ns := cluster.NewNamespace("emergency-queued")
		stop := make(chan struct{})
		defer close(stop)
		// Revision 1's smoke Job passes; the first emergency's (revision 2) runs until the test fails it; the
		// queued one's (revision 3) passes.
		var failR2 atomic.Bool
		go finishJobs(ns, func(job string) (bool, bool) {
			if strings.HasSuffix(job, "-r2") {
				return failR2.Load(), false
			}
			return true, true
		}, stop)
		rs := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET"),
			testgen.WithValidation(rotationv1alpha1.FailureRollback, "5m", "smoke")))
		Expect(run("emergency", "jwt", "-n", ns, "--reason", "first leak").code).To(Equal(0))
		Eventually(func() string { return run("status", "jwt", "-n", ns).out }, wait).Should(ContainSubstring("Validating r2 emergency"))

		r := run("emergency", "jwt", "-n", ns, "--reason", "second leak", "--wait", "--timeout", "3s")
		Expect(r.code).To(Equal(cli.ExitTimeout))
		Expect(r.out).To(ContainSubstring("queued: another emergency is in progress"))
		Expect(cluster.RotatedSecret(rs).Status.QueuedEmergencyRequest).NotTo(BeEmpty())

		// The first emergency halts on its failed smoke Job: the queued one starts then, and succeeds.
		failR2.Store(true)
		Eventually(func() int64 { return cluster.RotatedSecret(rs).Status.CurrentRevision }, wait).Should(Equal(int64(3)))
	})

	It("says when there is no incident yet", func() {
		ns := cluster.NewNamespace("no-incident")
		create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET")))
		r := run("incident", "jwt", "-n", ns)
		Expect(r.code).To(Equal(1))
		Expect(r.err).To(MatchError(ContainSubstring("no incident record")))
	})
})

// secretValue reads one key of a Secret.
func secretValue(ns, name, key string) []byte {
	GinkgoHelper()
	var s corev1.Secret
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)).To(Succeed())
	Expect(s.Data).To(HaveKey(key))
	return s.Data[key]
}
