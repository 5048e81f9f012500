package metrics

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	// The operator's registry holds controller-runtime's collectors (Go runtime, process, controllers, work
	// queues); they register when this package is linked in.
	_ "sigs.k8s.io/controller-runtime/pkg/controller"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// promhttpHandler is what controller-runtime's metrics server served at /metrics.
func promhttpHandler() http.Handler {
	return promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

// floats are values of every shape expfmt writes differently.
var floats = []float64{0, math.Copysign(0, -1), 1, -1, 2.5, 0.1, 1e-7, 1e21, 123456789012, 1767268800,
	1767268800.5, math.NaN(), math.Inf(1), math.Inf(-1)}

// observeOddities sets up series whose label values need escaping or cleaning, whose order differs by name and
// by namespace, and whose values take every shape in floats. It returns a function that forgets them.
func observeOddities() (forget func()) {
	Rotations.WithLabelValues(`quo"te`, "back\\slash\nnew line", "Manual").Inc()
	Failures.WithLabelValues(`quo"te`, "back\\slash\nnew line", "bad\xffUTF-8 \"reason\"\\\n").Inc()
	Rotations.WithLabelValues("z-last", "a-first", "Manual").Inc()
	Rotations.WithLabelValues("a-first", "b-second", "Emergency").Inc()
	Rotations.WithLabelValues("a-first", "b-second", "Created").Inc()
	Outcomes.WithLabelValues("a-first", "b-second", "Succeeded").Inc()
	var keys []key
	for i, v := range floats {
		k := key{"floats", fmt.Sprintf("value-%02d", i)}
		objects.setGauges(k, []entry{{family: NextRotation, value: v},
			{family: LastOutcome, label: "Succeeded", value: v}, {family: LastOutcome, label: "Failed", value: -v}})
		keys = append(keys, k)
	}
	return func() {
		for _, k := range append(keys, key{`quo"te`, "back\\slash\nnew line"}, key{"z-last", "a-first"},
			key{"a-first", "b-second"}) {
			objects.forget(k)
		}
	}
}

// changing reports whether a line of the text exposition belongs to a family whose values change from one
// gather to the next (the Go runtime's and the process's); the rest must match byte for byte.
func changing(line string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
	return strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_")
}

type response struct {
	status          int
	contentType     string
	contentEncoding string
	// body is the body decompressed, without the lines of changing families.
	body string
}

func serve(t *testing.T, h http.Handler, target string, header http.Header) response {
	t.Helper()
	g := NewWithT(t)
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header = header
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body io.Reader = rec.Body
	if rec.Header().Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(rec.Body)
		g.Expect(err).NotTo(HaveOccurred())
		body = gz
	}
	raw, err := io.ReadAll(body)
	g.Expect(err).NotTo(HaveOccurred())
	var kept []string
	for line := range strings.Lines(string(raw)) {
		if !changing(line) {
			kept = append(kept, line)
		}
	}
	return response{rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Content-Encoding"), strings.Join(kept, "")}
}

// The handler serves what promhttp served for a text request: status, Content-Type, Content-Encoding and the
// body byte for byte, whatever the Accept and Accept-Encoding headers and the name[] filter.
func TestHandlerServesWhatPromhttpServed(t *testing.T) {
	g := NewWithT(t)
	defer observeEachState()()
	defer observeOddities()()
	RotationDuration.WithLabelValues("Test").Observe(3) // a family of the registry among the store's
	defer RotationDuration.DeleteLabelValues("Test")

	prometheusAccept := "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5," +
		"text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
	accepts := []string{"", prometheusAccept, "text/plain;version=0.0.4", "text/plain;version=0.0.4;escaping=values",
		"application/openmetrics-text"}
	encodings := []string{"", "gzip", "gzip, deflate, br", "identity;q=1, gzip;q=0.5", "gzip;q=0.9, identity;q=0.5",
		"gzip;q=0", "*", "*;q=0", "identity;q=0, gzip;q=0", "gzip;level=9", "br;level=1, gzip", "deflate, GZIP",
		"gzip;q=1.5, identity", "identity;q=0.5,*;q=0.7"}
	targets := []string{"/metrics", "/metrics?name[]=secret_rotator_stalled&name[]=secret_rotator_rotation_duration_seconds" +
		"&name[]=secret_rotator_failures_total"}
	h := NewHandler()
	for _, accept := range accepts {
		for _, encoding := range encodings {
			for _, target := range targets {
				header := http.Header{"Accept": {accept}, "Accept-Encoding": {encoding}}
				want := serve(t, promhttpHandler(), target, header)
				got := serve(t, h, target, header)
				g.Expect(got).To(Equal(want), "Accept %q, Accept-Encoding %q, %s", accept, encoding, target)
			}
		}
	}

	// The comparison saw what it is about.
	got := serve(t, h, "/metrics", http.Header{"Accept-Encoding": {"gzip"}})
	g.Expect(got.contentEncoding).To(Equal("gzip"))
	g.Expect(got.contentType).To(Equal(`text/plain; version=0.0.4; charset=utf-8; escaping=underscores`))
	for _, f := range perObjectFamilies {
		g.Expect(got.body).To(ContainSubstring("\n# HELP " + f + " "))
	}
	g.Expect(got.body).To(ContainSubstring(`secret_rotator_failures_total{name="back\\slash\nnew line",namespace="quo\"te",` +
		`reason="bad` + "\uFFFD" + `UTF-8 \"reason\"\\\n"} 1`))
	for _, v := range []string{" 0\n", " 2.5\n", " 1e+21\n", " 1.7672688e+09\n", " 1.7672688005e+09\n", " NaN\n",
		" +Inf\n", " -Inf\n"} {
		g.Expect(got.body).To(ContainSubstring(v))
	}
	g.Expect(got.body).NotTo(ContainSubstring(" -0\n"))
	g.Expect(got.body).To(ContainSubstring("\n# TYPE secret_rotator_rotation_duration_seconds histogram\n"))
	g.Expect(got.body).To(ContainSubstring("\ncontroller_runtime_webhook_panics_total 0\n"))
	g.Expect(got.body).To(MatchRegexp(`(?s)secret_rotator_rotations_total\{name="a-first",namespace="z-last",trigger="Manual"\} 1\n` +
		`secret_rotator_rotations_total\{name="b-second",namespace="a-first",trigger="Created"\} 1\n` +
		`secret_rotator_rotations_total\{name="b-second",namespace="a-first",trigger="Emergency"\} 1\n`))
}

// A namespace or name the registry refuses gets promhttp's error, as before.
func TestHandlerAnswersAnUngatherableSeriesAsPromhttpDid(t *testing.T) {
	g := NewWithT(t)
	Rotations.WithLabelValues("bad\xff", "name", "Manual").Inc()
	defer Forget("bad\xff", "name")
	want := serve(t, promhttpHandler(), "/metrics", http.Header{})
	g.Expect(want.status).To(Equal(http.StatusInternalServerError))
	g.Expect(serve(t, NewHandler(), "/metrics", http.Header{})).To(Equal(want))
}

// A protobuf scrape gets the whole registry from promhttp: the store's series with their created timestamps.
func TestHandlerServesProtobufFromTheWholeRegistry(t *testing.T) {
	g := NewWithT(t)
	defer observeEachState()()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	rec := httptest.NewRecorder()
	NewHandler().ServeHTTP(rec, req)
	g.Expect(rec.Code).To(Equal(http.StatusOK))
	g.Expect(expfmt.ResponseFormat(rec.Result().Header).FormatType()).To(Equal(expfmt.TypeProtoDelim))

	dec := expfmt.NewDecoder(rec.Body, expfmt.ResponseFormat(rec.Result().Header))
	series := map[string]int{}
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			break
		}
		g.Expect(err).NotTo(HaveOccurred())
		for _, m := range mf.GetMetric() {
			if mf.GetType() == dto.MetricType_COUNTER && strings.HasPrefix(mf.GetName(), "secret_rotator_") {
				g.Expect(m.GetCounter().GetCreatedTimestamp()).NotTo(BeNil())
			}
		}
		series[mf.GetName()] = len(mf.GetMetric())
	}
	g.Expect(series).To(HaveKeyWithValue("secret_rotator_rotations_total", 2))
	g.Expect(series).To(HaveKeyWithValue("secret_rotator_last_outcome_timestamp_seconds", 3))
	g.Expect(series).To(HaveKey("go_goroutines")) // the families changing() leaves out are served
	g.Expect(series).To(HaveKey("go_goroutines"))
}

