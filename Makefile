# voicehive.remediation — single entry point for setup, tests, lab and demo.
# `make help` lists the targets.

SHELL      := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT       := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV       := $(ROOT)/.venv
BIN        := $(VENV)/bin
PY         := $(BIN)/python
STAMP      := $(VENV)/.setup-stamp
COLL_LINK  := $(ROOT)/.collections/ansible_collections/voicehive/remediation
VERSION    := $(shell sed -n 's/^version: *//p' $(ROOT)/galaxy.yml 2>/dev/null)
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
# keep pip quiet about the machine's optional local indexes
export PIP_DISABLE_PIP_VERSION_CHECK := 1

DEB_PKGS   := redis-server prometheus prometheus-alertmanager postgresql-15 postgresql-contrib-15 openjdk-17-jre-headless

.PHONY: help setup deb-packages venv collection-link lint sanity unit integration \
        molecule test demo lab-up lab-down lab-status bench build clean lock eda ee-context

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: deb-packages venv collection-link ## install Debian packages, the pinned .venv and the collection link (idempotent)

deb-packages: ## install the lab's Debian packages when missing
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	[ -x /usr/lib/postgresql/15/bin/postgres ] || missing="$$missing postgresql-15"; \
	[ -f /usr/share/postgresql/15/extension/pg_stat_statements.control ] || missing="$$missing postgresql-contrib-15"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  echo ">> installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEB_PKGS) >/dev/null; \
	else echo ">> Debian packages present"; fi

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt constraints-py311.txt hack/find-python
	@pybin=$$(hack/find-python); echo ">> creating .venv with $$pybin"; \
	[ -x $(PY) ] || $$pybin -m venv $(VENV); \
	cons=constraints.txt; $(PY) -c 'import sys; sys.exit(sys.version_info >= (3, 12))' && cons=constraints-py311.txt; \
	$(BIN)/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true; \
	$(BIN)/pip install -q -r requirements-dev.txt -c $$cons 2>&1 | grep -v "^WARNING: Location" || true; \
	$(PY) -c 'import ansible, redis, psycopg, hvac, kubernetes, boto3, jwt, moto' ; \
	touch $(STAMP)

collection-link: ## link the checkout as ansible_collections/voicehive/remediation
	@mkdir -p $(dir $(COLL_LINK)); \
	[ -L $(COLL_LINK) ] || ln -sfn ../../.. $(COLL_LINK)

lint: setup ## ansible-lint (production), yamllint, ruff
	$(BIN)/yamllint -s .
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ansible-lint

sanity: setup ## ansible-test sanity (all tests that apply, no ignores)
	@hack/ansible-test-sanity

unit: setup ## unit tests (modules, module_utils, filters, callbacks, lab simulators)
	$(BIN)/pytest -q --durations=15 tests/unit lab/tests/unit

integration: setup ## lab integration: starts the lab, runs pytest and, beside it on a second lab (network namespace), molecule; stops both
	@hack/with-lab hack/integration

test: ## everything CI runs: setup, then the lab integration with lint, sanity and unit beside it (nice 19); prints each phase's time
	@MAKE="$(MAKE)" hack/make-test

# EDA_ACTION picks the rulebook: run_playbook (local launcher) or run_job_template (AWX; ansible-rulebook needs
# --controller-url/--controller-token, e.g. EDA_ARGS="--controller-url https://awx --controller-token $$TOKEN").
EDA_ACTION ?= run_playbook
EDA_VARS   ?=
EDA_ARGS   ?=
eda: setup ## run the Alertmanager rulebook (EDA_ACTION=run_playbook|run_job_template, EDA_VARS=<vars file>)
	@case "$(EDA_ACTION)" in run_playbook) rb=alertmanager.yml;; run_job_template) rb=alertmanager_awx.yml;; \
	  *) echo "EDA_ACTION must be run_playbook or run_job_template" >&2; exit 2;; esac; \
	cd $(ROOT) && exec $(BIN)/ansible-rulebook -r extensions/eda/rulebooks/$$rb -i extensions/eda/inventory.yml \
	  $(if $(EDA_VARS),--vars $(EDA_VARS)) $(EDA_ARGS) -v

demo: setup ## start the lab, break three things, diagnose, remediate (then with approvals), show the reports
	@hack/demo

lab-up: setup ## start the local VoiceHive lab (all services on 127.0.0.1)
	lab/bin/lab up

lab-down: ## stop every lab process
	lab/bin/lab down

lab-status: ## show each lab service and its health
	lab/bin/lab status

bench: setup ## slow performance benchmarks (results in benchmarks/)
	@hack/with-lab benchmarks/run

build: setup ## build the collection tarball
	$(BIN)/ansible-galaxy collection build --force --output-path $(ROOT)

ee-context: setup ## the execution environment's build context in .ee/context (offline; then podman build .ee/context)
	rm -rf .ee && mkdir -p .ee/collection
	$(BIN)/ansible-galaxy collection build --force --output-path .ee/collection
	$(BIN)/ansible-builder create -f execution-environment.yml -c .ee/context --output-filename Containerfile

lock: ## regenerate constraints.txt from a fresh resolve of requirements-dev.txt
	@pybin=$$(hack/find-python); tmp=$$(mktemp -d); $$pybin -m venv $$tmp; \
	$$tmp/bin/pip install -q -r requirements-dev.txt 2>&1 | grep -v "^WARNING: Location" || true; \
	{ echo "# Pinned toolchain (generated by 'make lock'; do not edit by hand)"; $$tmp/bin/pip freeze; } > constraints.txt; rm -rf $$tmp

clean: ## remove the venv, caches, build output and lab state (stops the lab first)
	-[ -x lab/bin/lab ] && lab/bin/lab down
	rm -rf $(VENV) .collections .pytest_cache .ruff_cache tests/output lab/.state reports .ee \
	       voicehive-remediation-*.tar.gz
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
