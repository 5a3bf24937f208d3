# Build and test harness of the scimkit.atlassian Ansible collection (GNU make).
#
#   make demo    bootstrap .venv, build and install the collection, then onboard a team with
#                playbooks/onboarding.yml against the local sandbox: onboard, again (no change), offboard one
#   make test    bootstrap .venv, then units, integration, sanity, lint, changelog-lint, docs, galaxy-import
#
# Needs only Python 3.11+, pip, git and make; everything else comes from PyPI into .venv.
# Every target can be re-run; `make help` lists them.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
# `make test` runs its steps in the order listed and stops at the first failure, also under -j.
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules --no-print-directory

# ---------------------------------------------------------------------------------------------
# Paths

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.make-stamp
REQUIREMENTS := requirements.txt tests/requirements.txt tests/utils/requirements-tools.txt

BUILD := $(CURDIR)/build
# The working tree laid out as ansible_collections/scimkit/atlassian (see `collection`).
COLLECTIONS := $(BUILD)/collections
COLLECTION := $(COLLECTIONS)/ansible_collections/scimkit/atlassian
# Where `demo` installs the built tarball, and the sandbox's state directory.
DEMO_COLLECTIONS := $(BUILD)/demo-collections
SANDBOX_DIR := $(BUILD)/sandbox
DEMO_PLAYBOOK := playbooks/onboarding.yml
DEMO_INVENTORY := playbooks/inventory/hosts.yml

VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := $(BUILD)/scimkit-atlassian-$(VERSION).tar.gz

# `docs`: antsibull-docs writes the RST of the docs site into DOCS_RST (plugin and role reference
# from the plugins' own documentation, plus docs/docsite/), Sphinx builds the HTML into DOCS with
# the offline configuration in DOCSITE_CONF.
DOCS := $(BUILD)/docs
DOCS_RST := $(BUILD)/docs-rst
DOCSITE_CONF := tests/utils/docsite
# `galaxy-import`: the tarball that `ansible-galaxy collection build` makes of the laid-out tree,
# galaxy-importer's settings and log, and where the tarball is test-installed.
IMPORT_DIR := $(BUILD)/galaxy-import
IMPORT_TARBALL := $(IMPORT_DIR)/scimkit-atlassian-$(VERSION).tar.gz
GALAXY_IMPORTER_CFG := tests/utils/galaxy-importer.cfg
IMPORT_ENV = env PATH="$(BIN):$$PATH" $(ANSIBLE_ENV) ANSIBLE_COLLECTIONS_PATH="$(IMPORT_DIR)/collections"

# Extra arguments, e.g. `make units PYTEST_ARGS='-k token -x'`, `make sanity SANITY_ARGS='--test pep8'`.
PYTEST_ARGS ?=
SANITY_ARGS ?=
LINT_ARGS ?=
# ansible-test runs the sanity tests with the Python of .venv (3.11 on a standard machine).
SANITY_PYTHON ?= $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# ---------------------------------------------------------------------------------------------
# Environment: every ANSIBLE_* setting the targets use, in one place.

# For every ansible command run here (tests and demo).
ANSIBLE_ENV := \
	ANSIBLE_PYTHON_INTERPRETER=auto_silent \
	ANSIBLE_LOCALHOST_WARNING=false \
	ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
	ANSIBLE_RETRY_FILES_ENABLED=false

# For the tests: plain output that tests and logs can read, and the laid-out collection.
# SCIMKIT_COLLECTIONS_PATH tells tests/integration/conftest.py which collections path to pass to
# the ansible-playbook runs; PYTHONPATH makes `import ansible_collections.scimkit.atlassian...`
# work in pytest.
TEST_ENV := env \
	PATH="$(BIN):$$PATH" \
	$(ANSIBLE_ENV) \
	ANSIBLE_FORCE_COLOR=0 \
	ANSIBLE_NOCOLOR=1 \
	NO_COLOR=1 \
	ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS)" \
	SCIMKIT_COLLECTIONS_PATH="$(COLLECTIONS)"

# For the demo: the collection as a user gets it, installed from the built tarball.
DEMO_ENV := env \
	PATH="$(BIN):$$PATH" \
	$(ANSIBLE_ENV) \
	ANSIBLE_COLLECTIONS_PATH="$(DEMO_COLLECTIONS)"

# For the docs and import checks: the venv's tools and the laid-out collection.
TOOLS_ENV := env \
	PATH="$(BIN):$$PATH" \
	$(ANSIBLE_ENV) \
	ANSIBLE_NOCOLOR=1 \
	ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS)"

PYTEST := $(BIN)/python -m pytest -ra -o cache_dir="$(BUILD)/pytest-cache"

# ---------------------------------------------------------------------------------------------
# Targets

.PHONY: help venv collection units integration sanity lint changelog-lint docs galaxy-import test demo clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

venv: $(VENV_STAMP) ## create .venv and install tests/requirements.txt (again only when requirements change)