// ctrlmetrics.Registry still refuses a collector named like one of the store's families, and still gathers the
// store's series.
func TestRegistryKeepsTheStoresNames(t *testing.T) {
	g := NewWithT(t)
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "secret_rotator_stalled", Help: "clash"})
	g.Expect(ctrlmetrics.Registry.Register(clash)).NotTo(Succeed())
	Rotations.WithLabelValues("registry", "names", string(rotationv1alpha1.TriggerManual)).Inc()
	defer Forget("registry", "names")
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(families).To(ContainElement(HaveField("GetName()", "secret_rotator_rotations_total")))
	// The handler's own gatherer has every family but the store's.
	families, err = base.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(families).NotTo(ContainElement(HaveField("GetName()", "secret_rotator_rotations_total")))
	g.Expect(families).To(ContainElement(HaveField("GetName()", "go_goroutines")))
}

// discard is a ResponseWriter that keeps nothing, as a network connection keeps nothing of a scrape.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// allocated is the bytes f allocates, on average over a few calls after a first one.
func allocated(f func()) uint64 {
	f()
	const runs = 3
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

func serveTo(h http.Handler, accept string) func() {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", accept)
	return func() { h.ServeHTTP(&discard{header: http.Header{}}, req) }
}

// A scrape at 10,000 idle RotatedSecrets allocates a small fraction of what gathering the registry does (17 MB):
// the garbage an idle operator's memory shows after each scrape.
func TestScrapeAllocatesLittle(t *testing.T) {
	g := NewWithT(t)
	names := idleNames(idleObjects)
	observeIdle(names)
	defer forgetAll(names)
	gather := allocated(func() { _, _ = ctrlmetrics.Registry.Gather() })
	scrape := allocated(serveTo(NewHandler(), ""))
	gzipped := allocated(serveTo(NewHandler(), "gzip"))
	t.Logf("bytes allocated at %d idle RotatedSecrets: Gather %d, a scrape %d, gzipped %d", idleObjects, gather, scrape, gzipped)
	g.Expect(scrape).To(BeNumerically("<", gather/3))
	g.Expect(gzipped).To(BeNumerically("<", gather/3))
}

// BenchmarkServeIdle is one text scrape of /metrics with 10,000 idle RotatedSecrets, written to nowhere.
func BenchmarkServeIdle(b *testing.B) {
	names := idleNames(idleObjects)
	observeIdle(names)
	scrape := serveTo(NewHandler(), "")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		scrape()
	}
	b.StopTimer()
	forgetAll(names)
}
