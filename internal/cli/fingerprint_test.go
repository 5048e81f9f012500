package cli_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/cli"
	"github.com/tribi/secret-rotator/internal/testgen"
)

var _ = Describe("fingerprint", func() {
	It("says every copy holds the current value, the previous keys the previous one, and never prints a value", func() {
		ns := cluster.NewNamespace("fp")
		rs := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithPrevious("_PREVIOUS", "24h"),
			testgen.WithTarget("backend-env", "JWT_SECRET"), testgen.WithTarget("worker-env", "JWT_SECRET")))
		Expect(run("rotate", "jwt", "-n", ns, "--wait", "--timeout", "1m").code).To(Equal(0))
		rs = cluster.RotatedSecret(rs)

		r := run("fingerprint", "jwt", "-n", ns, "-o", "json")
		Expect(r.code).To(Equal(0), r.errOut)
		var report cli.FingerprintReport
		Expect(json.Unmarshal([]byte(r.out), &report)).To(Succeed())
		Expect(report.CurrentFingerprint).To(Equal(rs.Status.CurrentFingerprint))
		Expect(report.Copies).To(HaveLen(4))
		for _, c := range report.Copies {
			if c.Previous {
				Expect(c).To(MatchFields(c, 1, rs.Status.PreviousRevision, "revision 1 (previous)", "JWT_SECRET_PREVIOUS"))
			} else {
				Expect(c).To(MatchFields(c, 2, rs.Status.CurrentRevision, "revision 2 (current)", "JWT_SECRET"))
				Expect(c.Fingerprint).To(Equal(rs.Status.CurrentFingerprint))
			}
		}
		table := run("fingerprint", "jwt", "-n", ns)
		Expect(table.out).To(MatchRegexp(`(?m)^` + ns + `/backend-env\s+JWT_SECRET\s+hmac-sha256:[0-9a-f]{12}\s+revision 2 \(current\)\s+yes$`))
		for _, key := range []string{"JWT_SECRET", "JWT_SECRET_PREVIOUS"} {
			expectNoValue(r.out+table.out, secretValue(ns, "backend-env", key))
		}
	})

	It("exits 4 naming the copy that holds something else", func() {
		ns := cluster.NewNamespace("fp-drift")
		rs := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET"),
			testgen.WithTarget("other-env", "JWT_SECRET")))
		// The operator repairs a hand edit at once. It repairs nothing while the spec is invalid (the spec check
		// runs first): a time zone that does not exist holds it while a person edits a target.
		cluster.Update(rs, func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Schedule = &rotationv1alpha1.ScheduleSpec{TimeZone: "Mars/Olympus_Mons"}
		})
		Eventually(func() string { return run("status", "jwt", "-n", ns).out }, wait).Should(ContainSubstring("Stalled:InvalidSpec"))
		var s corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "other-env"}, &s)).To(Succeed())
		s.Data["JWT_SECRET"] = []byte("pasted-by-hand-0123456789")
		Expect(k8sClient.Update(ctx, &s)).To(Succeed())

		r := run("fingerprint", "jwt", "-n", ns)
		Expect(r.code).To(Equal(cli.ExitMismatch))
		Expect(r.out).To(MatchRegexp(`(?m)^` + ns + `/env\s+JWT_SECRET\s+\S+\s+revision 1 \(current\)\s+yes$`))
		Expect(r.out).To(MatchRegexp(`(?m)^` + ns + `/other-env\s+JWT_SECRET\s+\S+\s+an unknown value\s+no$`))
		Expect(r.err).To(MatchError(ns + "/other-env JWT_SECRET: an unknown value, not the current value"))
		expectNoValue(r.out+r.err.Error(), []byte("pasted-by-hand-0123456789"))

		// A deleted target is missing, not an error of the command.
		Expect(k8sClient.Delete(ctx, &s)).To(Succeed())
		r = run("fingerprint", "jwt", "-n", ns)
		Expect(r.code).To(Equal(cli.ExitMismatch))
		Expect(r.out).To(ContainSubstring("missing (no such Secret)"))
	})

	It("tells a person without access to the fingerprint key what is missing", func() {
		ns := cluster.NewNamespace("fp-forbidden")
		create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET")))
		// bob may read RotatedSecrets and Secrets in ns, nothing in the operator's namespace.
		Expect(k8sClient.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reader"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"", "rotation.tribi.io"}, Resources: []string{"secrets", "rotatedsecrets"},
				Verbs: []string{"get", "list", "watch"}}}})).To(Succeed())
		Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bob"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reader"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "bob"}}})).To(Succeed())
		r := run("fingerprint", "jwt", "-n", ns, "--as", "bob")
		Expect(r.code).To(Equal(1))
		Expect(r.err).To(MatchError(ContainSubstring("fingerprint needs `get` on Secret secret-rotator-system/secret-rotator-fingerprint-key")))
		Expect(run("status", "jwt", "-n", ns, "--as", "bob").code).To(Equal(0), "status needs no Secret")
	})

	It("with --watch prints each value a target holds, as it changes", func() {
		ns := cluster.NewNamespace("fp-watch")
		rs := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET")))
		first := rs.Status.CurrentFingerprint
		wctx, cancel := context.WithCancel(ctx)
		var mu sync.Mutex
		var watched result
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			r := runCtx(wctx, "fingerprint", "jwt", "-n", ns, "--watch")
			mu.Lock()
			watched = r
			mu.Unlock()
		}()
		time.Sleep(time.Second)
		Expect(run("rotate", "jwt", "-n", ns, "--wait", "--timeout", "1m").code).To(Equal(0))
		second := cluster.RotatedSecret(rs).Status.CurrentFingerprint
		time.Sleep(time.Second)
		cancel()
		Eventually(done, wait).Should(BeClosed())
		mu.Lock()
		defer mu.Unlock()
		Expect(watched.code).To(Equal(0))
		Expect(watched.out).To(HavePrefix("TIME  TARGET  KEYS  FINGERPRINT  HOLDS\n"))
		Expect(watched.out).To(MatchRegexp(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  ` + ns + `/env  JWT_SECRET  ` + first + `  revision 1 \(current\)`))
		Expect(watched.out).To(ContainSubstring(ns + "/env  JWT_SECRET  " + second + "  revision 2 "))
		expectNoValue(watched.out, secretValue(ns, "env", "JWT_SECRET"))
	})
})

// MatchFields checks a copy: OK, revision, what it holds and its keys.
func MatchFields(c cli.Copy, _ int, revision int64, holds, key string) OmegaMatcher {
	return And(HaveField("OK", true), HaveField("Revision", revision), HaveField("Holds", holds),
		HaveField("Keys", []string{key}))
}

// expectNoValue fails if out contains value raw, base64 or hex, or any 12-character piece of it.
func expectNoValue(out string, value []byte) {
	GinkgoHelper()
	for _, form := range []string{string(value), base64.StdEncoding.EncodeToString(value), fmt.Sprintf("%x", value)} {
		for i := 0; i+12 <= len(form); i++ {
			Expect(strings.Contains(out, form[i:i+12])).To(BeFalse(), "a piece of the value is printed")
		}
	}
}
