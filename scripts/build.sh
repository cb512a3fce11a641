# shellcheck shell=bash
# Sourced by scripts/run and scripts/test: configure and build in ./build
# (Release, ccache when present, -j2: the machines have two cores).
# Arguments: the repository root, then the targets to build (all when none).
tenure_build() {
  local root="$1"
  shift
  local build_dir="${TENURE_BUILD_DIR:-$root/build}"
  local jobs="${TENURE_JOBS:-2}"
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  if [ $# -eq 0 ]; then
    cmake --build "$build_dir" -j "$jobs"
  else
    cmake --build "$build_dir" -j "$jobs" --target "$@"
  fi
}
