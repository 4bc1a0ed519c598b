#!/usr/bin/env bash
# Every keel test: formatting, lints, then unit, property, fixture (ethereum/tests in ../shared/fixtures),
# crash-consistency and black-box CLI tests, built in the optimized `ci` profile because revm is ~30x slower
# unoptimized.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d ../shared/fixtures ]; then
  echo "error: ../shared/fixtures not found (the ethereum/tests fixtures live beside this repository)" >&2
  exit 2
fi
# Pinned npm tools (cast, anvil, solc, ethers) for the end-to-end and differential tests.
scripts/setup-tools.sh
cargo fmt --all --check
cargo clippy --profile ci --workspace --all-targets --locked -- -D warnings
cargo test --profile ci --workspace --locked "$@"
