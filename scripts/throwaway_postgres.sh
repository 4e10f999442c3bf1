#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a temp dir, a unix socket
# only (no TCP port to collide with), fsync off. Prints two lines: the connection URL and the dir.
#   start:  read -r url dir < <(scripts/throwaway_postgres.sh | paste - -)
#   stop:   scripts/throwaway_postgres.sh stop "$dir"
# Root cannot run initdb: as root, the cluster runs as the `postgres` user (Debian's package makes it).
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 1
fi
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${1:-}" = stop ]; then
  dir=$2
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

dir=$(mktemp -d /tmp/govbrief-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
as_owner "$bindir/initdb" -D "$dir/data" -U govbrief -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off -c max_connections=300" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
echo "postgresql:///postgres?host=$dir&user=govbrief"
echo "$dir"
