# syntax=docker/dockerfile:1
#
# The enricher image: one static binary on distroless, run as a non-root
# user. Every command of the binary works in it (`run`, `sim`, `apply`,
# `dlq list`...); the default is `run`.
#
#   docker build -t enricher:local --build-arg VERSION=$(git describe --always) .
#   docker run --rm enricher:local version

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/enricher . \
 && /out/enricher version

# Static, no shell, no package manager; user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/enricher /usr/local/bin/enricher
USER 65532:65532
# A relative nats.embedded.store_dir (data/nats) and ./enricher.hcl resolve here.
WORKDIR /home/nonroot
# /metrics, /healthz, /readyz (http.listen) and the simulator's default port.
EXPOSE 9090 8089
ENTRYPOINT ["/usr/local/bin/enricher"]
CMD ["run"]
