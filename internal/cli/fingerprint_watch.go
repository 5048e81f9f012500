package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// watch prints a line for every change of what a copy holds, as watches on the target Secrets deliver them, until
// ctx ends (Ctrl-C). Every version the API server sends is fingerprinted, so a value that was written for a moment
// shows up too.
func (f *fingerprinter) watch(ctx context.Context, noHeaders bool) error {
	var rs rotationv1alpha1.RotatedSecret
	if err := f.cl.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: f.name}, &rs); err != nil {
		return fmt.Errorf("reading RotatedSecret %s/%s: %w", f.ns, f.name, err)
	}
	gs, _ := groups(&rs)
	rows := make(chan []string)
	for _, g := range gs {
		go f.watchSecret(ctx, g, rows)
	}
	if !noHeaders {
		fmt.Fprintln(f.out, "TIME  TARGET  KEYS  FINGERPRINT  HOLDS")
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case row := <-rows:
			// One line per change, written at once: the holds column, which has spaces, comes last.
			if _, err := fmt.Fprintln(f.out, strings.Join(row, "  ")); err != nil {
				return err
			}
		}
	}
}

// pause waits a second before a watch is opened again, or until ctx ends.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}

// watchSecret watches one target Secret and sends a row whenever one of its copies changes.
func (f *fingerprinter) watchSecret(ctx context.Context, g *group, rows chan<- []string) {
	shown := map[string]string{}
	rv := ""
	for ctx.Err() == nil {
		w, err := f.cl.Watch(ctx, &corev1.SecretList{}, &client.ListOptions{Namespace: g.namespace,
			FieldSelector: fields.OneTermEqualSelector("metadata.name", g.secret), Raw: &metav1.ListOptions{ResourceVersion: rv}})
		if err != nil {
			pause(ctx)
			continue
		}
		for ev := range w.ResultChan() {
			s, ok := ev.Object.(*corev1.Secret)
			if !ok {
				continue
			}
			rv = s.ResourceVersion
			var readErr error
			if ev.Type == watch.Deleted {
				s, readErr = &corev1.Secret{}, apierrors.NewNotFound(corev1.Resource("secrets"), g.secret)
			}
			var rs rotationv1alpha1.RotatedSecret
			if err := f.cl.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: f.name}, &rs); err != nil {
				continue
			}
			for _, c := range f.copies(&rs, g, s, readErr) {
				id := strings.Join(c.Keys, ",")
				if shown[id] == c.Fingerprint+c.Holds {
					continue
				}
				shown[id] = c.Fingerprint + c.Holds
				row := append([]string{time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}, copyRow(c)[:4]...)
				select {
				case rows <- row:
				case <-ctx.Done():
					w.Stop()
					return
				}
			}
		}
		w.Stop()
		pause(ctx)
	}
}
