package controllers

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
)

// The cache's informers ask the API server for watches of 30 to 60 minutes, not client-go's 5 to 10: an idle
// operator opens each watch again a sixth as often.
func TestInformersWatchForHalfAnHourOrMore(t *testing.T) {
	g := NewWithT(t)
	var mu sync.Mutex
	var timeouts []int64
	lw := &toolscache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
			return &corev1.SecretList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}, nil
		},
		WatchFuncWithContext: func(_ context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			mu.Lock()
			defer mu.Unlock()
			if opts.TimeoutSeconds != nil {
				timeouts = append(timeouts, *opts.TimeoutSeconds)
			}
			return watch.NewFake(), nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	informer := longWatches(lw, &corev1.Secret{}, 0, toolscache.Indexers{})
	go informer.RunWithContext(ctx)
	g.Eventually(func() []int64 { mu.Lock(); defer mu.Unlock(); return append([]int64(nil), timeouts...) }).Should(
		ContainElement(And(BeNumerically(">=", (30*time.Minute).Seconds()), BeNumerically("<=", (60*time.Minute).Seconds()))))
}
