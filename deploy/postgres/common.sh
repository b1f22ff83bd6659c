# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
# Shared settings for deploy/postgres/*.sh (sourced, not executed).
#
# Layout (all relative to the repository root, computed from this file):
#   var/postgres/data             the cluster (our own; not Debian's "main")
#   var/postgres/postgres.log     server log
#   var/postgres/postgres.pid     postmaster pid (copy of data/postmaster.pid line 1)
#   var/postgres/.s.PGSQL.<port>  unix socket (only if the path is short enough)
#
# Environment:
#   LIENTHONG_PG_PORT   TCP port on 127.0.0.1 (default 54329)

PG_DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$PG_DEPLOY_DIR/../.." && pwd -P)"
PG_VAR="$REPO_ROOT/var/postgres"
PG_DATA="$PG_VAR/data"
PG_LOG="$PG_VAR/postgres.log"
PG_PIDFILE="$PG_VAR/postgres.pid"
PG_LOCK="$REPO_ROOT/var/.postgres.lock"
PG_HOST=127.0.0.1
PG_PORT="${LIENTHONG_PG_PORT:-54329}"
PG_SUPERUSER=postgres          # initdb -U; reachable over loopback with trust
PG_APP_USER=lienthong
PG_APP_PASSWORD=lienthong
PG_URL="postgresql://$PG_APP_USER:$PG_APP_PASSWORD@$PG_HOST:$PG_PORT/lienthong"

case "$PG_PORT" in
    '' | *[!0-9]*) echo "LIENTHONG_PG_PORT must be a number, got '$PG_PORT'" >&2; exit 2 ;;
esac

log() { printf '[postgres] %s\n' "$*" >&2; }
die() { printf '[postgres] ERROR: %s\n' "$*" >&2; exit 1; }

# Prints the bin dir of the PostgreSQL version to use, or nothing.
# Prefers the version that created an existing data dir, else the newest.
pg_find_bindir() {
    local want="" d best="" v bestv=0
    [ -f "$PG_DATA/PG_VERSION" ] && want="$(cat "$PG_DATA/PG_VERSION")"
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] || continue
        v="$(basename "$(dirname "$d")")"
        if [ -n "$want" ]; then
            [ "$v" = "$want" ] && { echo "$d"; return 0; }
            continue
        fi
        case "$v" in *[!0-9]*) continue ;; esac
        if [ "$v" -gt "$bestv" ]; then bestv="$v"; best="$d"; fi
    done
    [ -n "$best" ] && echo "$best"
    return 0
}

# Run a command as the user that owns the cluster: `postgres` when we are
# root (the server refuses to run as root), ourselves otherwise.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Superuser psql over loopback TCP (pg_hba: trust for user postgres on
# 127.0.0.1 only). Extra args are passed to psql.
pg_admin_psql() {
    PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres "$@"
}

pg_ready() {
    "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1
}

# Postmaster pid if our server is running (per data/postmaster.pid), else "".
pg_running_pid() {
    local pid
    [ -f "$PG_DATA/postmaster.pid" ] || return 0
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    kill -0 "$pid" 2>/dev/null || return 0
    # Guard against pid reuse: it must be a postgres process.
    grep -q postgres "/proc/$pid/comm" 2>/dev/null || grep -qa postgres "/proc/$pid/cmdline" 2>/dev/null || return 0
    echo "$pid"
}

# Serialise start/stop/createdb of this checkout (fd 9; never inherited by
# the server: callers launch it with 9>&-).
pg_lock() {
    mkdir -p "$(dirname "$PG_LOCK")"
    exec 9>"$PG_LOCK"
    flock -w 120 9 || die "could not take $PG_LOCK (another deploy/postgres script is running?)"
}
