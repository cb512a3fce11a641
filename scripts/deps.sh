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
#            recommended by clang, and we install without recommends)
tenure_packages=(
  cmake g++ make ccache pkg-config
  libcaf-dev libmsgpack-cxx-dev librocksdb-dev libfmt-dev libssl-dev
  libcpp-httplib-dev nlohmann-json3-dev libedit-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libyaml-cpp-dev openssl
  wrk
  clang libclang-rt-dev
)

tenure_install_deps() {
  local missing=()
  local p
  for p in "${tenure_packages[@]}"; do
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
