#!/usr/bin/env bash
# Stop the project's PostgreSQL server (fast shutdown: open sessions are
# disconnected, no data loss). No error if it is not running.
#
#   deploy/postgres/stop.sh
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STOP_TIMEOUT=60

pg_lock

pid="$(pg_running_pid)"
if [ -z "$pid" ]; then
    log "not running"
    rm -f "$PG_PIDFILE"
    exit 0
fi

# SIGINT = "fast" shutdown (what pg_ctl stop -m fast sends).
log "stopping PostgreSQL (pid $pid, fast shutdown)"
kill -INT "$pid" 2>/dev/null || true
deadline=$(( SECONDS + STOP_TIMEOUT ))
while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        # SIGQUIT = "immediate" shutdown (crash recovery on next start).
        log "still running after ${STOP_TIMEOUT}s; immediate shutdown"
        kill -QUIT "$pid" 2>/dev/null || true
        sleep 5
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        break
    fi
    sleep 0.2
done
rm -f "$PG_PIDFILE"
log "stopped"
