package faults

import (
	"context"
	"fmt"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// kubeControllers plays the Deployment and Job controllers that envtest lacks, for one namespace, on the API
// server directly (never through the fault proxy): a Deployment whose spec changed is reported rolled out at
// once, a Job created is reported complete. It records every change of a pod template's restart annotation.
type kubeControllers struct {
	cs *kubernetes.Clientset
	ns string

	mu sync.Mutex
	// restartAnnotation is the last restart annotation value seen per Deployment ("" for none).
	restartAnnotation map[string]string
	// restarts counts, per "<deployment>@<revision>", the times a Deployment's pod template changed to carry
	// that revision: more than one means the workload was restarted twice for one revision.
	restarts map[string]int
	// jobs holds the UIDs seen per Job name: a Job created twice under one name has two.
	jobs map[string]map[string]bool
	// errs are failures of the simulation itself (a watch that ended, a status write refused).
	errs []error
}

// startKubeControllers starts the simulation; it stops when the spec ends.
func startKubeControllers(ns string) *kubeControllers {
	GinkgoHelper()
	cs, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	k := &kubeControllers{cs: cs, ns: ns, restartAnnotation: map[string]string{}, restarts: map[string]int{},
		jobs: map[string]map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	DeferCleanup(func() { cancel(); wg.Wait() })

	deployments, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	k.run(ctx, &wg, deployments.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return cs.AppsV1().Deployments(ns).Watch(ctx, o)
	}, k.deployment)
	k.run(ctx, &wg, jobs.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return cs.BatchV1().Jobs(ns).Watch(ctx, o)
	}, k.job)
	return k
}

// run handles the events of one watch, from resourceVersion on, in order, until ctx ends.
func (k *kubeControllers) run(ctx context.Context, wg *sync.WaitGroup, resourceVersion string,
	w cache.WatchFuncWithContext, handle func(context.Context, runtime.Object) error) {
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, resourceVersion, &cache.ListWatch{WatchFuncWithContext: w})
	Expect(err).NotTo(HaveOccurred())
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer rw.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-rw.ResultChan():
				switch {
				case !ok:
					if ctx.Err() == nil {
						k.fail(fmt.Errorf("a watch of namespace %s ended", k.ns))
					}
					return
				case ev.Type == watch.Error:
					k.fail(apierrors.FromObject(ev.Object))
				case ev.Type == watch.Added || ev.Type == watch.Modified:
					if err := handle(ctx, ev.Object); err != nil && ctx.Err() == nil {
						k.fail(err)
					}
				}
			}
		}
	}()
}

func (k *kubeControllers) fail(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.errs = append(k.errs, err)
}

// Errors returns the failures of the simulation.
func (k *kubeControllers) Errors() []error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]error(nil), k.errs...)
}

// Restarts returns, per "<deployment>@<revision>", how often the Deployment's pod template changed to carry it.
func (k *kubeControllers) Restarts() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]int{}
	for key, n := range k.restarts {
		out[key] = n
	}
	return out
}

// Jobs returns how many Jobs were seen under each name.
func (k *kubeControllers) Jobs() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]int{}
	for name, uids := range k.jobs {
		out[name] = len(uids)
	}
	return out
}

// deployment records a change of the restart annotation and reports a spec change rolled out, as the
// Deployment controller would once every new pod is available.
func (k *kubeControllers) deployment(ctx context.Context, o runtime.Object) error {
	d := o.(*appsv1.Deployment)
	rev := ""
	for key, v := range d.Spec.Template.Annotations {
		if strings.HasPrefix(key, rotationv1alpha1.RestartAnnotationPrefix) {
			rev = v
		}
	}
	k.mu.Lock()
	if rev != k.restartAnnotation[d.Name] {
		k.restartAnnotation[d.Name] = rev
		if rev != "" {
			k.restarts[d.Name+"@"+rev]++
		}
	}
	k.mu.Unlock()
	if d.Generation <= d.Status.ObservedGeneration {
		return nil
	}
	n := *d.Spec.Replicas
	d = d.DeepCopy()
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
		ReadyReplicas: n, AvailableReplicas: n}
	_, err := k.cs.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// A newer version exists; its own event comes next and is handled then.
		return nil
	}
	return err
}

// job reports a new Job succeeded, as the Job controller would once its pod exited 0.
func (k *kubeControllers) job(ctx context.Context, o runtime.Object) error {
	j := o.(*batchv1.Job)
	k.mu.Lock()
	if k.jobs[j.Name] == nil {
		k.jobs[j.Name] = map[string]bool{}
	}
	k.jobs[j.Name][string(j.UID)] = true
	k.mu.Unlock()
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	j = j.DeepCopy()
	now := metav1.Now()
	j.Status.StartTime = &now
	j.Status.Succeeded = 1
	j.Status.CompletionTime = &now
	j.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now}}
	_, err := k.cs.BatchV1().Jobs(j.Namespace).UpdateStatus(ctx, j, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}
