package rollout

import (
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// healthCase is one row of a Health table: the object, the state it must be in and words the message must hold.
type healthCase struct {
	name                  string
	obj                   client.Object
	ready, paused, failed bool
	message               []string
}

func runHealth(t *testing.T, prefix string, cases []healthCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			s := Health(tc.obj)
			g.Expect(s.Ready).To(Equal(tc.ready), s.Message)
			g.Expect(s.Paused).To(Equal(tc.paused), s.Message)
			g.Expect(s.Failed).To(Equal(tc.failed), s.Message)
			g.Expect(s.Message).To(HavePrefix(prefix), "the message names the workload")
			for _, m := range tc.message {
				g.Expect(s.Message).To(ContainSubstring(m))
			}
		})
	}
}

// deployment is a Deployment of 3 replicas that has rolled out; change shapes one row.
func deployment(change func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api", Generation: 4},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 4, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}},
		},
	}
	if change != nil {
		change(d)
	}
	return d
}

func TestHealthDeployment(t *testing.T) {
	deadline := func(d *appsv1.Deployment) {
		d.Status.Conditions[0] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}
	}
	runHealth(t, "Deployment shop/api: ", []healthCase{
		{name: "rolled out", obj: deployment(nil), ready: true, message: []string{"3 replicas rolled out"}},
		{name: "spec update not observed", obj: deployment(func(d *appsv1.Deployment) { d.Generation = 5 }),
			message: []string{"spec update to be observed"}},
		{name: "progress deadline exceeded", obj: deployment(func(d *appsv1.Deployment) { deadline(d); d.Status.UpdatedReplicas = 1 }),
			failed: true, message: []string{"exceeded its progress deadline"}},
		{name: "progress deadline on an unobserved spec waits for the new generation",
			obj:     deployment(func(d *appsv1.Deployment) { deadline(d); d.Generation = 5 }),
			message: []string{"spec update to be observed"}},
		{name: "another reason on Available is not a deadline", obj: deployment(func(d *appsv1.Deployment) {
			d.Status.Conditions = append(d.Status.Conditions, appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Reason: "ProgressDeadlineExceeded"})
		}), ready: true},
		{name: "replicas not updated", obj: deployment(func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 }),
			message: []string{"1 of 3 new replicas have been updated"}},
		{name: "replicas default to 1", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Replicas = nil
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: 4}
		}), message: []string{"0 of 1 new replicas have been updated"}},
		{name: "old replicas pending termination", obj: deployment(func(d *appsv1.Deployment) { d.Status.Replicas = 5 }),
			message: []string{"2 old replicas are pending termination"}},
		{name: "updated replicas not available", obj: deployment(func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 2 }),
			message: []string{"2 of 3 updated replicas are available"}},
		{name: "fewer ready than desired", obj: deployment(func(d *appsv1.Deployment) { d.Status.ReadyReplicas = 2 }),
			message: []string{"2 of 3 replicas are ready"}},
		{name: "scaled to zero", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Replicas = ptr.To[int32](0)
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: 4}
		}), ready: true},
		{name: "paused before finishing", obj: deployment(func(d *appsv1.Deployment) { d.Spec.Paused = true; d.Status.UpdatedReplicas = 0 }),
			paused: true, message: []string{"paused", "0 of 3 new replicas have been updated"}},
		{name: "paused with the spec update unobserved", obj: deployment(func(d *appsv1.Deployment) { d.Spec.Paused = true; d.Generation = 5 }),
			paused: true, message: []string{"paused", "spec update to be observed"}},
		{name: "paused after finishing is ready", obj: deployment(func(d *appsv1.Deployment) { d.Spec.Paused = true }),
			ready: true},
	})
}

// statefulSet is a StatefulSet of 3 replicas that has rolled out; change shapes one row.
func statefulSet(change func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", Generation: 2},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](3),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)},
			},
		},
		Status: appsv1.StatefulSetStatus{
			ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3, CurrentReplicas: 3, AvailableReplicas: 3,
			CurrentRevision: "db-2", UpdateRevision: "db-2",
		},
	}
	if change != nil {
		change(s)
	}
	return s
}

