#!/usr/bin/env bash
# Builds a small OpenTelemetry Collector for the tracing test (tests/e2e/test_tracing.py): the core
# collector's own packages (go.opentelemetry.io/collector) with the OTLP receiver and the OTLP/HTTP
# and debug exporters, no contrib, through the Go module proxy. Its main package is what the
# collector's builder (ocb) generates for such a manifest, written out here so no builder is
# needed. Cached outside the clone, keyed by version, so a rerun is instant; a fresh machine builds
# it once (78 s on 2 cores with cold Go caches, modules downloaded included).
#
#   hack/otelcol-binary.sh     # build if missing, print the binary's path
#
# Environment: OTELCOL_VERSION (default 0.165.0; its confmap providers are 1.x, OTELCOL_STABLE,
#              default 1.71.0), TOOLMESH_CACHE (default ~/.cache/toolmesh).
set -euo pipefail

OTELCOL_VERSION="${OTELCOL_VERSION:-0.165.0}"
OTELCOL_STABLE="${OTELCOL_STABLE:-1.71.0}"
CACHE="${TOOLMESH_CACHE:-$HOME/.cache/toolmesh}"
BIN="$CACHE/otelcol-v${OTELCOL_VERSION}/bin"

if [[ -x "$BIN/otelcol" ]]; then
  echo "$BIN/otelcol"
  exit 0
fi

command -v go >/dev/null || { echo "otelcol-binary: Go is required (https://go.dev)" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN"
cd "$work"
go mod init toolmesh.dev/otelcol >/dev/null 2>&1
cat >main.go <<GO
// Program otelcol: the OpenTelemetry Collector with OTLP in and OTLP/HTTP or debug out (toolmesh's tests).
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

func components() (otelcol.Factories, error) {
	var err error
	factories := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}
	if factories.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		return otelcol.Factories{}, err
	}
	factories.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		debugexporter.NewFactory(), otlphttpexporter.NewFactory())
	return factories, err
}

func main() {
	set := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command: "otelcol", Description: "OpenTelemetry Collector for toolmesh's tests", Version: "${OTELCOL_VERSION}",
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{envprovider.NewFactory(), fileprovider.NewFactory()},
			},
		},
	}
	if err := otelcol.NewCommand(set).Execute(); err != nil {
		log.Fatal(err)
	}
}
GO
for m in receiver/otlpreceiver exporter/debugexporter exporter/otlphttpexporter otelcol service; do
  go mod edit -require="go.opentelemetry.io/collector/$m@v${OTELCOL_VERSION}"
done
for m in confmap confmap/provider/envprovider confmap/provider/fileprovider component exporter receiver; do
  go mod edit -require="go.opentelemetry.io/collector/$m@v${OTELCOL_STABLE}"
done
echo "otelcol-binary: building the OpenTelemetry Collector v${OTELCOL_VERSION}" >&2
started=$SECONDS
go mod tidy >&2
go build -trimpath -ldflags "-s -w" -o "$BIN/otelcol.tmp.$$" .
mv "$BIN/otelcol.tmp.$$" "$BIN/otelcol"
echo "otelcol-binary: built in $((SECONDS - started)) s" >&2
echo "$BIN/otelcol"
