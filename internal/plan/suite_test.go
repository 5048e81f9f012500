package plan_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/random"
)

var (
	ctx       = context.Background()
	cfg       *rest.Config
	k8sClient client.Client
	// t0 is when the operator's fake clock starts: a Sunday, 09:00 UTC.
	t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	// operatorClock is the running operator's clock.
	operatorClock = clocktesting.NewFakeClock(t0)
	// staging and owned are the namespaces the running operator watches; the others it never touches, so a test
	// sets their status by hand.
	staging, owned string
)

// wait bounds every wait for the operator.
const wait = 20 * time.Second

// TestMain starts a kube-apiserver and etcd, and the operator (the real reconciler with the random provider and
// a fake clock) watching the namespaces staging and owned.
func TestMain(m *testing.M) {
	log.SetLogger(zap.New(zap.WriteTo(logOutput()))) // the operator's logs are not looked at here
	env, c, err := fixture.StartEnvtest("../..", 200, 400)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start envtest; set KUBEBUILDER_ASSETS (make envtest-assets):", err)
		os.Exit(1)
	}
	cfg, k8sClient = env.Config, c
	staging, owned = mustNamespace("stg-"), mustNamespace("owned-")
	op, err := startOperator(staging, owned)
	code := 1
	if err == nil {
		code = m.Run()
		err = op.Stop(30 * time.Second)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	stop(env)
	os.Exit(code)
}

func stop(env *envtest.Environment) {
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
}

// startOperator runs the manager and reconciler as main does, with the fake clock, acting as itself.
func startOperator(namespaces ...string) (*fixture.Operator, error) {
	return fixture.StartOperator(func(ctx context.Context) (ctrl.Manager, error) {
		mopts := fixture.ManagerOptions()
		mopts.Scheme = k8sClient.Scheme()
		mopts.Cache = controllers.CacheOptions(nil)
		mopts.Cache.DefaultNamespaces = map[string]cache.Config{fixture.OperatorNamespace: {}}
		for _, ns := range namespaces {
			mopts.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
		mgr, err := ctrl.NewManager(rest.CopyConfig(cfg), mopts)
		if err != nil {
			return nil, err
		}
		key, err := fingerprint.EnsureKey(ctx, k8sClient, k8sClient, fixture.OperatorNamespace, rand.Reader)
		if err != nil {
			return nil, err
		}
		r := &controllers.RotatedSecretReconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("secret-rotator"),
			Clock: operatorClock, Providers: provider.Registry{provider.KindRandom: random.New(rand.Reader)},
			Fingerprints: fingerprint.New(key),
		}
		return mgr, r.SetupWithManager(ctx, mgr, 2)
	})
}

// mustNamespace creates a namespace named prefix and six random characters.
func mustNamespace(prefix string) string {
	name := prefix + utilrand.String(6)
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		panic(err)
	}
	return name
}

// grant gives ServiceAccount namespace/sa the rules in namespace in (a Role and RoleBinding named name).
func grant(t *testing.T, in, name, namespace, sa string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in}, Rules: rules})
	create(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: sa}},
	})
}

// grantUser gives user the rules in namespace in.
func grantUser(t *testing.T, in, name, user string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in}, Rules: rules})
	create(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	})
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, client.ObjectKeyFromObject(obj), err)
	}
}

func rule(group, resource string, verbs ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}
}

// logOutput is where the operator logs: nowhere, unless PLAN_TEST_LOGS is set.
func logOutput() io.Writer {
	if os.Getenv("PLAN_TEST_LOGS") != "" {
		return os.Stderr
	}
	return io.Discard
}
