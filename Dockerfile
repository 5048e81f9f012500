# The operator image: a static manager binary on distroless, running as the nonroot user (65532).
# Build with `make docker-build IMG=...`; the Deployment in config/manager runs it with a read-only root filesystem.

# Build stage. TARGETOS/TARGETARCH come from BuildKit (`docker buildx build --platform ...`); without them the
# binary is built for linux on the builder's architecture.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /workspace

# Dependencies first, in their own layer, so a source change does not download modules again.
COPY go.mod go.sum ./
RUN go mod download

# Only the packages the manager is built from (the rest of the repository never reaches the image).
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/

# CGO_ENABLED=0: a static binary, as distroless/static has no libc. -trimpath and -s -w: no local paths, no symbols.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o manager ./cmd/manager

# Run stage: no shell, no package manager, nothing but the binary and CA certificates.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
