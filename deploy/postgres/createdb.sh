#!/usr/bin/env bash
# Create an extra database owned by `lienthong` (idempotent) on the running
# project server and print its URL on stdout.
#
#   deploy/postgres/createdb.sh NAME           # create if missing
#   deploy/postgres/createdb.sh --fresh NAME   # drop (if any) and recreate: a clean db
#
# Environment: LIENTHONG_PG_PORT (default 54329).
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { echo "usage: $0 [--fresh] NAME" >&2; exit 2; }

fresh=0
name=""
for arg in "$@"; do
    case "$arg" in
        --fresh) fresh=1 ;;
        -h | --help) usage ;;
        -*) usage ;;
        *) [ -z "$name" ] || usage; name="$arg" ;;
    esac
done
[ -n "$name" ] || usage
# Keep names simple: they end up in URLs and shell commands.
[[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] \
    || die "invalid database name '$name' (letters, digits, _; max 63; not starting with a digit)"
case "$name" in
    postgres | template0 | template1) die "refusing to touch system database '$name'" ;;
esac

PG_BIN="$(pg_find_bindir)"
[ -n "$PG_BIN" ] || die "PostgreSQL is not installed; run deploy/postgres/start.sh"
pg_ready || die "server not running on $PG_HOST:$PG_PORT; run deploy/postgres/start.sh"

pg_lock

if [ "$fresh" -eq 1 ]; then
    pg_admin_psql -v name="$name" <<'EOF_SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'name') \gexec
EOF_SQL
fi
pg_admin_psql -v name="$name" <<'EOF_SQL'
SELECT format('CREATE DATABASE %I OWNER lienthong', :'name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
EOF_SQL

echo "postgresql://$PG_APP_USER:$PG_APP_PASSWORD@$PG_HOST:$PG_PORT/$name"
