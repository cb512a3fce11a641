# shellcheck shell=bash
# Sourced by scripts/test --tsan: CAF built with ThreadSanitizer.
#
# Debian's libcaf is not instrumented, so ThreadSanitizer cannot see the
# atomics of CAF's mailboxes: every message one actor hands to another
# (written by the sender, read by the receiver's worker thread) looks like a
# data race. Against Debian's libcaf the actor tests give 135 such reports
# and nothing else, which hides any real one. tenure_caf_tsan builds the
# installed CAF version from Debian's source package with -fsanitize=thread
# into BUILD/caf-tsan (once, a few minutes on two cores) and points
# LD_LIBRARY_PATH at it: same version, same ABI, so the binaries built
# against /usr/include/caf load it in place of the system's libraries.
# Argument: the build directory.
tenure_caf_tsan() {
  local dir="$1/caf-tsan"
  local lib="$dir/build/lib"
  local pkg version
  pkg="$(dpkg-query -W -f='${source:Package}' libcaf-core0.17)"
  version="$(dpkg-query -W -f='${source:Version}' libcaf-core0.17)"
  # Built once per installed CAF version.
  if [ "$(cat "$dir/done" 2>/dev/null)" != "$version" ]; then
    local upstream="${version%%-*}"
    rm -rf "$dir"
    mkdir -p "$dir/apt/lists/partial"
    # Debian's sources, through apt with a list of our own: the machine's
    # apt configuration stays as it is.
    local suite
    suite="$(. /etc/os-release && echo "$VERSION_CODENAME")"
    echo "deb-src http://deb.debian.org/debian $suite main" >"$dir/apt/sources.list"
    local apt=(-o "Dir::Etc::sourcelist=$dir/apt/sources.list"
      -o "Dir::Etc::sourceparts=$dir/apt/none"
      -o "Dir::State::Lists=$dir/apt/lists")
    echo "tenure: building CAF $upstream with ThreadSanitizer in $dir" >&2
    apt-get "${apt[@]}" update >"$dir/apt.log" 2>&1
    # Only the upstream tarball is used (Debian's packaging is not needed
    # to build the libraries), so a missing debian.tar is not an error.
    (cd "$dir" && apt-get "${apt[@]}" source --download-only \
      "$pkg=$version" >>"$dir/apt.log" 2>&1) || true
    local tarball="$dir/${pkg}_$upstream.orig.tar.gz"
    if [ ! -e "$tarball" ]; then
      echo "tenure: cannot fetch $pkg $version's source, see $dir/apt.log" >&2
      return 1
    fi
    tar -xzf "$tarball" -C "$dir"
    # CAF_LOG_LEVEL QUIET as in Debian's build (caf/detail/build_config.hpp).
    # `-include limits`: libcaf_io's receive_buffer.hpp uses
    # std::numeric_limits without including <limits>, which GCC 12's
    # headers no longer pull in by the way.
    cmake -S "$dir/actor-framework-$upstream" -B "$dir/build" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer \
-include limits" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
      -DCAF_LOG_LEVEL=QUIET -DCAF_NO_COMPILER_CHECK=yes \
      -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_TOOLS=yes \
      -DCAF_NO_OPENCL=yes -DCAF_NO_PYTHON=yes >"$dir/cmake.log" 2>&1
    cmake --build "$dir/build" -j "${TENURE_JOBS:-2}" --target \
      libcaf_core_shared libcaf_io_shared libcaf_openssl_shared \
      >"$dir/build.log" 2>&1 || {
      echo "tenure: building CAF with ThreadSanitizer failed, see" \
        "$dir/build.log" >&2
      return 1
    }
    echo "$version" >"$dir/done"
  fi
  export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}
