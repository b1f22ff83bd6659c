# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
# Shared settings for deploy/kafka/*.sh (sourced, not executed).
#
# Layout (all relative to the repository root, computed from this file):
#   var/kafka/libs/               jars fetched by Maven (marker: .complete)
#   var/kafka/data/               KRaft metadata + topic data (log.dirs)
#   var/kafka/server.properties   rendered from deploy/kafka/server.properties
#   var/kafka/kafka.log           broker stdout/stderr
#   var/kafka/kafka.pid           broker pid (= its process group id)
#
# Environment:
#   LIENTHONG_KAFKA_PORT             broker port on 127.0.0.1 (default 9092)
#   LIENTHONG_KAFKA_CONTROLLER_PORT  KRaft controller port (default 9093)
#   LIENTHONG_KAFKA_HEAP             JVM heap flags (default "-Xms256m -Xmx512m")
#   JAVA_HOME                        optional; a Java >= 17 is required

KAFKA_DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$KAFKA_DEPLOY_DIR/../.." && pwd -P)"
KAFKA_VAR="$REPO_ROOT/var/kafka"
KAFKA_LIBS="$KAFKA_VAR/libs"
KAFKA_DATA="$KAFKA_VAR/data"
KAFKA_PROPS="$KAFKA_VAR/server.properties"
KAFKA_LOG="$KAFKA_VAR/kafka.log"
KAFKA_PIDFILE="$KAFKA_VAR/kafka.pid"
KAFKA_LOCK="$REPO_ROOT/var/.kafka.lock"
KAFKA_HOST=127.0.0.1
KAFKA_PORT="${LIENTHONG_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${LIENTHONG_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
# Put on the broker's command line so that its process can be recognised
# (pid reuse, lost pid file) without matching on broad names.
KAFKA_TAG="-Dlienthong.kafka.home=$KAFKA_VAR"

for _v in KAFKA_PORT KAFKA_CONTROLLER_PORT; do
    case "${!_v}" in
        '' | *[!0-9]*) echo "LIENTHONG_$_v must be a number, got '${!_v}'" >&2; exit 2 ;;
    esac
done
unset _v

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { printf '[kafka] ERROR: %s\n' "$*" >&2; exit 1; }

# Serialise the scripts of this checkout (fd 9; the broker is launched
# with 9>&- so it never holds the lock).
kafka_lock() {
    mkdir -p "$(dirname "$KAFKA_LOCK")"
    exec 9>"$KAFKA_LOCK"
    flock -w 300 9 || die "could not take $KAFKA_LOCK (another deploy/kafka script is running?)"
}

# ---------------------------------------------------------------- java/mvn
_java_major() {  # prints the feature version of java binary $1, or 0
    local v
    v="$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n 1)"
    v="${v#1.}"
    case "$v" in '' | *[!0-9]*) echo 0 ;; *) echo "$v" ;; esac
}

_find_java() {
    local c
    for c in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java 2>/dev/null || true)" /usr/lib/jvm/*/bin/java; do
        [ -n "$c" ] && [ -x "$c" ] || continue
        if [ "$(_java_major "$c")" -ge 17 ]; then
            echo "$c"
            return 0
        fi
    done
    return 0
}

_apt_install() {
    [ "$(id -u)" -eq 0 ] || die "missing $*; not root, so install it yourself: sudo apt-get install -y $*"
    log "installing $* (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${_APT_UPDATED:-}" ]; then
        apt-get update -qq
        _APT_UPDATED=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Sets JAVA (>= 17), installing openjdk-17-jre-headless if needed.
kafka_need_java() {
    [ -n "${JAVA:-}" ] && return 0
    JAVA="$(_find_java)"
    if [ -z "$JAVA" ]; then
        _apt_install openjdk-17-jre-headless
        JAVA="$(_find_java)"
        [ -n "$JAVA" ] || die "no Java >= 17 found even after installing openjdk-17-jre-headless"
    fi
}

# Sets MVN, installing maven if needed.
kafka_need_maven() {
    MVN="$(command -v mvn 2>/dev/null || true)"
    if [ -z "$MVN" ]; then
        _apt_install maven
        MVN="$(command -v mvn 2>/dev/null || true)"
        [ -n "$MVN" ] || die "mvn not found even after installing maven"
    fi
}

