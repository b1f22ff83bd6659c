# lienthong — every target installs what it needs; `make help` lists them.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run run-kafka bench-large seed test test-unit test-cluster lint fmt clean pg-up pg-down kafka-fetch kafka-up kafka-down kafka-wipe services-up services-down asyncapi bench cluster-up cluster-down cluster-wipe soak manifests-check

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml gateways/bench/_scan.c gateways/interchange/_xesread.c
	@deploy/documents/install.sh
	@deploy/toolchain/install.sh $(PY)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,mining]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

run: install ## serve the embedded default (SQLite + in-process views) with demo data on 127.0.0.1:8000
	LIENTHONG_DEMO_LOGIN=$${LIENTHONG_DEMO_LOGIN:-true} $(BIN)/lienthong run --host 127.0.0.1 --port 8000

run-kafka: install ## PostgreSQL + Kafka + relay + projectors + inbound + API on 127.0.0.1:8000; Ctrl-C stops what it started
	@mkdir -p var; marks="$$(mktemp -d var/run-kafka.XXXXXX)"; \
	  trap '[ ! -e "$$marks/kafka" ] || deploy/kafka/stop.sh; [ ! -e "$$marks/postgres" ] || deploy/postgres/stop.sh; rm -rf "$$marks"' EXIT; \
	  url="$$(LIENTHONG_STARTED_MARK="$$marks/postgres" deploy/postgres/start.sh | tail -n 1)"; [ -n "$$url" ] || { echo "PostgreSQL did not start (see above)" >&2; exit 1; }; \
	  kafka="$$(LIENTHONG_STARTED_MARK="$$marks/kafka" deploy/kafka/start.sh | tail -n 1)"; [ -n "$$kafka" ] || { echo "Kafka did not start (see above)" >&2; exit 1; }; \
	  printf 'LIENTHONG_EVENT_STORE_URL=%s\nLIENTHONG_KAFKA_BOOTSTRAP=%s\n' "$$url" "$$kafka" > var/run-kafka.env; \
	  echo "wrote var/run-kafka.env (LIENTHONG_ENV_FILE=var/run-kafka.env reaches the same stores from another shell)"; \
	  LIENTHONG_ENV_FILE=var/run-kafka.env LIENTHONG_DEMO_LOGIN=$${LIENTHONG_DEMO_LOGIN:-true} \
	    $(BIN)/lienthong run --host 127.0.0.1 --port 8000 || true

asyncapi: install ## write the AsyncAPI document of every Kafka topic to docs/asyncapi.json
	$(BIN)/lienthong asyncapi --out docs/asyncapi.json

BENCHES := project-kafka rebuild append append-batch import relay query lag mining memory
BENCH_EVENTS ?= 200000

bench: install ## every benchmark at ~200k events (starts PostgreSQL and Kafka); results in var/bench/
	@url="$$(deploy/postgres/start.sh | tail -n 1)"; [ -n "$$url" ] || { echo "PostgreSQL did not start (see above)" >&2; exit 1; }; \
	  kafka="$$(deploy/kafka/start.sh | tail -n 1)"; [ -n "$$kafka" ] || { echo "Kafka did not start (see above)" >&2; exit 1; }; \
	  for b in $(BENCHES); do $(BIN)/lienthong bench $$b --events $(BENCH_EVENTS) --kafka "$$kafka" || exit 1; done; \
	  $(BIN)/lienthong bench rebuild --events $(BENCH_EVENTS) --store-url "$$url"

bench-large: ## the same at 10 M events / ~1 M dossiers (long: hours on 2 cores)
	$(MAKE) bench BENCH_EVENTS=10000000

seed: install ## seed the demo catalogue and dossiers into the configured store
	$(BIN)/lienthong seed

lint: install ## ruff, mypy (strict on domain/ and projections/), import-linter
	$(BIN)/ruff check domain projections gateways tests
	$(BIN)/mypy domain projections
	$(BIN)/mypy gateways
	$(BIN)/lint-imports

fmt: install ## format and autofix
	$(BIN)/ruff format domain projections gateways tests
	$(BIN)/ruff check --fix domain projections gateways tests

