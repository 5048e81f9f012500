package controllers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
)

// watchTimeoutFactor lengthens the cache's watches. client-go's reflector asks the API server to end each watch
// after a random 5 to 10 minutes and then opens it again from where it was (no list): with six informers an idle
// operator made a request every minute or two for nothing. Six times that, 30 to 60 minutes, is what
// kube-apiserver gives a watch that names no timeout (--min-request-timeout, 1800 s, times 1 to 2). A watch whose
// connection breaks is opened again at once as before, and client-go's HTTP/2 pings find a dead connection
// within a minute.
const watchTimeoutFactor = 6

// longWatches builds the cache's informers (cache.Options.NewInformer) as controller-runtime does, with their
// watches lengthened by watchTimeoutFactor.
func longWatches(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
	inner := toolscache.ToListerWatcherWithContext(lw)
	return toolscache.NewSharedIndexInformer(&toolscache.ListWatch{
		ListWithContextFunc: inner.ListWithContext,
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			if opts.TimeoutSeconds != nil {
				longer := *opts.TimeoutSeconds * watchTimeoutFactor
				opts.TimeoutSeconds = &longer
			}
			return inner.WatchWithContext(ctx, opts)
		},
	}, obj, resync, indexers)
}
