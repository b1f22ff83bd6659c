#!/usr/bin/env bash
# Download Apache Kafka (broker, tools, log4j2 backend) from Maven Central
# into var/kafka/libs, using deploy/kafka/pom.xml. Does nothing when
# var/kafka/libs/.complete matches the current pom.xml. Installs Java 17
# and Maven with apt-get if they are missing.
#
#   deploy/kafka/fetch.sh          # prints the Kafka version on stdout
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

kafka_lock
kafka_fetch
kafka_version
