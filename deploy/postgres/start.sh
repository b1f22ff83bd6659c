#!/usr/bin/env bash
# Start the project's own PostgreSQL server (dev/test) on 127.0.0.1.
#
#   deploy/postgres/start.sh        -> prints the app URL on stdout:
#   postgresql://lienthong:lienthong@127.0.0.1:54329/lienthong
#
# Idempotent: installs the Debian `postgresql` package only if no server
# binaries are found, runs initdb only once (var/postgres/data), and if the
# server is already up it just prints the URL. Progress goes to stderr so
# `URL=$(deploy/postgres/start.sh)` works.
#
# Environment: LIENTHONG_PG_PORT (default 54329).
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STARTUP_TIMEOUT=60

is_root() { [ "$(id -u)" -eq 0 ]; }

install_postgres() {
    is_root || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin and not root; run: sudo apt-get install -y postgresql"
    log "PostgreSQL server not found; installing the Debian package 'postgresql' (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Keep Debian from creating (and starting) its default "main" cluster on
    # port 5432: we never use it, we run our own data dir under var/.
    if ! dpkg -s postgresql-common >/dev/null 2>&1; then
        apt-get install -y -qq postgresql-common >/dev/null
    fi
    if [ -f /etc/postgresql-common/createcluster.conf ]; then
        sed -i -E 's/^[#[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
            /etc/postgresql-common/createcluster.conf
    fi
    apt-get install -y -qq postgresql >/dev/null
}

tail_log() {
    if [ -f "$PG_LOG" ]; then
        echo "----- last lines of $PG_LOG -----" >&2
        tail -n 40 "$PG_LOG" >&2 || true
        echo "-----" >&2
    fi
}

# The server runs as `postgres`, which must be able to reach var/postgres.
# Repos often live under a home dir that only root may traverse; grant
# search (x, not read) permission to "other" on each blocking ancestor.
ensure_traversable() {
    local d="" part fixed=()
    local -a parts
    IFS=/ read -r -a parts <<<"${PG_VAR#/}"
    # Top-down, so only the directories that really block are changed.
    for part in "${parts[@]}"; do
        d="$d/$part"
        [ -d "$d" ] || break
        if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
            chmod o+x "$d"
            fixed+=("$d")
        fi
    done
    if [ "${#fixed[@]}" -gt 0 ]; then
        log "granted o+x (traverse only, no listing) on ${fixed[*]} so user 'postgres' can reach $PG_VAR"
    fi
}

prepare_dirs() {
    mkdir -p "$PG_VAR"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (is the postgresql package installed?)"
        ensure_traversable
        # Everything under var/postgres belongs to postgres.
        if [ "$(stat -c %U "$PG_VAR")" != postgres ] || \
           { [ -e "$PG_DATA" ] && [ "$(stat -c %U "$PG_DATA")" != postgres ]; }; then
            chown -R postgres:postgres "$PG_VAR"
        fi
    fi
    chmod 0700 "$PG_VAR"
}

pick_locale() {
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
        echo C.UTF-8
    else
        echo C
    fi
}

