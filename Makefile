# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := $(firstword $(wildcard ../shared/demo/qinghe_county.json) shared/demo/qinghe_county.json)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test install bench lint typecheck clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: install
	$(BIN)/xinfang init
	$(BIN)/xinfang migrate
	$(BIN)/xinfang directory load --if-empty $(DEMO)
	$(BIN)/xinfang policy load --if-empty shared/demo/qinghe_time_limits.json
	$(BIN)/xinfang serve

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench.routing
	$(BIN)/python -m bench.sweep
	$(BIN)/python -m bench.notify
	$(BIN)/python -m bench.statistics

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy shared routing_engine/facts.py routing_engine/rules deadline_scheduler/clock.py deadline_scheduler/ladder.py deadline_scheduler/recipients.py deadline_scheduler/policies.py services/casework/lifecycle.py services/reporting notify_gateway/templates.py notify_gateway/channels

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
