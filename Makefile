# fusion_nodes developer commands. Each target creates or refreshes .venv
# from the pinned requirement files first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The real ROS 2 tools PyPI lacks (ros2 launch/param/topic, message_filters),
# installed for the tests when they are beside the checkout.
ROS_TOOLS ?= ../shared/ros-tools

# DDS discovery stays on this machine; tests pick their own ROS_DOMAIN_ID.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export PYTHONDONTWRITEBYTECODE := 1
# The ROS tools find this package (and the interfaces built into .venv) here.
export AMENT_PREFIX_PATH := $(abspath $(VENV))$(if $(AMENT_PREFIX_PATH),:$(AMENT_PREFIX_PATH))

BAG ?=
PARAMS ?=

.PHONY: venv test fuzz demo bench clean

venv: $(STAMP)

# requirements-bench.txt (Stone Soup, the tracker's peer) goes into .venv too: the tests hold the peer to
# tracking, and `fusion eval --tracking --peer` needs it. None of it is a runtime dependency.

$(STAMP): requirements.txt requirements-dev.txt requirements-bench.txt requirements-interfaces.txt setup.py setup.cfg \
		scripts/build_interfaces.sh scripts/register_ament.sh $(wildcard interfaces/*/msg/*.msg)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt -r requirements-bench.txt
	if [ -x $(ROS_TOOLS)/install.sh ] || [ -f $(ROS_TOOLS)/install.sh ]; then bash $(ROS_TOOLS)/install.sh $(VENV); \
	else echo "no $(ROS_TOOLS): tests of the real ros2 CLI / message_filters will be skipped"; fi
	bash scripts/build_interfaces.sh $(VENV)
	$(PY) -m pip install --quiet --no-deps -e .
	bash scripts/register_ament.sh $(VENV)
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest test

# Property-based fuzzing of every node's inputs: 650 examples, at least 10,000 defective messages per node.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=650 $(PY) -m pytest $(wildcard test/test_fuzz_*.py) -s -q -p no:cacheprovider -o timeout=0

demo: $(STAMP)
	$(VENV)/bin/fusion demo $(if $(BAG),--bag $(BAG)) $(if $(PARAMS),--params $(PARAMS)) --out out/demo

# Every figure next to its baseline, peer and limit, in one run (Stone Soup, installed with .venv, the peer).
bench: $(STAMP)
	$(VENV)/bin/fusion bench

clean:
	rm -rf $(VENV) out build install log *.egg-info
