#!/usr/bin/env bash
# The ISA-L inflate addon that ships inside dist/ (npm run build copies it beside each bundle that
# starts lane workers): native/isal_inflate.c linked statically against ISA-L built from its pinned
# tag, so a runner needs no libisal. Reproducible: the same sources, ISA-L commit and toolchain
# (Debian 12's gcc and nasm, recorded in native/prebuilt/linux-x64/BUILD) give the same bytes, built
# in a fixed folder, with no debug information, no timestamps and a content-derived build id.
#
#   bash scripts/build-native.sh            # writes native/prebuilt/linux-x64/isal_inflate.node and BUILD
#   bash scripts/build-native.sh --check    # rebuilds in a temporary folder and compares byte for byte
#
# ISAL_GIT names the ISA-L repository to clone (default https://github.com/intel/isa-l.git); the
# commit checked out must be ISAL_COMMIT, whatever the tag says.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ISAL_TAG=v2.30.0
ISAL_COMMIT=2df39cf5f1b9ccaa2973f6ef273857e4dc46f0cf
ISAL_GIT=${ISAL_GIT:-https://github.com/intel/isa-l.git}
out_dir=native/prebuilt/linux-x64
check=false
[ "${1:-}" = --check ] && check=true

if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "build-native: builds the linux-x64 addon only, on Linux x86_64 (this is $(uname -s)-$(uname -m))" >&2
  exit 1
fi
for tool in gcc nasm make git strip; do
  command -v "$tool" >/dev/null || { echo "build-native: $tool is missing (bash scripts/install-deps.sh)" >&2; exit 1; }
done
# Node-API's headers (NODE_INCLUDE, else /usr/include/node, else beside node): with NAPI_VERSION fixed
# they give the same bytes from Node 18 (Debian's libnode-dev, as CI uses) and Node 20 (checked).
node_include=${NODE_INCLUDE:-/usr/include/node}
if [ ! -f "$node_include/node_api.h" ] && command -v node >/dev/null; then
  node_include=$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")
fi
[ -f "$node_include/node_api.h" ] || { echo "build-native: node_api.h not found (install Node's headers)" >&2; exit 1; }

# A fixed folder: paths can reach the objects (nasm's file symbols), so every build uses the same.
build=/tmp/restorable-isal-build
rm -rf "$build"
mkdir -p "$build"
trap 'rm -rf "$build"' EXIT
git clone --quiet --no-checkout "$ISAL_GIT" "$build/isa-l"
git -C "$build/isa-l" -c advice.detachedHead=false checkout --quiet "$ISAL_COMMIT"
got=$(git -C "$build/isa-l" rev-parse HEAD)
[ "$got" = "$ISAL_COMMIT" ] || { echo "build-native: ISA-L is at $got, not $ISAL_COMMIT ($ISAL_TAG)" >&2; exit 1; }

# igzip (and crc, which it needs) as position-independent objects in one static library.
export SOURCE_DATE_EPOCH=0
make -C "$build/isa-l" -f Makefile.unx -j"$(nproc)" units="igzip crc" CFLAGS_="-Wall -fPIC" \
  DEBUG= DEBUG_nasm= bin/isa-l.a >"$build/make.log" 2>&1 || { cat "$build/make.log" >&2; exit 1; }
cp native/isal_inflate.c "$build/isal_inflate.c"
(cd "$build" && gcc -O2 -fPIC -shared -std=gnu11 -DNAPI_VERSION=8 -DNODE_GYP_MODULE_NAME=isal_inflate \
  -ffile-prefix-map="$build"=. -I"$build/isa-l/include" -I"$node_include" \
  -o isal_inflate.node isal_inflate.c isa-l/bin/isa-l.a -Wl,--build-id=sha1 -Wl,-z,noexecstack -s)
strip --strip-unneeded "$build/isal_inflate.node"
if ldd "$build/isal_inflate.node" | grep -q isal; then
  echo "build-native: the addon links libisal dynamically" >&2
  exit 1
fi

record() {
  echo "isa-l $ISAL_TAG $ISAL_COMMIT"
  echo "gcc $(gcc -dumpfullversion) ($(dpkg-query -W -f='${Version}' gcc-12 2>/dev/null || echo '?'))"
  echo "nasm $(nasm -v | awk '{print $3}')"
  echo "binutils $(ld --version | head -1 | awk '{print $NF}')"
  echo "sha256 $(sha256sum "$1" | cut -d' ' -f1)"
}

if $check; then
  if cmp -s "$build/isal_inflate.node" "$out_dir/isal_inflate.node"; then
    echo "build-native: $out_dir/isal_inflate.node is what the sources build"
    exit 0
  fi
  echo "build-native: $out_dir/isal_inflate.node differs from this build." >&2
  echo "  recorded:" >&2
  sed 's/^/    /' "$out_dir/BUILD" >&2
  echo "  this build:" >&2
  record "$build/isal_inflate.node" | sed 's/^/    /' >&2
  echo "  (a different toolchain gives different bytes: build in Debian 12, or run bash scripts/build-native.sh and commit)" >&2
  exit 1
fi
mkdir -p "$out_dir"
cp "$build/isal_inflate.node" "$out_dir/isal_inflate.node"
record "$out_dir/isal_inflate.node" >"$out_dir/BUILD"
cat "$out_dir/BUILD"
