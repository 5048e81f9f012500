package controllers_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/provider"
)

var ctx = context.Background()

const wait = 20 * time.Second

// secretData returns the data of a Secret, or nil when it does not exist.
func secretData(namespace, name string) map[string][]byte {
	var s corev1.Secret
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		return nil
	}
	return s.Data
}

func secretValue(namespace, name, key string) string {
	return string(secretData(namespace, name)[key])
}

// poke changes a label, which makes the operator look at the object without asking for anything.
func poke(rs *rotationv1alpha1.RotatedSecret) {
	cluster.Update(rs, func(live *rotationv1alpha1.RotatedSecret) {
		if live.Labels == nil {
			live.Labels = map[string]string{}
		}
		live.Labels["poked"] = fmt.Sprint(time.Now().UnixNano())
	})
}

// settle waits until the operator has seen the latest spec, pokes the object and checks for a while that the
// operator neither rotates nor writes anything: the resourceVersion stays the one the poke produced. Used to show
// that something did NOT happen, and that an idle reconcile costs no write.
func settle(rs *rotationv1alpha1.RotatedSecret) *rotationv1alpha1.RotatedSecret {
	EventuallyWithOffset(1, func(g Gomega) {
		live := cluster.RotatedSecret(rs)
		g.Expect(live.Status.ObservedGeneration).To(Equal(live.Generation))
	}, wait).Should(Succeed())
	before := cluster.RotatedSecret(rs)
	poke(rs)
	poked := cluster.RotatedSecret(rs).ResourceVersion
	var got *rotationv1alpha1.RotatedSecret
	ConsistentlyWithOffset(1, func(g Gomega) {
		got = cluster.RotatedSecret(rs)
		g.Expect(got.Status.CurrentRevision).To(Equal(before.Status.CurrentRevision))
		g.Expect(got.Status.Pending).To(Equal(before.Status.Pending))
		g.Expect(got.ResourceVersion).To(Equal(poked), "the operator wrote to an object it had nothing to do for")
	}, 1500*time.Millisecond, 100*time.Millisecond).Should(Succeed())
	return got
}

// events lists the Events about one object.
func events(rs *rotationv1alpha1.RotatedSecret) []eventsv1.Event {
	var list eventsv1.EventList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(rs.Namespace))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == rs.Name && e.Regarding.Kind == "RotatedSecret" {
			out = append(out, e)
		}
	}
	return out
}

// eventReasons lists the reasons of the Events about one object.
func eventReasons(rs *rotationv1alpha1.RotatedSecret) []string {
	var out []string
	for _, e := range events(rs) {
		out = append(out, e.Reason)
	}
	return out
}

func fp(value string) string {
	return keyer.Of(provider.Values{"value": []byte(value)})
}

// expectStalled waits until rs is Stalled with reason and a message containing text.
func expectStalled(rs *rotationv1alpha1.RotatedSecret, reason, text string) {
	EventuallyWithOffset(1, func(g Gomega) {
		c := fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(reason))
		g.Expect(c.Message).To(ContainSubstring(text))
	}, wait).Should(Succeed())
}

// visibleMessages lists the notes of the Events about rs and the messages of its conditions: what a person sees,
// where no secret may appear.
func visibleMessages(rs *rotationv1alpha1.RotatedSecret) []string {
	var messages []string
	for _, e := range events(rs) {
		messages = append(messages, e.Note)
	}
	for _, c := range cluster.RotatedSecret(rs).Status.Conditions {
		messages = append(messages, c.Message)
	}
	return messages
}