# ------------------------------------------------------------------- fetch
_pom_stamp() { sha256sum "$KAFKA_DEPLOY_DIR/pom.xml" | awk '{print $1}'; }

kafka_libs_ok() {
    [ -f "$KAFKA_LIBS/.complete" ] && [ "$(cat "$KAFKA_LIBS/.complete")" = "$(_pom_stamp)" ]
}

# Download the broker, tools and log4j2 jars into var/kafka/libs unless the
# marker says they are there for the current pom.xml. Caller holds the lock.
kafka_fetch() {
    kafka_need_java
    if kafka_libs_ok; then
        return 0
    fi
    if [ -n "$(kafka_running_pid)" ]; then
        die "var/kafka/libs is missing or outdated but the broker is running on those jars; run deploy/kafka/stop.sh first"
    fi
    kafka_need_maven
    local tmp="$KAFKA_VAR/libs.tmp" started=$SECONDS
    mkdir -p "$KAFKA_VAR"
    rm -rf "$tmp"
    log "fetching Kafka jars with Maven into $KAFKA_LIBS (first time: ~45 MB)"
    # JAVA_HOME for mvn: the JDK/JRE that owns $JAVA.
    if ! JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$JAVA")")")" \
        "$MVN" -q -B -f "$KAFKA_DEPLOY_DIR/pom.xml" dependency:copy-dependencies \
            -DoutputDirectory="$tmp" -DincludeScope=runtime >"$KAFKA_VAR/fetch.log" 2>&1; then
        tail -n 30 "$KAFKA_VAR/fetch.log" >&2
        rm -rf "$tmp"
        die "maven could not fetch the Kafka jars (full output: $KAFKA_VAR/fetch.log)"
    fi
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "maven finished but no kafka_2.13 jar in $tmp"
    _pom_stamp >"$tmp/.complete"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    log "fetched $(ls "$KAFKA_LIBS"/*.jar | wc -l) jars ($(basename "$(ls "$KAFKA_LIBS"/kafka_2.13-*.jar)" .jar)) in $(( SECONDS - started ))s"
}

kafka_version() {
    local j
    j="$(ls "$KAFKA_LIBS"/kafka_2.13-*.jar 2>/dev/null | head -n 1)"
    j="$(basename "$j" .jar)"
    echo "${j#kafka_2.13-}"
}

# Run a Kafka tool class: kafka_tool CLASS ARGS... (logging: warnings, stderr)
kafka_tool() {
    kafka_need_java
    local cls="$1"
    shift
    "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$KAFKA_DEPLOY_DIR/log4j2-tools.properties" \
        -cp "$KAFKA_LIBS/*" "$cls" "$@"
}

# ----------------------------------------------------------------- process
_is_our_broker() {  # pid: a java process with our tag and main class kafka.Kafka
    local args
    args="$(tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline")" 2>/dev/null || return 1
    grep -qxF -- "$KAFKA_TAG" <<<"$args" && grep -qxF kafka.Kafka <<<"$args"
}

# Pid of this checkout's broker, or "" (pid file first, then /proc scan in
# case the pid file was lost).
kafka_running_pid() {
    local pid f
    if [ -f "$KAFKA_PIDFILE" ]; then
        pid="$(head -n 1 "$KAFKA_PIDFILE" 2>/dev/null || true)"
        case "$pid" in
            '' | *[!0-9]*) ;;
            *) if _is_our_broker "$pid"; then echo "$pid"; return 0; fi ;;
        esac
    fi
    # cmdline is NUL-separated: -z makes each argument a "line", -x -F
    # an exact match of our tag argument.
    for f in $(grep -lzxF -- "$KAFKA_TAG" /proc/[0-9]*/cmdline 2>/dev/null || true); do
        pid="${f#/proc/}"
        pid="${pid%/cmdline}"
        _is_our_broker "$pid" || continue   # (grep itself matches too)
        echo "$pid"
        return 0
    done
    return 0
}

port_open() {  # port
    (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null
}
