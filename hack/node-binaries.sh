#!/usr/bin/env bash
# Builds what a real node needs beside the control plane of hack/kube-binaries.sh: kubelet,
# kube-proxy and kube-scheduler from k8s.io/kubernetes, CoreDNS, and a pause program (the pod
# sandbox's process), all from the Go module proxy. Cached outside the clone, keyed by version, so
# a rerun is instant; a fresh machine builds them once (~12 min on 2 cores, kubelet most of it).
#
#   hack/node-binaries.sh          # build if missing, print the bin directory
#
# Environment: KUBE_VERSION (default 1.37.2), COREDNS_VERSION (default 1.14.7),
#              TOOLMESH_CACHE (default ~/.cache/toolmesh).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/kube-module.sh
source "$HERE/lib/kube-module.sh"

KUBE_VERSION="${KUBE_VERSION:-1.37.2}"
COREDNS_VERSION="${COREDNS_VERSION:-1.14.7}"
PAUSE_VERSION=1
CACHE="${TOOLMESH_CACHE:-$HOME/.cache/toolmesh}"
BIN="$CACHE/kube/node-k8s-v${KUBE_VERSION}-coredns-v${COREDNS_VERSION}-pause-${PAUSE_VERSION}/bin"
KUBE_COMMANDS=(kubelet kube-proxy kube-scheduler)
BINARIES=("${KUBE_COMMANDS[@]}" coredns pause)

have_all() {
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

if have_all; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "node-binaries: Go is required (https://go.dev)" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN"

if ! { [[ -x "$BIN/kubelet" ]] && [[ -x "$BIN/kube-proxy" ]] && [[ -x "$BIN/kube-scheduler" ]]; }; then
  kube_module "$work/k8s" "$KUBE_VERSION" "${KUBE_COMMANDS[@]}"
  for cmd in "${KUBE_COMMANDS[@]}"; do
    [[ -x "$BIN/$cmd" ]] || kube_build "$work/k8s" "$KUBE_VERSION" "$cmd" "$BIN/$cmd"
  done
fi

if [[ ! -x "$BIN/coredns" ]]; then
  GOBIN="$work/gobin" with_heartbeat "node-binaries: building coredns v${COREDNS_VERSION}" \
    go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@v${COREDNS_VERSION}" >&2
  mv "$work/gobin/coredns" "$BIN/coredns"
fi

if [[ ! -x "$BIN/pause" ]]; then
  # The pod sandbox's only process: sleeps until told to stop, reaping any child it inherits.
  mkdir -p "$work/pause" && cd "$work/pause"
  go mod init toolmesh.dev/pause >/dev/null 2>&1
  cat >main.go <<'GO'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
GO
  echo "node-binaries: building pause" >&2
  go build -trimpath -ldflags "-s -w" -o "$BIN/pause.tmp.$$" . && mv "$BIN/pause.tmp.$$" "$BIN/pause"
fi

have_all
echo "$BIN"
