#!/usr/bin/env bash
# Install the Debian 12 packages opsbell needs to build, run and test.
# As root: installs what is missing with apt-get. Otherwise: prints the exact
# apt-get line to run and fails.
set -euo pipefail

PACKAGES=(
  gcc make libc6-dev pkg-config git
  clang libclang-rt-14-dev clang-format cppcheck
  libmicrohttpd-dev libjansson-dev libcyaml-dev libyaml-dev
  libsqlite3-dev libpq-dev libssl-dev libcurl4-openssl-dev
  libcmocka-dev libical-dev libxml2-dev tzdata python3 python3-pytest libgit2-dev
  postgresql sqlite3 curl procps
  prometheus prometheus-alertmanager wrk
  libre-dev librem-dev flite1-dev baresip-core kamailio
  openssh-server openssh-client openssl libnftables-dev nftables iproute2
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "opsbell: missing Debian packages; run this as root, then try again:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "opsbell: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the postgresql package from starting a system cluster:
# opsbell's tests start their own on a free loopback port.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
