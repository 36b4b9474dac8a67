#!/usr/bin/env bash
# npm test: install what this machine lacks (scripts/setup.sh), then the whole suite; arguments go
# to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/.bin/vitest run "$@"
