#!/usr/bin/env bash
# setup-postgres: PostgreSQL <major>'s server and client binaries on a Debian or Ubuntu runner, in
# /usr/lib/postgresql/<major>/bin, the first place Restorable's discovery looks
# (src/postgres/binaries.ts). Already there: nothing is installed. Else the packages
# postgresql-<major> and postgresql-client-<major> from the distribution's archive when it has
# them, else from PGDG's apt repository (apt.postgresql.org, set up by postgresql-common's own
# script and its bundled signing key). The packages' default cluster (<major>/main) is not created:
# Restorable starts scratch clusters of its own.
#
#   setup-postgres.sh MAJOR          install when missing; outputs bin-dir, version, source
#   setup-postgres.sh --plan MAJOR   whether it is installed, and which packages an install takes
#                                    from where; changes nothing
set -euo pipefail

fail() {
  echo "setup-postgres: $*" >&2
  exit 1
}

plan=false
if [ "${1:-}" = "--plan" ]; then
  plan=true
  shift
fi
major="${1:-}"
case "$major" in
  '' | *[!0-9]* | 0*) fail "major: \"$major\" is not a PostgreSQL major version. Give the major of production's server, like 16" ;;
esac
if [ "$major" -lt 10 ]; then
  fail "major: $major is older than PostgreSQL 10 (majors are 10, 11, ...; Restorable needs 13 or newer). Give the major of production's server"
fi

bindir="/usr/lib/postgresql/$major/bin"
server="postgresql-$major"
client="postgresql-client-$major"
TOOLS=(initdb pg_ctl postgres pg_controldata pg_dump pg_restore psql)

# The version the binaries in bindir report, when every tool is there and they are of this major.
installed_version() {
  local t v
  for t in "${TOOLS[@]}"; do [ -x "$bindir/$t" ] || return 1; done
  v=$("$bindir/postgres" --version 2>/dev/null | sed -n 's/.*(PostgreSQL) \([0-9][0-9.]*\).*/\1/p')
  [ "${v%%.*}" = "$major" ] || return 1
  echo "$v"
}

# apt's candidate version of a package, empty when no source in apt's lists has it.
candidate() {
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
  [ "$c" = "(none)" ] || echo "$c"
}

output() {
  echo "bin-dir: $bindir, version: $1, source: $2"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf 'bin-dir=%s\nversion=%s\nsource=%s\n' "$bindir" "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

if version=$(installed_version); then
  echo "PostgreSQL $major is installed ($version) in $bindir: nothing to install"
  if ! $plan; then
    output "$version" installed
    exit 0
  fi
fi

[ -r /etc/os-release ] || fail "no /etc/os-release: this action installs on Debian or Ubuntu only. Install PostgreSQL $major's server and client binaries yourself and pass pg-bin-dir"
# shellcheck disable=SC1091
. /etc/os-release
case " ${ID:-} ${ID_LIKE:-} " in
  *" debian "* | *" ubuntu "*) ;;
  *) fail "this runner is ${PRETTY_NAME:-${ID:-unknown}}, not Debian or Ubuntu. Install PostgreSQL $major's server and client binaries yourself and pass pg-bin-dir" ;;
esac
command -v apt-get >/dev/null || fail "no apt-get on this ${PRETTY_NAME:-Debian} runner. Install PostgreSQL $major yourself and pass pg-bin-dir"

from_distribution=$(candidate "$server")
if $plan; then
  # What an install takes, even when it is not needed: the package names and where they come from.
  if [ -n "$from_distribution" ]; then
    echo "packages: $server $client ($from_distribution) from the distribution's archive (${PRETTY_NAME:-})"
  else
    echo "packages: $server $client from PGDG (apt.postgresql.org, ${VERSION_CODENAME:-?}-pgdg): the distribution's archive has no $server"
  fi
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail "not root and no sudo: run the runner's service with passwordless sudo for apt-get, or install PostgreSQL $major yourself"
  SUDO=(sudo -n)
fi
apt_get() { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq "$@"; }

source=distribution
if [ -z "$from_distribution" ]; then
  apt_get update
  from_distribution=$(candidate "$server")
fi
if [ -z "$from_distribution" ]; then
  source=pgdg
  [ -x /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh ] || apt_get install --no-install-recommends postgresql-common
  "${SUDO[@]}" /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y
  [ -n "$(candidate "$server")" ] || fail "neither ${PRETTY_NAME:-this distribution} nor PGDG has $server for ${VERSION_CODENAME:-this release}. Use a runner whose release PGDG builds for (https://apt.postgresql.org)"
fi
# No <major>/main cluster: Restorable starts its own; a packaged one would only hold a port.
"${SUDO[@]}" mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' | "${SUDO[@]}" tee /etc/postgresql-common/createcluster.d/restorable-setup-postgres.conf >/dev/null
apt_get install --no-install-recommends "$server" "$client"
version=$(installed_version) || fail "$server and $client are installed but $bindir lacks one of ${TOOLS[*]}. Look at dpkg -L $server"
output "$version" "$source"
