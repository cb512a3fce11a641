# shellcheck shell=bash
# Sourced by scripts/run and scripts/test: installs the Debian packages Tenure
# builds on, but only those that are missing, so a second run is quick.
#
# Packages (all Debian 12):
#   build:   cmake g++ make ccache pkg-config
#   runtime: libcaf-dev (core, io, openssl) libmsgpack-cxx-dev librocksdb-dev
#            libfmt-dev libssl-dev libcpp-httplib-dev nlohmann-json3-dev
#            libedit-dev libcurl4-openssl-dev
#   tests:   libgtest-dev libgmock-dev libyaml-cpp-dev openssl (the command,
#            for the TLS certificates of the cluster tests)
#   bench:   wrk
#   fuzz:    clang (libFuzzer) libclang-rt-dev (its runtime, only
#            recommended by clang, and we install without recommends);
#            installed by scripts/fuzz only, see tenure_fuzz_packages
#   browser: chromium (the dashboard's browser test; installed by
#            scripts/run only, see tenure_install_browser) and, with npm,
#            playwright-core into tests/browser/node_modules
tenure_packages=(
  cmake g++ make ccache pkg-config
  libcaf-dev libmsgpack-cxx-dev librocksdb-dev libfmt-dev libssl-dev
  libcpp-httplib-dev nlohmann-json3-dev libedit-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libyaml-cpp-dev openssl
  wrk
)

# What scripts/fuzz needs besides (scripts/run and scripts/test do not).
tenure_fuzz_packages=(clang libclang-rt-dev)

tenure_install_deps() {
  tenure_install_packages "${tenure_packages[@]}"
}

# Installs those of the given Debian packages that are missing.
tenure_install_packages() {
  local missing=()
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "tenure: installing missing packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The dashboard's browser test (tests/browser): Debian's chromium, driven
# by playwright-core from npm (pinned in tests/browser/package-lock.json,
# installed next to the test, never globally). scripts/run installs both;
# scripts/test installs playwright-core only where chromium already is, so
# it keeps working on a machine without a browser (the test is then not
# registered). Neither stops the script when it fails: the node and the
# page need neither.
tenure_browser_packages=(chromium)

tenure_install_browser() {
  local root="$1"
  if ! tenure_install_packages "${tenure_browser_packages[@]}"; then
    echo "tenure: could not install chromium; the dashboard works without" \
      "it, only its browser test needs it" >&2
    return 0
  fi
  tenure_install_playwright "$root"
}

tenure_install_playwright() {
  local root="$1"
  local dir="$root/tests/browser"
  if [ ! -x /usr/bin/chromium ] || [ -d "$dir/node_modules/playwright-core" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "tenure: npm is missing; the dashboard's browser test will be" \
      "skipped" >&2
    return 0
  fi
  echo "tenure: installing playwright-core into $dir/node_modules"
  if ! npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error; then
    echo "tenure: npm ci failed; the dashboard's browser test will be" \
      "skipped" >&2
  fi
  return 0
}