test-unit: install ## fast unit tests only (no servers)
	$(BIN)/pytest -q tests/unit

test: install lint ## start PostgreSQL, Kafka and the three-broker cluster, then run every test (unit, contract, integration, e2e, cluster)
	@deploy/browser/install.sh; \
	  url="$$(deploy/postgres/start.sh | tail -n 1)"; [ -n "$$url" ] || { echo "PostgreSQL did not start (see above)" >&2; exit 1; }; \
	  kafka="$$(deploy/kafka/start.sh | tail -n 1)"; [ -n "$$kafka" ] || { echo "Kafka did not start (see above)" >&2; exit 1; }; \
	  trap 'deploy/kafka/cluster.sh down' EXIT; \
	  cluster="$$(deploy/kafka/cluster.sh up)" || exit 1; \
	  echo "PostgreSQL: $$url  Kafka: $$kafka  cluster: $$cluster"; \
	  LIENTHONG_TEST_PG_URL="$$url" LIENTHONG_TEST_KAFKA="$$kafka" LIENTHONG_TEST_KAFKA_CLUSTER="$$cluster" \
	    $(BIN)/pytest -q -p no:cacheprovider

test-cluster: install ## the three-broker cluster tests only (starts PostgreSQL, Kafka and the cluster; stops the cluster)
	@url="$$(deploy/postgres/start.sh | tail -n 1)"; [ -n "$$url" ] || { echo "PostgreSQL did not start (see above)" >&2; exit 1; }; \
	  kafka="$$(deploy/kafka/start.sh | tail -n 1)"; [ -n "$$kafka" ] || { echo "Kafka did not start (see above)" >&2; exit 1; }; \
	  trap 'deploy/kafka/cluster.sh down' EXIT; \
	  cluster="$$(deploy/kafka/cluster.sh up)" || exit 1; \
	  LIENTHONG_TEST_PG_URL="$$url" LIENTHONG_TEST_KAFKA="$$kafka" LIENTHONG_TEST_KAFKA_CLUSTER="$$cluster" \
	    $(BIN)/pytest -q -p no:cacheprovider -m cluster tests/integration

manifests-check: install ## validate deploy/k8s against the Kubernetes schemas (kubernetes-validate)
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/test_manifests.py

soak: install ## province-year soak on the three-broker cluster with faults (long); summary in var/bench/soak.json
	@url="$$(deploy/postgres/start.sh | tail -n 1)"; [ -n "$$url" ] || { echo "PostgreSQL did not start (see above)" >&2; exit 1; }; \
	  trap 'deploy/kafka/cluster.sh down' EXIT; \
	  cluster="$$(deploy/kafka/cluster.sh up)" || exit 1; \
	  $(BIN)/lienthong soak --kafka "$$cluster" --store-url "$$url" $(SOAK_ARGS)

pg-up: ## start the project's PostgreSQL on 127.0.0.1:54329 (data under var/postgres)
	deploy/postgres/start.sh
pg-down: ## stop it
	deploy/postgres/stop.sh
kafka-fetch: ## fetch the Apache Kafka jars from Maven Central into var/kafka/libs
	deploy/kafka/fetch.sh
kafka-up: ## start a single-node KRaft Apache Kafka on 127.0.0.1:9092
	deploy/kafka/start.sh
kafka-down: ## stop it
	deploy/kafka/stop.sh
kafka-wipe: ## stop it and delete its data
	deploy/kafka/stop.sh --wipe
cluster-up: ## start a three-broker KRaft cluster on 127.0.0.1:19092-19094 (data under var/kafka-cluster)
	deploy/kafka/cluster.sh up
cluster-down: ## stop it
	deploy/kafka/cluster.sh down
cluster-wipe: ## stop it and delete its data
	deploy/kafka/cluster.sh down --wipe
services-up: pg-up kafka-up ## start PostgreSQL and Kafka
services-down: kafka-down pg-down ## stop both

clean: ## stop the servers and delete var/ and .venv/
	-deploy/kafka/cluster.sh down
	-deploy/kafka/stop.sh
	-deploy/postgres/stop.sh
	rm -rf var $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
