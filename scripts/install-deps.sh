#!/usr/bin/env bash
# The machine packages Restorable's tests need, installed only when missing (Debian/Ubuntu).
# PostgreSQL server and client binaries (13 or newer) and the `postgres` OS user come with `postgresql`.
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v pg_restore >/dev/null 2>&1 || missing+=(postgresql-client)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
# lz4 and zstd: the tests make lz4- and zstd-compressed archives as pg_dump 16+ writes them.
command -v lz4 >/dev/null 2>&1 || missing+=(lz4)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
# xz and bzip2: verify and the restore decode whole-file .xz and .bz2 backups with them; the tests
# make those backups with them too.
command -v xz >/dev/null 2>&1 || missing+=(xz-utils)
command -v bzip2 >/dev/null 2>&1 || missing+=(bzip2)
# pgBackRest: the pitr-restore tests restore through a posix repository.
command -v pgbackrest >/dev/null 2>&1 || missing+=(pgbackrest)
# bzip2 and xz: the native backend decompresses .bz2 and .xz WAL with them (and the tests make them).
command -v bzip2 >/dev/null 2>&1 || missing+=(bzip2)
command -v xz >/dev/null 2>&1 || missing+=(xz-utils)
# Barman (3.4 in Debian 12): the pitr-restore tests read a real Barman server's WAL folder.
command -v barman >/dev/null 2>&1 || missing+=(barman)
command -v barman-wal-archive >/dev/null 2>&1 || missing+=(barman-cli)
# Barman Cloud's S3 commands and the boto3 they need, for issue 18's Barman Cloud backend (not built
# yet; tried by hand against the S3 test server: wal-archive, wal-restore and backup-list work).
command -v barman-cloud-backup-list >/dev/null 2>&1 || missing+=(barman-cli-cloud)
python3 -c 'import boto3' >/dev/null 2>&1 || missing+=(python3-boto3)
# ISA-L and a C toolchain: npm run build:native builds a development inflate addon against it.
[ -f /usr/include/isa-l/igzip_lib.h ] || missing+=(libisal-dev)
{ command -v cc && command -v make; } >/dev/null 2>&1 || missing+=(build-essential)
# nasm and git: scripts/build-native.sh builds the shipped addon from ISA-L's pinned sources.
command -v nasm >/dev/null 2>&1 || missing+=(nasm)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ((${#missing[@]} > 0)); then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]} and no apt-get here: install PostgreSQL 13+ server and client binaries" >&2
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