$(VENV_STAMP): $(REQUIREMENTS)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "make: $(PYTHON) is $$($(PYTHON) -V 2>&1); Python 3.11 or newer is required (make PYTHON=python3.11 ...)" >&2; exit 1; }
	@# A venv interrupted while being created has no working python: start it again.
	@$(BIN)/python -c '' 2>/dev/null || { rm -rf "$(VENV)"; echo "$(PYTHON) -m venv $(VENV)"; $(PYTHON) -m venv "$(VENV)"; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --progress-bar off -r tests/requirements.txt -r tests/utils/requirements-tools.txt
	@touch $@

collection: ## lay the working tree out as build/collections/ansible_collections/scimkit/atlassian
	$(PYTHON) tests/utils/layout.py "$(COLLECTION)"

# The unit tests, and the self-tests of the test helpers (sandbox, fault proxy): all offline.
UNIT_TEST_DIRS := tests/unit tests/sandbox tests/faultproxy

units: venv collection ## pytest tests/unit and the test helpers' own tests (no network)
	cd "$(COLLECTION)" && $(TEST_ENV) PYTHONPATH="$(COLLECTIONS)" $(PYTEST) $(PYTEST_ARGS) \
		$$(for d in $(UNIT_TEST_DIRS); do [ ! -d "$$d" ] || echo "$$d"; done)

# Each pytest-xdist worker starts its own sandbox; ansible-playbook is CPU-bound, so one worker a core.
INTEGRATION_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

integration: venv collection ## pytest tests/integration (ansible-playbook against the sandbox on 127.0.0.1)
	cd "$(COLLECTION)" && $(TEST_ENV) PYTHONPATH="$(COLLECTIONS)" $(PYTEST) -n $(INTEGRATION_WORKERS) $(PYTEST_ARGS) tests/integration

# ansible-test sanity, every test, no ignore file (tests/sanity/ignore-*.txt must not exist).
# --venv: ansible-test makes its own virtualenvs with its pinned tools (cached in
# ~/.ansible/test/venv, so only the first run installs them) as no container engine runs here.
# Its pip bootstrap script comes from a host we cannot reach; ansible_test_pip.py caches a
# stand-in that bootstraps pip from the interpreter and PyPI (see that file).
# First our own check that meta/runtime.yml's action groups match the modules' doc fragments,
# which ansible-test does not do (style guide section 9).
sanity: venv collection ## ansible-test sanity --venv on the laid-out tree (+ action-group check)
	@if compgen -G "$(COLLECTION)/tests/sanity/ignore-*.txt" >/dev/null; then \
		echo "make: tests/sanity/ignore-*.txt exists; findings are fixed, not ignored" >&2; exit 1; fi
	cd "$(COLLECTION)" && $(BIN)/python tests/utils/check_action_groups.py
	$(BIN)/python tests/utils/ansible_test_pip.py
	cd "$(COLLECTION)" && env PATH="$(BIN):$$PATH" $(BIN)/ansible-test sanity --venv --python $(SANITY_PYTHON) $(SANITY_ARGS)

lint: venv collection ## ansible-lint, production profile (.ansible-lint), over the laid-out tree
	cd "$(COLLECTION)" && $(TEST_ENV) $(BIN)/ansible-lint $(LINT_ARGS)

changelog-lint: venv ## antsibull-changelog lint (fragments and changelog.yaml)
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog lint-changelog-yaml --strict changelogs/changelog.yaml

# antsibull-docs lint-collection-docs first (plugin docs, docs/docsite/extra-docs.yml, links.yml,
# the guides and every reference in them), then the site. No network: antsibull-docs reads the
# plugins with ansible-doc from the laid-out tree, and the Sphinx configuration loads no
# intersphinx inventories. -W: a broken reference or markup fails the build.
docs: venv collection ## docs site (plugin reference + docs/docsite guides) into build/docs; antsibull-docs lint
	cd "$(COLLECTION)" && $(TOOLS_ENV) antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs \
		--validate-collection-refs all --disallow-unknown-collection-refs .
	rm -rf "$(DOCS_RST)" "$(DOCS)" "$(BUILD)/docs-doctrees"
	mkdir -p "$(DOCS_RST)" && chmod og-w "$(DOCS_RST)"
	$(TOOLS_ENV) antsibull-docs --config-file "$(DOCSITE_CONF)/antsibull-docs.cfg" collection --use-current \
		--squash-hierarchy --fail-on-error --cleanup everything --dest-dir "$(DOCS_RST)" scimkit.atlassian
	$(TOOLS_ENV) sphinx-build -b html -q -W --keep-going -j auto -c "$(DOCSITE_CONF)" -d "$(BUILD)/docs-doctrees" \
		"$(DOCS_RST)" "$(DOCS)"
	@echo "docs site: $(DOCS)/index.html"

# What Galaxy does with an uploaded collection, offline: build the tarball from the laid-out tree,
# run galaxy-importer on it (settings and what is disabled: tests/utils/galaxy-importer.cfg) and
# fail on any WARNING or ERROR it logs, not only on a failed import, since Galaxy shows them on the
# collection's page; then install the tarball as a user would, verify the installed files against
# its MANIFEST.json, and call a filter from the installed copy.
galaxy-import: venv collection ## build the tarball, galaxy-importer it, install it into build/galaxy-import/collections
	rm -rf "$(IMPORT_DIR)" && mkdir -p "$(IMPORT_DIR)/tmp"
	@# The CHANGELOG.rst that ships must be the one changelogs/changelog.yaml generates.
	cd "$(COLLECTION)" && $(TOOLS_ENV) antsibull-changelog generate --output "$(IMPORT_DIR)/CHANGELOG.rst"
	diff -u "$(COLLECTION)/CHANGELOG.rst" "$(IMPORT_DIR)/CHANGELOG.rst" || { \
		echo "make: CHANGELOG.rst is stale; run antsibull-changelog generate (docs/releasing.md)" >&2; exit 1; }
	$(TOOLS_ENV) ansible-galaxy collection build --output-path "$(IMPORT_DIR)" "$(COLLECTION)"
	cd "$(IMPORT_DIR)" && $(TOOLS_ENV) GALAXY_IMPORTER_CONFIG="$(CURDIR)/$(GALAXY_IMPORTER_CFG)" \
		GALAXY_IMPORTER_TMP_ROOT_DIR="$(IMPORT_DIR)/tmp" GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP="$(IMPORT_DIR)/tmp/ansible" \
		$(BIN)/python -m galaxy_importer.main "$(IMPORT_TARBALL)" 2>&1 | tee "$(IMPORT_DIR)/galaxy-importer.log"
	@if grep -qE '^(WARNING|ERROR|CRITICAL):' "$(IMPORT_DIR)/galaxy-importer.log"; then \
		echo "make: galaxy-importer reported the warnings or errors above (log: $(IMPORT_DIR)/galaxy-importer.log)" >&2; exit 1; fi
	@grep -q '^Importer processing completed successfully' "$(IMPORT_DIR)/galaxy-importer.log"
	$(IMPORT_ENV) ansible-galaxy collection install --offline --force --collections-path "$(IMPORT_DIR)/collections" "$(IMPORT_TARBALL)"
	$(IMPORT_ENV) ansible-galaxy collection verify --offline scimkit.atlassian
	@# The docs install the Python requirements from the installed collection's own requirements.txt.
	for doc in README.md docs/getting-started.md; do grep -q "ansible_collections/scimkit/atlassian/requirements.txt" "$$doc"; done
	$(BIN)/python -m pip install --dry-run --no-index --quiet -r "$(IMPORT_DIR)/collections/ansible_collections/scimkit/atlassian/requirements.txt"
	@# What ansible-builder would add to an execution environment holding the installed collection.
	$(IMPORT_ENV) ansible-builder introspect --sanitize "$(IMPORT_DIR)/collections" | tee "$(IMPORT_DIR)/ee-dependencies.yml"
	grep -q "cryptography.*from collection scimkit.atlassian" "$(IMPORT_DIR)/ee-dependencies.yml"
	@# The RFC 8037 appendix A.3 key and thumbprint, through the installed filter.
	$(IMPORT_ENV) ansible localhost -m ansible.builtin.debug \
		-a "msg={{ {'kty': 'OKP', 'crv': 'Ed25519', 'x': '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo'} | scimkit.atlassian.jwk_thumbprint }}" \
		| tee "$(IMPORT_DIR)/filter-smoke.log"
	grep -q '"msg": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"' "$(IMPORT_DIR)/filter-smoke.log"

test: venv units integration sanity lint changelog-lint docs galaxy-import ## everything above, in this order, stopping at the first failure

demo: venv collection ## build + install the collection; onboard, rerun (no change), offboard one, on the sandbox
	rm -f "$(BUILD)"/scimkit-atlassian-*.tar.gz
	$(BIN)/ansible-galaxy collection build --force --output-path "$(BUILD)" "$(COLLECTION)"
	$(DEMO_ENV) $(BIN)/ansible-galaxy collection install --force --collections-path "$(DEMO_COLLECTIONS)" "$(TARBALL)"
	$(DEMO_ENV) DEMO_PYTHON="$(BIN)/python" DEMO_SANDBOX_DIR="$(SANDBOX_DIR)" DEMO_PLAYBOOK="$(DEMO_PLAYBOOK)" DEMO_INVENTORY="$(DEMO_INVENTORY)" \
		bash tests/utils/demo.sh

clean: ## remove build/ (stopping a sandbox left running there) and caches; keeps .venv
	@if [ -x "$(BIN)/python" ] && [ -d "$(SANDBOX_DIR)" ]; then \
		$(BIN)/python tests/sandbox/sandbox.py stop --state-dir "$(SANDBOX_DIR)" || true; fi
	rm -rf "$(BUILD)" tests/output .pytest_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too
	rm -rf "$(VENV)"
