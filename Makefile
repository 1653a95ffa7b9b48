# fusion_nodes developer commands. Each target creates or refreshes .venv
# from the pinned requirement files first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# DDS discovery stays on this machine; tests pick their own ROS_DOMAIN_ID.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export PYTHONDONTWRITEBYTECODE := 1

BAG ?=
PARAMS ?=

.PHONY: venv test demo bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt setup.py setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest test

demo: $(STAMP)
	$(VENV)/bin/fusion demo $(if $(BAG),--bag $(BAG)) $(if $(PARAMS),--params $(PARAMS)) --out out/demo

bench: $(STAMP)
	$(VENV)/bin/fusion bench

clean:
	rm -rf $(VENV) out build install log *.egg-info
