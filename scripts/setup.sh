#!/usr/bin/env bash
# What the tests need on this machine, each step only when it is not done: the Debian packages
# (scripts/install-deps.sh), npm ci when node_modules is missing or was installed from another
# package-lock.json, and the ISA-L addon when it is not built or older than its source.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
stamp=node_modules/.restorable-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/vitest ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi
addon=native/build/Release/isal_inflate.node
if [ ! -f "$addon" ] || [ native/isal_inflate.c -nt "$addon" ] || [ native/binding.gyp -nt "$addon" ]; then
  npm run build:native
fi
# Restorable's pinned PostgreSQL builds the tests restore into (13 and 15 for machines that lack
# them, 16 to 18 for the upgrade rehearsal), fetched by the product's own code into its cache
# (checked against their pinned sha512); a no-op once they are there.
npx tsx src/cli/index.ts fetch-postgres 13 15 16 17 18 >/dev/null
