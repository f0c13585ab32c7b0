# promscale: a PostgreSQL extension (SQL + PL/Python) and its connector.
#   make run    install what is missing, build and install the extension, start the
#               embedded PostgreSQL cluster and the connector on 127.0.0.1:9201
#   make test   the same set-up, then the whole test suite
#   make install         build and install the extension into the local PostgreSQL (PGXS)
#   make bench-traces    OTLP trace ingest (HTTP, gRPC), bytes/span, Jaeger query latency
#   make bench-ingest    remote_write throughput, ours and Prometheus's
#   make bench-query     query_range latency, ours and Prometheus's
#   make bench-labels    series, label names and label values lookups, ours and Prometheus's
#   make bench-storage   bytes/sample compressed vs Prometheus's TSDB, compression rate, read latency
#   make bench-maintenance  flush and compaction time at 100k (or --series N) series
#   make bench-head-window  read latency of the last hour by head partition length
#   make bench-series    series resolution latency (existing / new) against catalog size
#   make bench-views     a time-filtered view query on 72 h vs 2 h of compressed history
#   make bench-rollups   a 30-day dashboard query on raw samples vs rollups, rollup storage
#   make bench-scale     ours vs Prometheus at 10k/100k/1M series: ingest, churn, queries, catalog, memory
#   make ui-screenshots  screenshots of the web UI (/graph, /traces, /status) into docs/img
EXTENSION = promscale
EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" promscale.control)
PG_CONFIG ?= pg_config
HOST_PYTHON ?= python3
VENV ?= .venv
VENV_PY = $(VENV)/bin/python

# the releases: first word of the unindented lines of sql/released-versions (docs/development.md)
UPGRADE_FROM := $(filter-out $(EXTVERSION),$(shell sed -n 's/^\([0-9][^ ]*\) .*/\1/p' sql/released-versions 2>/dev/null))
DATA_built = build/promscale--$(EXTVERSION).sql \
	$(foreach v,$(UPGRADE_FROM),build/promscale--$(v)--$(EXTVERSION).sql)
EXTENSION_SOURCES := sql/bootstrap.sql $(wildcard sql/migrations/*.sql sql/idempotent/*.sql sql/released-versions) \
	$(shell find extension/promscale -name '*.py' -not -path '*/__pycache__/*') tools/build_extension.py promscale.control pyproject.toml

# The planner library (src/): time filters on the prom_metric views bound the compressed rows
# they read, and the `label_ids ? matcher` operators keep the GIN index behind the views' security
# barrier (docs/architecture.md); the query kernels (src/query_kernels.c) are the loops of a range
# query over many windows and points. No LLVM bitcode: JIT inlining of a planner hook gains nothing.
# No floating-point contraction: the kernels give the bits of the NumPy code they stand for.
MODULE_big = promscale
OBJS = src/compressed_time_bounds.o src/label_matchers.o src/query_kernels.o
PG_CFLAGS = -ffp-contract=off
override with_llvm = no

# PGXS exists only once postgresql-server-dev is installed (make deps does that)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
endif

# (the build needs sqlglot in HOST_PYTHON: server-deps installs it)
$(DATA_built) &: $(EXTENSION_SOURCES) | server-deps
	$(HOST_PYTHON) tools/build_extension.py --out build

# the PL/Python modules need the server's Python packages, the planner library a C compiler
install: server-deps
$(OBJS): | server-deps
.PHONY: server-deps
server-deps:
	@HOST_PYTHON=$(HOST_PYTHON) tools/install-deps.sh --server-only

.PHONY: deps
deps:
	@tools/install-deps.sh

# A private copy of the server whose share directory holds this checkout's build:
# test clusters run from it, so parallel checkouts never see each other's extension.
PGROOT := $(shell $(HOST_PYTHON) tools/pgcluster.py pgroot-dir 2>/dev/null)
.PHONY: install-pgroot
install-pgroot: deps
	$(HOST_PYTHON) tools/pgcluster.py overlay $(PGROOT) >/dev/null
	$(MAKE) --no-print-directory install DESTDIR=$(PGROOT) >/dev/null

.PHONY: run
run: deps
	$(MAKE) --no-print-directory install
	$(HOST_PYTHON) tools/pgcluster.py embedded-start
	exec $(VENV)/bin/promscale-connector --listen 127.0.0.1:9201

.PHONY: stop
stop:
	$(HOST_PYTHON) tools/pgcluster.py embedded-stop

PYTEST_ARGS ?=
.PHONY: test
test: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) -m pytest $(PYTEST_ARGS)

.PHONY: bench-rollups
bench-rollups: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/rollups.py $(BENCH_ARGS)

.PHONY: bench-storage
bench-storage: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/storage.py $(BENCH_ARGS)

.PHONY: bench-maintenance
bench-maintenance: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/maintenance.py $(BENCH_ARGS)

.PHONY: bench-head-window
bench-head-window: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/head_window.py $(BENCH_ARGS)

.PHONY: bench-ingest
bench-ingest: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/ingest.py $(BENCH_ARGS)

.PHONY: bench-traces
bench-traces: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/traces.py $(BENCH_ARGS)

.PHONY: proto
proto:
	cd pyconnector/prometheus/proto && $(abspath $(VENV_PY)) -m grpc_tools.protoc -I. --python_out=. *.proto

.PHONY: bench-query
bench-query: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/query.py $(BENCH_ARGS)

.PHONY: bench-series
bench-series: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/series.py $(BENCH_ARGS)

.PHONY: bench-views
bench-views: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/views.py $(BENCH_ARGS)

.PHONY: bench-labels
bench-labels: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/labels.py $(BENCH_ARGS)

.PHONY: bench-scale
bench-scale: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) bench/scale.py $(BENCH_ARGS)

# screenshots of the web UI (README) with demo data, taken by the browser tests' headless chromium
.PHONY: ui-screenshots
ui-screenshots: install-pgroot
	PROMSCALE_TEST_PGROOT=$(PGROOT) $(VENV_PY) tests/ui/screenshots.py docs/img
