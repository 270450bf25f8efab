#!/usr/bin/env bash
# Installs from Debian's packages what the node test tier needs on this machine: containerd and
# runc (the node's container runtime), the CNI plugins (bridge, host-local, portmap, loopback),
# iptables, iproute2 and conntrack (kube-proxy, pod networking), docker.io (image builds),
# docker-compose (tests/compose starts docker-compose.yaml) and mmdebstrap (the images' base,
# hack/base-image.sh). Then starts dockerd if nothing answers on its
# socket (no systemd on these machines). Idempotent; a machine that has everything installs nothing.
#
#   hack/node-deps.sh
set -euo pipefail
PACKAGES=(docker.io docker-compose containerd runc containernetworking-plugins mmdebstrap iptables iproute2 conntrack)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "node-deps: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! /usr/bin/docker version >/dev/null 2>&1; then
  mkdir -p /etc/docker
  # Published ports bind loopback only; overlay2 as on any modern host.
  [[ -s /etc/docker/daemon.json ]] || echo '{"storage-driver":"overlay2","ip":"127.0.0.1"}' >/etc/docker/daemon.json
  echo "node-deps: starting dockerd" >&2
  nohup dockerd >/var/log/toolmesh-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    /usr/bin/docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
  /usr/bin/docker version >/dev/null 2>&1 || { echo "node-deps: dockerd did not start; see /var/log/toolmesh-dockerd.log" >&2; exit 1; }
fi
