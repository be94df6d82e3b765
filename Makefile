# Switchboard's everyday commands. `make help` lists them.
CARGO ?= cargo
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: help run build test fmt lint check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: ## build and start Switchboard (HTTP + job runner) on the embedded SQLite default
	$(CARGO) run --release --bin switchboard -- start

build: ## build the release binary: target/release/switchboard
	$(CARGO) build --release --bin switchboard

test: lint ## formatting, lints and every test (PostgreSQL ones run when SWITCHBOARD_TEST_DATABASE_URL is set)
	$(CARGO) build --bin switchboard
	@mkdir -p target
	$(CARGO) test --workspace 2>&1 | tee target/test-output.txt
	@awk '/^test result:/ {p += $$4; f += $$6} END {printf "tests: %d passed, %d failed\n", p, f}' target/test-output.txt

lint: ## cargo fmt --check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

.PHONY: bench-ingest
bench-ingest: ## webhook ack path: 50,000 signed webhooks at 64 connections, SQLite (FULL) and PostgreSQL, vs a no-op ceiling
	$(CARGO) build --release --bin switchboard --bin bench-ingest
	./target/release/bench-ingest --backend sqlite --requests 50000 --concurrency 64
	@if [ -n "$$SWITCHBOARD_TEST_DATABASE_URL" ]; then \
		./target/release/bench-ingest --backend postgres --requests 50000 --concurrency 64; \
	else echo "skipped: PostgreSQL (set SWITCHBOARD_TEST_DATABASE_URL)"; fi

.PHONY: bench-send
bench-send: ## outbound: 20,000 messages through the API to the sandbox (150 ms latency), channel limit 1,000 mps
	$(CARGO) build --release --bin switchboard --bin bench-send
	./target/release/bench-send --backend sqlite --count 20000 --limit 1000 --latency-ms 150
	@if [ -n "$$SWITCHBOARD_TEST_DATABASE_URL" ]; then \
		./target/release/bench-send --backend postgres --count 20000 --limit 1000 --latency-ms 150; \
	else echo "bench-send: PostgreSQL skipped (set SWITCHBOARD_TEST_DATABASE_URL)"; fi

.PHONY: bench-runner
bench-runner: ## job runner: no-op drain, PROCESS_WEBHOOK projection rate, ack-to-projected latency at 1,000/s
	$(CARGO) build --release --bin switchboard --bin bench-runner
	./target/release/bench-runner --scenario noop --backend sqlite --count 50000
	./target/release/bench-runner --scenario webhooks --backend sqlite --count 50000
	./target/release/bench-runner --scenario latency --backend sqlite --count 10000 --rate 1000
	@if [ -n "$$SWITCHBOARD_TEST_DATABASE_URL" ]; then \
		./target/release/bench-runner --scenario noop --backend postgres --count 50000 && \
		./target/release/bench-runner --scenario noop --backend postgres --count 50000 --runners 2 && \
		./target/release/bench-runner --scenario webhooks --backend postgres --count 50000 && \
		./target/release/bench-runner --scenario latency --backend postgres --count 10000 --rate 1000; \
	else echo "skipped: PostgreSQL (set SWITCHBOARD_TEST_DATABASE_URL)"; fi

.PHONY: fuzz-api
fuzz-api: ## Fuzz the REST API with schemathesis against a running server (expects no 5xx)
	$(CARGO) build -p switchboard-cli
	./scripts/fuzz-api
