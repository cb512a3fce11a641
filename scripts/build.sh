# shellcheck shell=bash
# Sourced by scripts/run and scripts/test: configure and build in ./build
# (Release, ccache when present, -j2: the machines have two cores).
# Arguments: the repository root, then the targets to build (all when none).
# TENURE_BUILD_TYPE (default Release) and TENURE_CXX_FLAGS (extra compiler
# flags, e.g. sanitizers; they reach the link too) change the configuration;
# give a build directory of its own (TENURE_BUILD_DIR) to each combination.
tenure_build() {
  local root="$1"
  shift
  local build_dir="${TENURE_BUILD_DIR:-$root/build}"
  local jobs="${TENURE_JOBS:-2}"
  local args=(-DCMAKE_BUILD_TYPE="${TENURE_BUILD_TYPE:-Release}")
  if [ -n "${TENURE_CXX_FLAGS:-}" ]; then
    args+=(-DCMAKE_CXX_FLAGS="$TENURE_CXX_FLAGS")
  fi
  cmake -S "$root" -B "$build_dir" "${args[@]}" >/dev/null
  if [ $# -eq 0 ]; then
    cmake --build "$build_dir" -j "$jobs"
  else
    cmake --build "$build_dir" -j "$jobs" --target "$@"
  fi
}
