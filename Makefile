# Two commands set up a fresh machine: `make lab`, then `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)
# The lab's Debian release: bookworm (Debian 12, the default) or trixie (Debian 13). Each release
# has its own image and, unless ACGS_LAB is set, its own lab name.
LAB_RELEASE ?= bookworm
export LAB_RELEASE
ACGS_LAB ?= $(if $(filter bookworm,$(LAB_RELEASE)),acgs-lab,acgs-lab-$(LAB_RELEASE))
export ACGS_LAB
# Opt-in accelerator (README "Faster runs with mitogen"): ACGS_ACCELERATE=mitogen runs every
# playbook here (lab, tests, molecule) with mitogen's strategies instead of one ssh run per task.
ifeq ($(ACGS_ACCELERATE),mitogen)
export ACGS_ACCELERATE
export ANSIBLE_STRATEGY_PLUGINS := $(CURDIR)/tools/mitogen
export ANSIBLE_STRATEGY := mitogen_linear
else ifneq ($(ACGS_ACCELERATE),)
$(error ACGS_ACCELERATE=$(ACGS_ACCELERATE) is not an accelerator here: use ACGS_ACCELERATE=mitogen, or leave it unset for ansible's own strategies)
endif
# Debian packages the control machine needs: podman for the lab, haproxy/promtool/amtool
# for fast local tests and config checks, shellcheck for the lint step.
DEB_PACKAGES := podman runc debootstrap uidmap haproxy prometheus prometheus-alertmanager prometheus-haproxy-exporter openssh-client rsync curl shellcheck

.PHONY: docs screenshots help deps venv image images release-tools lab lab-up lab-down lab-status test test-unit test-local test-lint test-sanity test-specs test-molecule test-integration test-ha clean

help:
	@echo "make lab        install what is missing, build the image once, start the lab, run site.yml"
	@echo "                (LAB_RELEASE=trixie: the same on Debian 13, lab acgs-lab-trixie)"
	@echo "make test       the whole suite (lint, specs, unit, local haproxy, sanity, molecule, lab integration)"
	@echo "make test-unit  fast unit tests only"
	@echo "make lab-down   remove the lab containers (keeps the image)"

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "ERROR: need root to install:$$missing (run as root or install them)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	    || { echo "ERROR: apt-get could not install:$$missing (apt-get's error is above: check /etc/apt/sources.list and the network, then 'make lab' again)" >&2; exit 1; }; \
	fi

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

image: deps
	lab/build-image.sh

# Molecule converges one host of each release: both images.
images: deps
	LAB_RELEASE=bookworm lab/build-image.sh
	LAB_RELEASE=trixie lab/build-image.sh

lab-up: image
	lab/lab.sh up

lab: venv lab-up
	$(BIN)/ansible-playbook site.yml -i inventories/lab

lab-down:
	lab/lab.sh down

lab-status:
	lab/lab.sh status

test-specs: venv
	$(BIN)/pytest -q tests/test_argument_specs.py tests/test_role_readmes.py tests/test_promise_map.py

test-unit: venv
	$(BIN)/pytest -q tests/unit tests/test_argument_specs.py tests/test_role_readmes.py tests/test_promise_map.py

# trixie's haproxy, promtool, amtool and haproxy-exporter, runnable here, for tests/local (tools/release_tools.sh).
release-tools: images
	LAB_RELEASE=trixie tools/release_tools.sh

test-local: venv deps release-tools
	$(BIN)/pytest -q tests/local

test-lint: venv
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint
	@# shellcheck every tracked regular file named *.sh or whose first line is a sh/bash shebang (new scripts included)
	set -o pipefail; git ls-files -s | awk -F '\t' '$$1 ~ /^100/ { r = (getline l < $$2); close($$2); if (r >= 0 && ($$2 ~ /\.sh$$/ || (r > 0 && l ~ /^#!.*[\/ ](ba|da)?sh([ \t]|$$)/))) print $$2 }' | xargs -r shellcheck

test-sanity: venv
	tests/sanity.sh

test-molecule: venv images
	tests/molecule.sh

# test_backup.py destroys and rebuilds lb1 and mon1: it runs last, on its own. test_ha.py runs in
# its own lab (tests/ha.sh) and skips itself here.
test-integration: lab
	$(BIN)/pytest -q tests/integration --ignore=tests/integration/test_backup.py
	ACGS_DESTRUCTIVE=1 $(BIN)/pytest -q tests/integration/test_backup.py

test-ha: venv image
	tests/ha.sh

test: venv deps release-tools
	$(MAKE) test-lint
	$(BIN)/pytest -q tests/unit tests/test_argument_specs.py tests/test_role_readmes.py tests/test_promise_map.py tests/local
	$(MAKE) test-sanity
	$(MAKE) test-molecule
	$(MAKE) test-integration
	$(MAKE) test-ha

docs: venv
	$(PY) tools/role_readme.py

screenshots: lab
	dpkg -s chromium >/dev/null 2>&1 || apt-get install -y -qq chromium >/dev/null
	$(PY) tools/screenshots.py --server-down app2:8002

clean:
	rm -rf .cache tests/output bench/results
