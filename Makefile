# Dasan — the two commands a user needs are `make demo` and `make test`.
# Everything installs into .venv/ at the repo root; system packages come from apt.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DASAN := $(BIN)/dasan
APT_PACKAGES := debootstrap sip-tester espeak-ng sox ffmpeg zstd chromium fonts-nanum util-linux procps iproute2 postgresql-client gcc libc6-dev baresip-core openssl sipvicious nftables kannel kannel-extras kamailio kamailio-postgres-modules
PYTEST_ARGS ?=

.PHONY: all demo test test-unit test-integration test-browser lint bench soak chaos system-deps \
        venv venv-load venv-bench pbx-image prompts postgres clean attack cluster capacity

all: venv

# Real video softphones for the sign-language tests (fakevideo, VP8; avcodec for H.264).
APT_PACKAGES += baresip-core baresip-ffmpeg

## Install missing system packages (Debian).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

## Python virtual environment with the project and its dev tools; the optional extras
## (pyproject: load = `dasan load`/`sim --plot`, bench = benchmarks only) go in by target.
venv: $(VENV)/.installed-dev
venv-load: $(VENV)/.installed-load
venv-bench: $(VENV)/.installed-bench
$(VENV)/.installed-%: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null
	$(BIN)/pip install -q -e '.[$*]'
	touch $@

## Make sure the local PostgreSQL answers (integration tests use it).
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  cluster=$$(ls /etc/postgresql 2>/dev/null | head -n1); \
	  if [ -n "$$cluster" ]; then pg_ctlcluster --skip-systemctl-redirect $$cluster main start; fi; }

## Build (or restore from cache) the Asterisk 22 root filesystem.
pbx-image: system-deps venv
	$(DASAN) pbx image

## Generate placeholder prompt audio for every language.
prompts: system-deps venv
	$(DASAN) prompts build

demo: system-deps venv pbx-image prompts
	$(DASAN) pbx up
	$(DASAN) sms up
	$(DASAN) demo

# The integration and browser tiers run in a private network namespace with its own
# loopback, so a PBX left up by `make demo` never collides with the test PBX.
ISOLATED := unshare --net -- sh -c 'ip link set lo up && exec "$$0" "$$@"'

# The tests cover `dasan load` and `dasan sim --plot`: they need the load extra.
# The slowest tests are listed at the end, to keep the whole run within its time budget.
test: system-deps venv venv-load pbx-image prompts postgres
	$(ISOLATED) $(BIN)/pytest --durations=40 $(PYTEST_ARGS)

test-unit: venv venv-load
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

test-integration: system-deps venv venv-load pbx-image prompts postgres
	$(ISOLATED) $(BIN)/pytest -m integration $(PYTEST_ARGS)

test-browser: system-deps venv pbx-image prompts postgres
	$(ISOLATED) $(BIN)/pytest -m browser $(PYTEST_ARGS)

## Style, types, and the dependency contract of .importlinter (a unit test checks it too).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

bench: system-deps venv venv-load venv-bench pbx-image prompts postgres
	$(BIN)/python -m benchmarks.run

## What each phase of a call costs the PBX, then the capacity model against 2 nodes (root,
## PostgreSQL); make bench runs both with every other benchmark (the 2-node check last).
capacity: system-deps venv venv-load venv-bench pbx-image prompts postgres
	$(BIN)/python -m benchmarks.run --only pbx_phases pbx_cluster_check

## The 30-minute soak alone (make bench runs it with every other benchmark).
soak: system-deps venv venv-load venv-bench pbx-image prompts postgres
	$(BIN)/python -m benchmarks.run --only pbx_soak

## The whole fault matrix under load (make test runs its short form), then the README table.
chaos: system-deps venv venv-load pbx-image prompts postgres
	CHAOS_FULL=1 $(ISOLATED) $(BIN)/pytest -m integration tests/integration/chaos $(PYTEST_ARGS); \
	status=$$?; $(BIN)/python -m tests.integration.chaos.table && exit $$status

## Kamailio in front of two PBX nodes in network namespaces: 40 calls spread over both, one
## node killed (make test runs its short form); figures in var/cluster/result.json. Also
## the consultants registering at Kamailio (--consultants registered; only here, not in test).
cluster: system-deps venv venv-load pbx-image prompts postgres
	CLUSTER_FULL=1 DASAN_CLUSTER_REPORT=$(CURDIR)/var/cluster/result.json $(ISOLATED) $(BIN)/pytest -m integration tests/integration/cluster $(PYTEST_ARGS)

## The attack suite in full (make test runs its short form): sipvicious and a REGISTER flood
## from an attacker namespace while carrier calls go on; figures in var/attack/result.json.
attack: system-deps venv venv-load pbx-image prompts postgres
	ATTACK_FULL=1 DASAN_ATTACK_DIR=$(CURDIR)/var/attack $(ISOLATED) $(BIN)/pytest -m integration tests/integration/security/test_attacks.py $(PYTEST_ARGS)

clean:
	-$(DASAN) pbx down
	rm -rf var
