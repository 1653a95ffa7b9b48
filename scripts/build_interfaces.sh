#!/usr/bin/env bash
# Build the interface packages in interfaces/ into a venv, each only when the
# venv's Python cannot import it already (a ROS install provides them).
#   usage: scripts/build_interfaces.sh VENV [PKG ...]     (default: tf2_msgs vision_msgs fusion_msgs; in dependency order)
# Uses the PyPI ament_cmake / rosidl generator wheels (requirements-interfaces.txt),
# gcc and cmake. Installs into the venv prefix: the ros-jazzy wheels put
# $VENV/lib on the library path, so the generated libraries are found.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=$(realpath "${1:?usage: build_interfaces.sh VENV [PKG ...]}"); shift
py="$venv/bin/python"
pkgs=("$@"); [ ${#pkgs[@]} -gt 0 ] || pkgs=(tf2_msgs vision_msgs fusion_msgs)
todo=()
for p in "${pkgs[@]}"; do
  "$py" -c "import $p.msg" 2>/dev/null || todo+=("$p")
done
[ ${#todo[@]} -gt 0 ] || exit 0
command -v cmake >/dev/null && command -v g++ >/dev/null || {
  echo "build_interfaces.sh: cmake and g++ are needed to build ${todo[*]} (apt-get install cmake g++)" >&2; exit 2; }
"$py" -m pip install --quiet -r "$here/requirements-interfaces.txt" 2>&1 | grep -vE '^WARNING: Location|^\s*$' || true
# The wheels' CMake files name the include directories of the machine they were
# built on; point them at this interpreter's (the one path fix the wheels need).
inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
npinc=$("$py" -c 'import numpy; print(numpy.get_include())')
grep -rl '/opt/python/cp311-cp311' "$venv/share" 2>/dev/null | xargs -r sed -i \
  -e "s#/opt/python/cp311-cp311/include/python3.11#$inc#g" \
  -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$npinc#g"
for p in "${todo[@]}"; do
  echo "building $p into $venv (a few minutes)"
  b=$(mktemp -d)
  trap 'rm -rf "$b"' EXIT
  step() { "$@" >>"$b/log" 2>&1 || { tail -40 "$b/log" >&2; exit 1; }; }
  step cmake -S "$here/interfaces/$p" -B "$b" -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_PREFIX_PATH="$venv" \
    -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$py"
  AMENT_PREFIX_PATH="$venv" step cmake --build "$b" -j2
  step cmake --install "$b"
  rm -rf "$b"; trap - EXIT
  "$py" -c "import $p.msg" || { echo "build_interfaces.sh: $p built but not importable" >&2; exit 1; }
done
