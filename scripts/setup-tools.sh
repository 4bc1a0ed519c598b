#!/usr/bin/env bash
# Installs the pinned npm tools of tools/package-lock.json into tools/node_modules (idempotent).
set -euo pipefail
cd "$(dirname "$0")/../tools"
if [ ! -f node_modules/.keel-installed ] || [ package-lock.json -nt node_modules/.keel-installed ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.keel-installed
fi
