# TTelGo developer commands. `make run` and `make test` need nothing but this repo.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Python 3.12: the pyenv build on our machines, else whatever python3.12 is on PATH.
PYTHON312 ?= $(or $(lastword $(sort $(wildcard /root/.pyenv/versions/3.12.*/bin/python))),$(shell command -v python3.12),python3)

.PHONY: venv run serve test test-upgrade test-fast lint fmt migrate bench bench-scale seed-scale chaos clean lock messages

# Installed from the lock file (every package pinned, with hashes); the project itself on
# top, without resolving anything again. `make lock` regenerates the locks after a pin in
# pyproject.toml changes; `make lint` fails while they disagree.
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	@test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

LOCK_ARGS := --generate-hashes --python-version 3.12 --python-platform x86_64-manylinux_2_28 --quiet
lock: venv
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_ARGS) -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev $(LOCK_ARGS) -o requirements-dev.lock

venv: $(VENV)/.installed

## Embedded default: SQLite, in-process cache, eager Celery, sandboxes, demo data.
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runembedded 127.0.0.1:8000

## Production-like: gunicorn against whatever DATABASE_URL / REDIS_URL say. Static files
## are collected under the settings gunicorn serves with (production's manifest storage).
serve: export DJANGO_SETTINGS_MODULE := $(or $(DJANGO_SETTINGS_MODULE),config.settings.production)
serve: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(VENV)/bin/gunicorn config.wsgi -c config/gunicorn.conf.py

## Whole suite against throwaway PostgreSQL + Redis started (and stopped) by .ci/services.sh.
test: venv
	$(PY) manage.py makemigrations --check --dry-run --settings=config.settings.test
	.ci/services.sh run $(VENV)/bin/pytest --cov --cov-report=term $(PYTEST_ARGS)

## Quick loop on SQLite (tests marked postgres are skipped there).
# Build a database with an older commit's code, migrate it with this one, compare.
test-upgrade: venv
	.ci/services.sh run .ci/upgrade/run.sh

test-fast: venv
	$(VENV)/bin/pytest -x -q $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) .ci/local_imports.py
	$(VENV)/bin/hadolint Dockerfile
	$(PY) .ci/lock_check.py
	$(PY) .ci/messages.py --check

## Translations: collect the strings (needs xgettext: Debian's gettext), then translate the
## new entries in locale/<lang>/LC_MESSAGES/django.po and compile them (polib, no gettext).
messages: venv
	command -v xgettext >/dev/null || (apt-get update -qq && apt-get install -y -qq gettext >/dev/null)
	$(PY) manage.py makemessages -l es -l fr -l de --no-obsolete --no-location \
	  --ignore=.venv --ignore=tests --ignore=bench --ignore=staticfiles --ignore=templates/admin
	$(PY) .ci/messages.py

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: venv
	.ci/services.sh run $(PY) bench/run.py

## A business of production size (SCALE=0.01 is 1 %), bulk-loaded with its invariants
## checked; `bench-scale` also times every console page and the vendor API lists on it.
seed-scale: venv
	.ci/services.sh run $(PY) bench/scale.py seed

bench-scale: venv
	.ci/services.sh run $(PY) bench/scale.py all

## The app as production runs it (gunicorn, Celery worker and beat), hurt on purpose.
chaos: venv
	.ci/services.sh run $(PY) bench/chaos.py

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .mypy_cache .ruff_cache
