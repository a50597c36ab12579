# The two commands of the README. Each does its own set-up on a fresh machine (Python 3.11, Node 20, apt).
#   make run   - the service on its embedded defaults at http://127.0.0.1:8000
#   make test  - the whole test suite (installs Debian's Chromium for the browser tests when missing)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
UI_BUILT := ui/dist/index.html
UI_SOURCES := $(shell find ui -path ui/node_modules -prune -o -path ui/dist -prune -o -type f -print 2>/dev/null)

.PHONY: run test ui lint chromium ocr-system clean

run: $(INSTALLED) $(UI_BUILT) ocr-system
	$(BIN)/reactbin dev

OIDC_PROVIDER := tests/support/oidc-provider

# The suite runs on TEST_WORKERS pytest-xdist workers, each with its own PostgreSQL and SeaweedFS, a whole file at
# a time (module fixtures stay shared). On 2 cores: 1 worker 773 s, 2 workers 490 s, 3 504 s, 4 499 s (CPU-bound
# from 2 on). pytest exits 5 when it collected no tests: that is a broken suite here, never a pass.
TEST_WORKERS ?= 2

test: $(INSTALLED) $(UI_BUILT) $(OIDC_PROVIDER)/node_modules/.installed chromium ocr-system
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

lint: $(INSTALLED)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

ui: $(UI_BUILT)

# The OpenID provider the OIDC tests sign in through (panva's oidc-provider, pinned in its package-lock.json).
$(OIDC_PROVIDER)/node_modules/.installed: $(OIDC_PROVIDER)/package-lock.json
	cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund
	touch $@

$(UI_BUILT): $(UI_SOURCES)
	@if [ -f ui/package.json ]; then \
		cd ui && npm ci --no-audit --no-fund && npm run build; \
	else \
		echo "no UI sources; the API serves a placeholder page"; \
	fi

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	}

# OCR: opencv-python (a dependency of rapidocr-onnxruntime) needs libGL and GLib; the synthetic memes of the OCR
# tests and benchmark are drawn with fonts from Debian's font packages.
OCR_PACKAGES := libgl1 libglib2.0-0 fonts-dejavu-core fonts-liberation fonts-freefont-ttf

ocr-system:
	@missing=$$(for p in $(OCR_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing for OCR"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

clean:
	rm -rf $(VENV) ui/node_modules ui/dist
