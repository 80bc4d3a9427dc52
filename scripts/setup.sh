#!/usr/bin/env bash
# Installs what onp and its tests need on Debian 12 (bookworm), once.
# Safe to run again: it only installs missing packages.
set -euo pipefail

PACKAGES=(
  iproute2 iputils-ping traceroute nftables procps  # namespaces, links, firewall faults
  frr                                      # zebra, bgpd, staticd, bfdd, vtysh: the router's engine
  bird2 gobgpd                             # interop peers
  tshark tcpdump                           # captures, and checking our pcap files
  busybox-static                           # small tools inside lab nodes (nc, httpd)
  curl ca-certificates make git
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (sudo): it installs Debian packages" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Go: the module needs Go 1.26. Use the one on PATH or in /usr/local/go.
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH=/usr/local/go/bin:$PATH
  else
    echo "setup: Go 1.26 is needed to build onp (https://go.dev/dl/); put it in /usr/local/go or on PATH" >&2
    exit 1
  fi
fi
echo "setup: ok ($(go version))"
