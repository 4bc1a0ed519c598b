#!/usr/bin/env bash
# Recompiles contracts/*.sol with the pinned solcjs (tools/package.json) into contracts/out/ (committed, so
# building and benchmarking keel needs no compiler). CI checks that the committed output is current.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh >/dev/null
solcjs=tools/node_modules/.bin/solcjs
rm -rf contracts/out && mkdir -p contracts/out
for src in contracts/*.sol; do
  "$solcjs" --bin --abi --optimize --optimize-runs 200 --base-path contracts --include-path tools/node_modules \
    -o contracts/out "$src" >/dev/null
done
# solcjs names outputs after the source path; keep only the main contract of each file under its plain name.
for src in contracts/*.sol; do
  name=$(basename "$src" .sol)
  for ext in bin abi; do
    mv "contracts/out/$(basename "$src" .sol)_sol_${name}.${ext}" "contracts/out/${name}.${ext}"
  done
done
rm -f contracts/out/*_sol_*
ls contracts/out
