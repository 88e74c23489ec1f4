# labkit — two commands matter:  `make lab` (open the tutorial)  and  `make test` (run every test)
SHELL := /bin/bash
VENV ?= .venv
# Debian's interpreter when there is one: an unprivileged user (and a rootless lab's daemon,
# whose user namespace maps no other uid) must be able to execute it
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
APT_PACKAGES := iproute2 iptables nftables bridge-utils net-tools iputils-ping conntrack \
                util-linux graphviz procps curl
BROWSER_APT := chromium
PORT ?= 8888

.PHONY: lab fonts test deps system venv unit integration notebooks browser browser-deps lint bench html hub-deps hub \
        doctor clean-venv

# The edition that matches the locale: LANG=ja_JP.UTF-8 (or LC_ALL/LC_MESSAGES ja_*) opens the
# Japanese notebooks (notebooks/ja/) with JupyterLab's interface in Japanese; EDITION=en|ja chooses.
EDITION ?= $(if $(filter ja%,$(firstword $(LC_ALL) $(LC_MESSAGES) $(LANG))),ja,en)
LAB_START := $(if $(filter ja,$(EDITION)),ja/,)00-start-here.ipynb
LAB_LOCALE := $(if $(filter ja,$(EDITION)),ja_JP,en)
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

lab: deps fonts ## open JupyterLab on the tutorial (on localhost; as root it needs --allow-root)
	@mkdir -p $(dir $(LAB_OVERRIDES))
	@echo '{"@jupyterlab/translation-extension:plugin": {"locale": "$(LAB_LOCALE)"}}' > $(LAB_OVERRIDES)
	@echo "edition: $(EDITION) (notebooks/$(LAB_START)); choose with make lab EDITION=en|ja"
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(PORT) --ServerApp.root_dir=notebooks \
		--ServerApp.default_url=/lab/tree/$(LAB_START) $(if $(filter 0,$(shell id -u)),--allow-root,)

# A CJK font for the Japanese edition's text and diagrams (Debian's fonts-noto-cjk), if none
fonts:
	@fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || { \
	  echo "installing Debian packages: fonts-noto-cjk"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-noto-cjk fontconfig; }

test: deps hub-deps lint ## every test: unit, integration (real labs), notebooks (nbval)
	$(PY) -m labkit doctor
	$(PY) -m pytest -q tests
	$(PY) -m pytest -q --nbval --nbval-sanitize-with notebooks/sanitize.cfg --nbval-current-env \
		-p no:randomly notebooks/

deps: system venv

# Debian packages, installed only when a tool is missing (needs root or sudo)
system:
	@missing=""; \
	for t in ip:iproute2 iptables:iptables nft:nftables brctl:bridge-utils ifconfig:net-tools \
	         ping:iputils-ping conntrack:conntrack unshare:util-linux nsenter:util-linux \
	         dot:graphviz curl:curl; do \
	  cmd=$${t%%:*}; pkg=$${t##*:}; \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v $$cmd >/dev/null || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) python3-venv; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test,notebook,class]'
	touch $@

# configurable-http-proxy (JupyterHub's proxy) from the npm registry, inside the virtualenv
CHP := $(VENV)/node/node_modules/.bin/configurable-http-proxy
hub-deps: venv $(CHP)
$(CHP):
	@if ! command -v npm >/dev/null; then \
	  echo "npm is missing (Debian: apt-get install npm): tests/class will skip"; \
	  if [ "$$CI" = true ]; then exit 1; fi; \
	else npm install --no-audit --no-fund --silent --prefix $(VENV)/node configurable-http-proxy@4; fi

unit: venv
	$(PY) -m pytest -q tests/unit

integration: deps
	$(PY) -m pytest -q tests/integration

notebooks: deps ## re-execute every notebook in place (stores real outputs)
	$(PY) -m labkit.tools.run_notebooks notebooks/

lint: venv
	$(VENV)/bin/ruff check labkit tests deploy
	$(PY) -m mypy labkit

hub: hub-deps ## a JupyterHub for a class (as root; settings in deploy/jupyterhub/class.toml)
	$(VENV)/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

bench: deps
	$(PY) -m labkit bench

doctor: venv
	$(PY) -m labkit doctor

html: venv ## the tutorial as static HTML pages with their stored outputs, in site/ (index.html)
	$(PY) -m labkit.tools.site notebooks/ site/

# Debian's Chromium and the playwright package (its driver only: never `playwright install`)
browser-deps: deps
	@PATH="$$PATH:/usr/sbin:/sbin" command -v chromium >/dev/null || { \
	  echo "installing Debian packages: $(BROWSER_APT)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BROWSER_APT); }
	@$(PY) -c 'import playwright' 2>/dev/null || $(PIP) install -q -e '.[browser]'

browser: browser-deps ## the real-browser test: JupyterLab in headless Chromium; artifacts/jupyterlab.png
	LABKIT_REQUIRE_BROWSER=1 $(PY) -m pytest -q -m browser tests/browser

clean-venv:
	rm -rf $(VENV)