init_cluster() {
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        return 0
    fi
    if [ -e "$PG_DATA" ]; then
        # No PG_VERSION => initdb never completed here; nothing worth keeping.
        log "removing incomplete data dir $PG_DATA (no PG_VERSION)"
        rm -rf "$PG_DATA"
    fi
    log "initdb $PG_DATA (PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}'))"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" -E UTF8 --locale="$(pick_locale)" \
        --auth-local=trust --auth-host=scram-sha-256 >"$PG_VAR/initdb.log" 2>&1 </dev/null \
        || { cat "$PG_VAR/initdb.log" >&2; die "initdb failed"; }

    # Our own client authentication: the superuser `postgres` may connect
    # without password over the unix socket and 127.0.0.1 (admin scripts),
    # everyone else (the app: lienthong/lienthong) needs a password. The
    # server listens on 127.0.0.1 only.
    as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<'EOF'
# Managed by deploy/postgres/start.sh (dev/test server, loopback only).
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       all                      trust
host    all       postgres  127.0.0.1/32   trust
host    all       all       127.0.0.1/32   scram-sha-256
EOF
    # Settings rendered on every start (port can change) live in lienthong.conf.
    printf "\n# Added by deploy/postgres/start.sh; rendered on every start:\ninclude_if_exists = 'lienthong.conf'\n" \
        | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

render_conf() {
    local sockdir="$PG_VAR" sock_setting
    # Unix socket paths are limited to 107 bytes; fall back to TCP only.
    if [ $(( ${#sockdir} + ${#PG_PORT} + 10 )) -gt 100 ]; then
        log "note: $sockdir is too long for a unix socket; TCP (127.0.0.1) only"
        sockdir=""
    fi
    sock_setting="$(sql_quote "$sockdir")"
    as_pg tee "$PG_DATA/lienthong.conf" >/dev/null <<EOF
# Rendered by deploy/postgres/start.sh on every start; do not edit.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = $sock_setting
EOF
}

bootstrap_sql() {
    # Idempotent: role lienthong (password lienthong) and its databases.
    pg_admin_psql <<'EOF'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', 'lienthong', 'lienthong')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lienthong') \gexec
ALTER ROLE lienthong LOGIN CREATEDB PASSWORD 'lienthong';
-- DROP DATABASE ... WITH (FORCE) (tests, benchmarks, soak) must also end an autovacuum
-- worker that happens to be in the database; that needs pg_signal_backend.
GRANT pg_signal_backend TO lienthong;
SELECT format('CREATE DATABASE %I OWNER lienthong', d)
  FROM unnest(ARRAY['lienthong', 'lienthong_test']) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
EOF
}

write_pidfile() {
    local pid
    pid="$(pg_running_pid)"
    [ -n "$pid" ] && echo "$pid" >"$PG_PIDFILE"
}

# --------------------------------------------------------------------------
pg_lock

PG_BIN="$(pg_find_bindir)"
if [ -z "$PG_BIN" ]; then
    if [ -f "$PG_DATA/PG_VERSION" ] && ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
        die "$PG_DATA was created by PostgreSQL $(cat "$PG_DATA/PG_VERSION"), which is not installed (apt-get install postgresql-$(cat "$PG_DATA/PG_VERSION")), or remove var/postgres to start over"
    fi
    install_postgres
    PG_BIN="$(pg_find_bindir)"
    [ -n "$PG_BIN" ] || die "PostgreSQL installation did not provide pg_ctl/initdb under /usr/lib/postgresql/*/bin"
fi

running_pid="$(pg_running_pid)"
if [ -n "$running_pid" ]; then
    running_port="$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    if [ -n "$running_port" ] && [ "$running_port" != "$PG_PORT" ]; then
        die "our server is already running on port $running_port (pid $running_pid), not $PG_PORT; run deploy/postgres/stop.sh first"
    fi
    if pg_ready; then
        log "already running (pid $running_pid)"
        echo "$running_pid" >"$PG_PIDFILE"
        bootstrap_sql >/dev/null
        echo "$PG_URL"
        exit 0
    fi
    log "server process $running_pid exists but is not accepting connections yet; waiting"
else
    if (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null; then
        die "port $PG_HOST:$PG_PORT is already in use by another process (set LIENTHONG_PG_PORT)"
    fi
    prepare_dirs
    init_cluster
    render_conf
    rm -f "$PG_PIDFILE"
    log "starting PostgreSQL on $PG_HOST:$PG_PORT (log: $PG_LOG)"
    # pg_ctl forks the postmaster into its own session (setsid) and returns
    # at once (-W); the server therefore survives the caller being killed.
    # fd 9 (our lock) must not leak into the server.
    as_pg "$PG_BIN/pg_ctl" start -W -s -D "$PG_DATA" -l "$PG_LOG" </dev/null >/dev/null 9>&- \
        || { tail_log; die "pg_ctl start failed"; }
    started_here=1
fi

wait_start=$SECONDS
until pg_ready; do
    waited=$(( SECONDS - wait_start ))
    if [ "$waited" -ge "$STARTUP_TIMEOUT" ]; then
        tail_log
        die "PostgreSQL did not accept connections on $PG_HOST:$PG_PORT within ${STARTUP_TIMEOUT}s"
    fi
    # Give up early if the postmaster died (bad config, port clash, ...);
    # it writes data/postmaster.pid right after it starts.
    if [ "$waited" -ge 3 ] && [ -z "$(pg_running_pid)" ]; then
        tail_log
        die "PostgreSQL exited during startup"
    fi
    sleep 0.5
done

write_pidfile
bootstrap_sql || { tail_log; die "could not create role/databases"; }
log "ready"
# A caller that stops what it started (make run-kafka) learns that this run started the server.
if [ -n "${started_here:-}" ] && [ -n "${LIENTHONG_STARTED_MARK:-}" ]; then
    : >"$LIENTHONG_STARTED_MARK"
fi
echo "$PG_URL"