func TestHealthStatefulSet(t *testing.T) {
	partition := func(p int32) func(*appsv1.StatefulSet) {
		return func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(p)
			s.Status.CurrentRevision = "db-1" // pods below the partition stay on the old revision
		}
	}
	runHealth(t, "StatefulSet shop/db: ", []healthCase{
		{name: "rolled out", obj: statefulSet(nil), ready: true, message: []string{"3 pods rolled out"}},
		{name: "strategy left empty means RollingUpdate", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{}
		}), ready: true},
		{name: "OnDelete is never restarted by a template change", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}), failed: true, message: []string{"OnDelete"}},
		{name: "never observed", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Generation, s.Status.ObservedGeneration = 0, 0 }),
			message: []string{"spec update to be observed"}},
		{name: "spec update not observed", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Generation = 3 }),
			message: []string{"spec update to be observed"}},
		{name: "pods not ready", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Status.ReadyReplicas = 1 }),
			message: []string{"1 of 3 pods are ready"}},
		{name: "replicas default to 1", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.Replicas = nil
			s.Status.ReadyReplicas = 0
		}), message: []string{"0 of 1 pods are ready"}},
		{name: "pods not updated", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Status.UpdatedReplicas = 2 }),
			message: []string{"2 of 3 new pods have been updated"}},
		{name: "revisions differ", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Status.CurrentRevision = "db-1" }),
			message: []string{"waiting for statefulset rolling update to complete"}},
		{name: "revisions differ without rollingUpdate", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = nil
			s.Status.CurrentRevision = "db-1"
		}), message: []string{"waiting for statefulset rolling update to complete"}},
		{name: "pods not available", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Status.AvailableReplicas = 2 }),
			message: []string{"2 of 3 pods are available"}},
		{name: "partition not reached", obj: statefulSet(func(s *appsv1.StatefulSet) { partition(2)(s); s.Status.UpdatedReplicas = 0 }),
			message: []string{"partitioned rollout: 0 of 1 new pods have been updated"}},
		{name: "partition reached", obj: statefulSet(func(s *appsv1.StatefulSet) { partition(2)(s); s.Status.UpdatedReplicas = 1 }),
			ready: true, message: []string{"partitioned rollout complete", "below ordinal 2"}},
		{name: "partition reached, pods not available", obj: statefulSet(func(s *appsv1.StatefulSet) {
			partition(2)(s)
			s.Status.UpdatedReplicas, s.Status.AvailableReplicas = 1, 2
		}), message: []string{"2 of 3 pods are available"}},
	})
}

// daemonSet is a DaemonSet on 3 nodes that has rolled out; change shapes one row.
func daemonSet(change func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	d := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "agent", Generation: 7},
		Spec:       appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
		Status: appsv1.DaemonSetStatus{
			ObservedGeneration: 7, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3,
		},
	}
	if change != nil {
		change(d)
	}
	return d
}

func TestHealthDaemonSet(t *testing.T) {
	runHealth(t, "DaemonSet kube-system/agent: ", []healthCase{
		{name: "rolled out", obj: daemonSet(nil), ready: true, message: []string{"3 pods rolled out"}},
		{name: "strategy left empty means RollingUpdate", obj: daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{}
		}), ready: true},
		{name: "OnDelete is never restarted by a template change", obj: daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
		}), failed: true, message: []string{"OnDelete"}},
		{name: "spec update not observed", obj: daemonSet(func(d *appsv1.DaemonSet) { d.Generation = 8 }),
			message: []string{"spec update to be observed"}},
		{name: "pods not updated", obj: daemonSet(func(d *appsv1.DaemonSet) { d.Status.UpdatedNumberScheduled = 1 }),
			message: []string{"1 of 3 new pods have been updated"}},
		{name: "pods not available", obj: daemonSet(func(d *appsv1.DaemonSet) { d.Status.NumberAvailable = 2 }),
			message: []string{"2 of 3 updated pods are available"}},
		{name: "no node to run on", obj: daemonSet(func(d *appsv1.DaemonSet) { d.Status = appsv1.DaemonSetStatus{ObservedGeneration: 7} }),
			ready: true, message: []string{"0 pods rolled out"}},
	})
}

func TestHealthUnsupported(t *testing.T) {
	g := NewWithT(t)
	for _, obj := range []client.Object{nil, (*appsv1.Deployment)(nil), (*appsv1.StatefulSet)(nil), (*appsv1.DaemonSet)(nil), &corev1.Pod{}} {
		s := Health(obj)
		g.Expect(s.Failed).To(BeTrue(), "%T", obj)
		g.Expect(s.Ready).To(BeFalse(), "%T", obj)
	}
}
