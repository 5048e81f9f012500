package monitoring

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/metrics"
)

// prometheusMade are series Prometheus itself writes for every scrape target; the operator exports none of them.
var prometheusMade = map[string]bool{"up": true}

// useOperatorMetrics sets every secret_rotator_* metric once, through the functions the controllers call, so each
// has a series (a vector without one is not gathered). It returns a function that removes them again.
func useOperatorMetrics() func() {
	rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring-test", Name: "probe"}}
	now := metav1.Now()
	rs.Spec.Suspend = true
	rs.Status = rotationv1alpha1.RotatedSecretStatus{
		NextRotationTime: &now, FailedAttempts: 1,
		Conditions:  []metav1.Condition{{Type: rotationv1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: "Probe"}},
		Pending:     &rotationv1alpha1.PendingRotation{Revision: 2, Step: rotationv1alpha1.StepRollingOut},
		Scheduled:   &rotationv1alpha1.ScheduledRotation{StartTime: now},
		Revocations: []rotationv1alpha1.Revocation{{Revision: 1, Since: now}},
		History:     []rotationv1alpha1.RotationRecord{{Revision: 1, Outcome: rotationv1alpha1.OutcomeSucceeded, CompletionTime: &now}},
	}
	metrics.ObserveStatus(rs)
	metrics.CountOutcomes(rs.Namespace, rs.Name, nil, rs.Status.History)
	metrics.Rotations.WithLabelValues(rs.Namespace, rs.Name, "Manual").Inc()
	metrics.RotationDuration.WithLabelValues("Probe").Observe(1)
	metrics.Failures.WithLabelValues(rs.Namespace, rs.Name, "Probe").Inc()
	metrics.Repairs.WithLabelValues(rs.Namespace, rs.Name).Inc()
	return func() {
		metrics.Forget(rs.Namespace, rs.Name)
		metrics.RotationDuration.DeleteLabelValues("Probe")
	}
}

// runController runs a controller named like the operator's ("rotatedsecret") through one reconcile, so
// controller-runtime's controller and work-queue metrics have their series, as they do in the operator.
func runController(t *testing.T) {
	g := NewWithT(t)
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	reconciled := make(chan struct{}, 1)
	c, err := controller.NewUnmanaged("rotatedsecret", controller.Options{
		SkipNameValidation: ptr.To(true),
		Reconciler: reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			select {
			case reconciled <- struct{}{}:
			default:
			}
			return reconcile.Result{}, nil
		}),
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Watch(source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "monitoring-test", Name: "probe"}})
		return nil
	}))).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	defer func() {
		cancel()
		g.Expect(<-done).To(Succeed())
	}()
	g.Eventually(reconciled, 10*time.Second).Should(Receive())
	// The reconcile's duration is observed right after it returns.
	g.Eventually(gathered, 10*time.Second).Should(HaveKey("controller_runtime_reconcile_time_seconds_bucket"))
}

// gathered lists the names the operator's registry serves now: each family's name and, for histograms and
// summaries, the names of their series (_bucket, _sum, _count).
func gathered() (map[string]bool, error) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, f := range families {
		n := f.GetName()
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[n], names[n+"_sum"], names[n+"_count"] = true, true, true
		default:
			names[n] = true
		}
	}
	return names, nil
}

// registered reports whether a collector of that exact name is registered though it has no series yet (e.g.
// leader_election_master_status before leader election ran, rest_client_* before the first request): registering
// a probe of the same name conflicts with it. Histogram series names (_bucket …) are never found this way.
func registered(name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe of " + name})
	err := ctrlmetrics.Registry.Register(probe)
	if err == nil {
		ctrlmetrics.Registry.Unregister(probe)
		return false
	}
	var already prometheus.AlreadyRegisteredError
	return errors.As(err, &already) || strings.Contains(err.Error(), "previously registered descriptor with the same fully-qualified name")
}

// unknownMetrics returns, for each query that names a metric the operator does not export, the query and the
// unknown names.
func unknownMetrics(exported map[string]bool, queries []string) (map[string][]string, error) {
	unknown := map[string][]string{}
	for _, q := range queries {
		names, err := metricNames(q)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if !exported[n] && !prometheusMade[n] && !registered(n) {
				unknown[q] = append(unknown[q], n)
			}
		}
	}
	return unknown, nil
}

func ruleQueries(t *testing.T) []string {
	var out []string
	for _, grp := range readRules(t).Spec.Groups {
		for _, r := range grp.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}

func TestQueriesNameOnlyMetricsTheOperatorExports(t *testing.T) {
	g := NewWithT(t)
	defer useOperatorMetrics()()
	runController(t)
	exported, err := gathered()
	g.Expect(err).NotTo(HaveOccurred())
	for _, n := range []string{"secret_rotator_stalled", "secret_rotator_rotation_duration_seconds_bucket",
		"controller_runtime_reconcile_total", "workqueue_depth"} {
		g.Expect(exported).To(HaveKey(n), "the registry lost a metric every query set relies on")
	}

	for what, queries := range map[string][]string{"config/prometheus/rules.yaml": ruleQueries(t),
		"config/grafana/secret-rotator.json": dashboardQueries(t)} {
		unknown, err := unknownMetrics(exported, queries)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(unknown).To(BeEmpty(), "%s names metrics the operator does not export (query: names)", what)
	}

	// A misspelled metric is caught, a histogram's series name too, and so is a suffix on a gauge.
	unknown, err := unknownMetrics(exported, []string{
		`sum(secret_rotator_stalled)`, `time() - secret_rotator_next_rotation_timestamp`,
		`histogram_quantile(0.9, rate(secret_rotator_rotation_duration_seconds_buckets[5m]))`,
		`leader_election_master_status`, `rate(rest_client_requests_total[5m])`, `secret_rotator_stalled_bucket`,
	})
	g.Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, n := range unknown {
		names = append(names, n...)
	}
	slices.Sort(names)
	g.Expect(names).To(Equal([]string{"secret_rotator_next_rotation_timestamp",
		"secret_rotator_rotation_duration_seconds_buckets", "secret_rotator_stalled_bucket"}))
}
