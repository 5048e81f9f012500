#!/usr/bin/env bash
# Builds stripe-mock (Stripe's own API test server, which validates requests against Stripe's OpenAPI description)
# into a git-ignored, version-keyed directory under bin/. A second run finds it and returns at once.
# The last line printed is the path of the binary. The stripe provider tests run this script.
#
# Usage: hack/stripe-mock.sh
set -euo pipefail

STRIPE_MOCK_VERSION=v0.203.0
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/bin/stripe-mock-${STRIPE_MOCK_VERSION}"
bin="$dir/stripe-mock"

if [ ! -x "$bin" ]; then
  echo "Building stripe-mock ${STRIPE_MOCK_VERSION} (first run only, about a minute)" >&2
  tmp="$dir/.tmp.$$"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  # Installed beside the final path and renamed into place, so a concurrent run never finds a half-written binary.
  GOFLAGS=-buildvcs=false GOBIN="$tmp" go install "github.com/stripe/stripe-mock@${STRIPE_MOCK_VERSION}"
  mv -f "$tmp/stripe-mock" "$bin"
fi
echo "$bin"
