#!/usr/bin/env bash
# Stop the project's Kafka node: SIGTERM to its process group (controlled
# shutdown), wait up to 30 s, then SIGKILL. No error if it is not running.
#
#   deploy/kafka/stop.sh           # stop, keep topics/data
#   deploy/kafka/stop.sh --wipe    # stop and delete var/kafka/data (clean slate)
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STOP_TIMEOUT=30
wipe=0
for arg in "$@"; do
    case "$arg" in
        --wipe) wipe=1 ;;
        *) echo "usage: $0 [--wipe]" >&2; exit 2 ;;
    esac
done

kafka_lock

pid="$(kafka_running_pid)"
if [ -z "$pid" ]; then
    log "not running"
else
    # The broker was started with setsid, so its pgid is its pid; signal
    # the group only if that holds (never our own group).
    pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)"
    if [ -n "$pgid" ] && [ "$pgid" = "$pid" ] && [ "$pgid" != "$(ps -o pgid= -p $$ | tr -d ' ')" ]; then
        target="-$pgid"
    else
        target="$pid"
    fi
    log "stopping Kafka (pid $pid)"
    kill -TERM -- "$target" 2>/dev/null || true
    deadline=$(( SECONDS + STOP_TIMEOUT ))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "still running after ${STOP_TIMEOUT}s; SIGKILL"
            kill -KILL -- "$target" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.2
    done
    log "stopped"
fi
rm -f "$KAFKA_PIDFILE" "$KAFKA_VAR/kafka.port"

if [ "$wipe" -eq 1 ]; then
    log "wiping $KAFKA_DATA"
    rm -rf "$KAFKA_DATA"
fi
