# secret-rotator. `make help` lists the targets; a newcomer needs `make demo` and `make test`.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

BIN ?= $(CURDIR)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
IMG ?= controller:latest
KUBECTL ?= kubectl
CHART := charts/secret-rotator
# Generated files are checked in; these are the paths `make manifests generate` writes. The chart's crds/ and
# files/ are copies of config/ files, so a stale chart fails check-generated too.
GENERATED := config/crd/bases config/rbac/role.yaml api/v1alpha1/zz_generated.deepcopy.go $(CHART)/crds $(CHART)/files

.PHONY: all
all: build

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ { printf "  %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and RBAC from the markers in api/ and controllers/; copy them (and the alerts) into the chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	rm -rf $(CHART)/crds $(CHART)/files && mkdir -p $(CHART)/crds $(CHART)/files
	cp config/crd/bases/*.yaml $(CHART)/crds/
	cp config/rbac/role.yaml config/prometheus/rules.yaml $(CHART)/files/

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: check-generated
check-generated: manifests generate ## Fail if the checked-in generated files are stale.
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
	  echo "Generated files are stale; run 'make manifests generate' and commit:"; \
	  git status --porcelain -- $(GENERATED); git diff --stat -- $(GENERATED); exit 1; fi

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet and check formatting.
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hack/tools/')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	go vet ./...

.PHONY: helm
helm: ## Build helm from source into bin/helm-<version> (cached; hack/tools/helm pins it); prints its path last.
	@bash hack/helm.sh

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver and etcd from source (cached in bin/); prints their directory last.
	@bash hack/envtest-assets.sh

.PHONY: promtool
promtool: ## Build promtool from source (cached in bin/); prints its path last.
	@bash hack/promtool.sh

.PHONY: test
test: check-generated vet promtool test-chart ## Generated-file freshness, vet, promtool, the chart, unit and integration tests (real kube-apiserver + etcd).
	assets=$$(bash hack/envtest-assets.sh | tail -n 1); \
	KUBEBUILDER_ASSETS="$$assets" go test -race ./... -count=1 -timeout 20m

# The chart in the three shapes docs/install.md describes; internal/fixture's chart tests check what they render.
.PHONY: test-chart
test-chart: ## Lint the Helm chart and render it: default values, namespace-scoped, with ServiceMonitor and PrometheusRule.
	helm=$$(bash hack/helm.sh | tail -n 1); \
	$$helm lint --strict $(CHART); \
	$$helm lint --strict $(CHART) --set 'watchNamespaces={team-a,team-b}'; \
	$$helm lint --strict $(CHART) --set serviceMonitor.enabled=true --set prometheusRule.enabled=true; \
	$$helm template secret-rotator $(CHART) --namespace secret-rotator-system --include-crds >/dev/null; \
	$$helm template secret-rotator $(CHART) --namespace team-a --set 'watchNamespaces={team-a}' >/dev/null; \
	$$helm template secret-rotator $(CHART) --namespace secret-rotator-system \
	  --set serviceMonitor.enabled=true --set prometheusRule.enabled=true >/dev/null

.PHONY: test-unit
test-unit: helm ## Unit tests only (no API server; the chart tests run bin/helm).
	go test ./api/... ./internal/... -count=1

# Each fuzz target runs for FUZZTIME; go test fuzzes one target per package per invocation. Their seeds and
# testdata/fuzz corpora also run as ordinary tests in `make test`.
FUZZTIME ?= 10s

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (10s): durations, annotations, http templates and responses, staging keys, egress hosts, schedules, notifications, the plugin's incident review.
	go test ./api/v1alpha1 -run '^$$' -fuzz '^FuzzDurationParse$$' -fuzztime $(FUZZTIME)
	go test ./internal/policy -run '^$$' -fuzz '^FuzzRequestAnnotations$$' -fuzztime $(FUZZTIME)
	go test ./internal/provider/httpapi -run '^$$' -fuzz '^FuzzTemplate$$' -fuzztime $(FUZZTIME)
	go test ./internal/provider/httpapi -run '^$$' -fuzz '^FuzzCheckSpec$$' -fuzztime $(FUZZTIME)
	go test ./internal/provider/httpapi -run '^$$' -fuzz '^FuzzResponse$$' -fuzztime $(FUZZTIME)
	go test ./internal/provider/httpapi -run '^$$' -fuzz '^FuzzVendorCode$$' -fuzztime $(FUZZTIME)
	go test ./internal/staging -run '^$$' -fuzz '^FuzzStagingKeys$$' -fuzztime $(FUZZTIME)
	go test ./internal/egress -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	go test ./internal/schedule -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	go test ./internal/notify -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME)
	go test ./internal/cli -run '^$$' -fuzz '^FuzzReview$$' -fuzztime $(FUZZTIME)

.PHONY: test-e2e
test-e2e: ## End-to-end tests: the operator as a real process on a local cluster with kwok nodes (hack/local-cluster.sh).
	bash hack/envtest-assets.sh kube-apiserver etcd kube-controller-manager kube-scheduler >/dev/null
	bash hack/helm.sh >/dev/null
	go vet -tags e2e ./test/e2e/...
	go test -tags e2e ./test/e2e/... -count=1 -timeout 20m -v -args -ginkgo.label-filter='!bench'

.PHONY: bench
bench: ## Benchmarks against a real API server (500 and 1,000 RotatedSecrets at once, forced rotation latency, 10,000 idle; docs/benchmarks.md).
	assets=$$(bash hack/envtest-assets.sh | tail -n 1); \
	KUBEBUILDER_ASSETS="$$assets" go test ./test/bench/... -run '^$$' -bench . -benchtime 1x -count 1 -timeout 90m
	$(MAKE) bench-cluster

.PHONY: bench-cluster
bench-cluster: ## The local-cluster benchmark: one stage of 50 two-replica Deployments, beside the cluster's own rollout (part of make bench).
	bash hack/envtest-assets.sh kube-apiserver etcd kube-controller-manager kube-scheduler >/dev/null
	go test -tags e2e ./test/e2e/... -count=1 -timeout 30m -v -args -ginkgo.label-filter=bench

.PHONY: demo
demo: ## Start a local cluster (kwok nodes), run the operator, rotate the samples (one rolled back, one an emergency during a rotation), print the timelines, stop everything.
	bash hack/demo.sh

##@ Build

.PHONY: build
build: generate ## Build the manager binary into bin/manager.
	go build -buildvcs=auto -o $(BIN)/manager ./cmd/manager

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-rotation; put bin/ on PATH (or copy it there) and run `kubectl rotation`.
	go build -buildvcs=auto -ldflags "-s -w" -o $(BIN)/kubectl-rotation ./cmd/kubectl-rotation

.PHONY: run
run: manifests generate ## Run the operator against the current kubeconfig (install the CRD first).
	POD_NAMESPACE=$${POD_NAMESPACE:-secret-rotator-system} go run ./cmd/manager --metrics-bind-address=0

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests ## Install the CRD into the current cluster.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: manifests ## Remove the CRD (and every RotatedSecret) from the current cluster.
	$(KUBECTL) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator with kustomize (IMG sets the image).
	$(KUBECTL) kustomize config/default | sed "s|image: controller:latest|image: $(IMG)|" | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator deployed by `make deploy`.
	$(KUBECTL) kustomize config/default | $(KUBECTL) delete --ignore-not-found -f -

$(CONTROLLER_GEN):
	GOBIN=$(BIN)/.gobin go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(BIN)/.gobin/controller-gen $@
