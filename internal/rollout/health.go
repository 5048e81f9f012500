package rollout

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// progressDeadlineExceeded is the reason of a Deployment's Progressing condition once it stopped making progress.
const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// Status is the health of one workload. At most one of Ready, Paused and Failed is true; none means the
// rollout is still going and Message says what it waits for.
type Status struct {
	// Ready: the workload has finished rolling out its current pod template.
	Ready bool
	// Paused: a Deployment is paused and will not roll until someone resumes it.
	Paused bool
	// Failed: the rollout cannot finish by waiting (progress deadline exceeded, OnDelete update strategy).
	Failed bool
	// Message names the workload and counts; never anything from a Secret.
	Message string
}

// Health says whether the workload has finished rolling out its current pod template, as `kubectl rollout status`
// means it (k8s.io/kubectl/pkg/polymorphichelpers), with the differences noted on each kind.
func Health(obj client.Object) Status {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if o != nil {
			return named(rotationv1alpha1.KindDeployment, o, deploymentHealth(o))
		}
	case *appsv1.StatefulSet:
		if o != nil {
			return named(rotationv1alpha1.KindStatefulSet, o, statefulSetHealth(o))
		}
	case *appsv1.DaemonSet:
		if o != nil {
			return named(rotationv1alpha1.KindDaemonSet, o, daemonSetHealth(o))
		}
	}
	return Status{Failed: true, Message: fmt.Sprintf("cannot tell the health of %T: %v", obj, errUnsupported)}
}

// named starts the message with the workload, e.g. "Deployment backend/api: 1 of 3 updated replicas are available".
func named(kind rotationv1alpha1.WorkloadKind, obj client.Object, s Status) Status {
	s.Message = describe(kind, obj.GetNamespace(), obj.GetName()) + ": " + s.Message
	return s
}

// waiting, ready and failed build a Status; the kind functions leave naming the workload to named.
func waiting(format string, args ...any) Status {
	return Status{Message: fmt.Sprintf(format, args...)}
}

func ready(format string, args ...any) Status {
	s := waiting(format, args...)
	s.Ready = true
	return s
}

func failed(format string, args ...any) Status {
	s := waiting(format, args...)
	s.Failed = true
	return s
}

// desiredReplicas is spec.replicas, which the API server defaults to 1.
func desiredReplicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// deploymentHealth is kubectl's check, plus: a paused Deployment that has not finished is Paused rather than
// waiting forever, and ready and available replicas must reach spec.replicas.
func deploymentHealth(d *appsv1.Deployment) Status {
	s := deploymentProgress(d)
	if d.Spec.Paused && !s.Ready && !s.Failed {
		// A paused Deployment's controller keeps its status current but creates no new ReplicaSet, so an
		// unfinished rollout stays unfinished. One that finished before the pause is still Ready above.
		s.Paused = true
		s.Message = "paused; resume it to roll out (" + s.Message + ")"
	}
	return s
}

// deploymentProgress is kubectl's order of checks; the first unmet one is what the rollout waits for.
func deploymentProgress(d *appsv1.Deployment) Status {
	st := d.Status
	desired := desiredReplicas(d.Spec.Replicas)
	if d.Generation > st.ObservedGeneration {
		return waiting("waiting for the spec update to be observed")
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == progressDeadlineExceeded {
			return failed("exceeded its progress deadline")
		}
	}
	switch {
	case st.UpdatedReplicas < desired:
		return waiting("%d of %d new replicas have been updated", st.UpdatedReplicas, desired)
	case st.Replicas > st.UpdatedReplicas:
		return waiting("%d old replicas are pending termination", st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas < st.UpdatedReplicas:
		return waiting("%d of %d updated replicas are available", st.AvailableReplicas, st.UpdatedReplicas)
	case st.ReadyReplicas < desired:
		// kubectl stops at the check above; a status that counts fewer ready pods than wanted is not done.
		return waiting("%d of %d replicas are ready", st.ReadyReplicas, desired)
	}
	return ready("%d replicas rolled out", st.UpdatedReplicas)
}

// statefulSetHealth is kubectl's check, except that a partition of 0 (what the API server defaults) also waits
// for currentRevision to reach updateRevision, and every replica must be available.
func statefulSetHealth(s *appsv1.StatefulSet) Status {
	st := s.Status
	desired := desiredReplicas(s.Spec.Replicas)
	if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return failed("uses the OnDelete update strategy, so a pod-template change restarts no pods")
	}
	if st.ObservedGeneration == 0 || s.Generation > st.ObservedGeneration {
		return waiting("waiting for the spec update to be observed")
	}
	if st.ReadyReplicas < desired {
		return waiting("%d of %d pods are ready", st.ReadyReplicas, desired)
	}
	var partition int32
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = *ru.Partition
	}
	if partition > 0 {
		// Pods below the partition keep the old template by design, so the revisions never agree.
		if want := desired - partition; st.UpdatedReplicas < want {
			return waiting("partitioned rollout: %d of %d new pods have been updated", st.UpdatedReplicas, want)
		}
	} else {
		if st.UpdatedReplicas < desired {
			return waiting("%d of %d new pods have been updated", st.UpdatedReplicas, desired)
		}
		if st.CurrentRevision != st.UpdateRevision {
			return waiting("waiting for statefulset rolling update to complete (%d pods updated)", st.UpdatedReplicas)
		}
	}
	if st.AvailableReplicas < desired {
		return waiting("%d of %d pods are available", st.AvailableReplicas, desired)
	}
	if partition > 0 {
		return ready("partitioned rollout complete: %d new pods, pods below ordinal %d keep the old template", st.UpdatedReplicas, partition)
	}
	return ready("%d pods rolled out", st.UpdatedReplicas)
}

// daemonSetHealth is kubectl's check.
func daemonSetHealth(d *appsv1.DaemonSet) Status {
	st := d.Status
	if d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return failed("uses the OnDelete update strategy, so a pod-template change restarts no pods")
	}
	if d.Generation > st.ObservedGeneration {
		return waiting("waiting for the spec update to be observed")
	}
	if st.UpdatedNumberScheduled < st.DesiredNumberScheduled {
		return waiting("%d of %d new pods have been updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled)
	}
	if st.NumberAvailable < st.DesiredNumberScheduled {
		return waiting("%d of %d updated pods are available", st.NumberAvailable, st.DesiredNumberScheduled)
	}
	return ready("%d pods rolled out", st.UpdatedNumberScheduled)
}

// Replicas returns how many pods of a workload are ready and how many it wants, as `kubectl get` shows them:
// readyReplicas of spec.replicas (default 1) for a Deployment or StatefulSet, numberReady of
// desiredNumberScheduled for a DaemonSet. 0, 0 for anything else.
func Replicas(obj client.Object) (ready, desired int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if o != nil {
			return o.Status.ReadyReplicas, desiredReplicas(o.Spec.Replicas)
		}
	case *appsv1.StatefulSet:
		if o != nil {
			return o.Status.ReadyReplicas, desiredReplicas(o.Spec.Replicas)
		}
	case *appsv1.DaemonSet:
		if o != nil {
			return o.Status.NumberReady, o.Status.DesiredNumberScheduled
		}
	}
	return 0, 0
}
