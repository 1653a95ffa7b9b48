#!/usr/bin/env bash
# Make the editable pip install of fusion_nodes visible to the ROS tools, as a
# colcon --symlink-install would: the ament index marker, share/fusion_nodes
# (launch, config, package.xml) and lib/fusion_nodes/<executable> in the venv
# prefix. Then, with AMENT_PREFIX_PATH=VENV, `ros2 launch fusion_nodes ...`,
# `ros2 run fusion_nodes ...` and FindPackageShare find the package.
#   usage: scripts/register_ament.sh VENV
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=$(realpath "${1:?usage: register_ament.sh VENV}")
mkdir -p "$venv/share/ament_index/resource_index/packages" "$venv/share/fusion_nodes" "$venv/lib/fusion_nodes"
: > "$venv/share/ament_index/resource_index/packages/fusion_nodes"
ln -sfn "$here/package.xml" "$venv/share/fusion_nodes/package.xml"
# Files linked one by one: ros2 launch walks share/ without following directory links.
for d in launch config; do
  rm -rf "$venv/share/fusion_nodes/$d"; mkdir -p "$venv/share/fusion_nodes/$d"
  for f in "$here/$d"/*; do ln -sfn "$f" "$venv/share/fusion_nodes/$d/"; done
done
# the executables: the node registry (as setup.py reads it) and the fusion CLI
exes="fusion $("$venv/bin/python" -c "import runpy, sys; print(' '.join(runpy.run_path(sys.argv[1])['NODES']))" \
  "$here/fusion_nodes/nodes/registry.py")"
for e in $exes; do ln -sfn "$venv/bin/$e" "$venv/lib/fusion_nodes/$e"; done
