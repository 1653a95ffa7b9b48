#!/usr/bin/env python3
# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Check that every dependency in package.xml is a key rosdep can resolve.

    python3 scripts/check_rosdep_keys.py ROSDISTRO_CHECKOUT [--distro jazzy]

A key is valid when it is a system key in the rosdistro checkout's
``rosdep/base.yaml`` or ``rosdep/python.yaml`` (with a rule for Ubuntu or for
every platform), or a package released in ``<distro>/distribution.yaml`` —
what ``rosdep install --from-paths .`` resolves against. Prints one line per
key and exits 1 if any is unknown.
"""
from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

DEPENDS = ("depend", "exec_depend", "build_depend", "buildtool_depend", "test_depend", "build_export_depend")


def system_keys(rosdistro: Path) -> dict:
    keys = {}
    for name in ("base.yaml", "python.yaml"):
        keys.update(yaml.safe_load((rosdistro / "rosdep" / name).read_text()))
    return keys


def released_packages(rosdistro: Path, distro: str) -> set[str]:
    data = yaml.safe_load((rosdistro / distro / "distribution.yaml").read_text())
    out = set()
    for repo in data.get("repositories", {}).values():
        release = repo.get("release") or {}
        out.update(release.get("packages") or [])
    for name, repo in data.get("repositories", {}).items():   # single-package repositories
        release = repo.get("release") or {}
        if release and not release.get("packages"):
            out.add(name)
    return out


def resolves_on_ubuntu(rule) -> bool:
    return isinstance(rule, dict) and ("ubuntu" in rule or "*" in rule)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rosdistro", type=Path, help="a checkout of github.com/ros/rosdistro")
    ap.add_argument("--distro", default="jazzy", help="ROS distribution (default jazzy)")
    ap.add_argument("--package-xml", type=Path, default=Path(__file__).resolve().parents[1] / "package.xml",
                    help="package.xml to check (default: this repository's)")
    args = ap.parse_args(argv)
    root = ET.parse(args.package_xml).getroot()
    deps = sorted({e.text.strip() for tag in DEPENDS for e in root.iter(tag)})
    system, released = system_keys(args.rosdistro), released_packages(args.rosdistro, args.distro)
    bad = 0
    for key in deps:
        if key in released:
            where = f"{args.distro} package"
        elif key in system and resolves_on_ubuntu(system[key]):
            where = "system key (rosdep/base.yaml or python.yaml)"
        else:
            where, bad = "UNKNOWN", bad + 1
        print(f"{key:32s} {where}")
    print(f"{len(deps) - bad} of {len(deps)} keys resolve")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
