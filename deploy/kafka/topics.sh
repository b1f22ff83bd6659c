#!/usr/bin/env bash
# kafka-topics for the project's broker (org.apache.kafka.tools.TopicCommand).
# --bootstrap-server is added unless given. Examples:
#
#   deploy/kafka/topics.sh --list
#   deploy/kafka/topics.sh --create --if-not-exists --topic events --partitions 3
#   deploy/kafka/topics.sh --describe --topic events
#   deploy/kafka/topics.sh --delete --topic events
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

kafka_libs_ok || die "Kafka jars not fetched; run deploy/kafka/start.sh (or fetch.sh) first"
case " $* " in
    *" --bootstrap-server "*) exec_args=("$@") ;;
    *) exec_args=(--bootstrap-server "$KAFKA_BOOTSTRAP" "$@") ;;
esac
kafka_tool org.apache.kafka.tools.TopicCommand "${exec_args[@]}"
