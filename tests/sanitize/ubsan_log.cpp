// Linked into every executable of a GCC build with UBSan (see the top-level
// CMakeLists.txt); `scripts/test --sanitize` sets TENURE_UBSAN_LOG.
//
// GCC links ASan and UBSan as two runtimes, libasan and libubsan, each with
// its own copy of the sanitizer report file. libubsan applies log_path by
// calling the exported __sanitizer_set_report_path, which resolves to
// libasan's: UBSan's reports then went to stderr whatever UBSAN_OPTIONS
// said, and a finding in a child process (tenured under an end-to-end test)
// could pass unseen. Here libubsan's own function sets libubsan's copy.

#include <cstdlib>

#include <dlfcn.h>

namespace {

__attribute__((constructor)) void tenure_ubsan_log_path() {
  const char* path = std::getenv("TENURE_UBSAN_LOG");
  if (path == nullptr || *path == '\0')
    return;
  void* ubsan = ::dlopen("libubsan.so.1", RTLD_NOLOAD | RTLD_LAZY);
  if (ubsan == nullptr)
    return;
  using set_path = void (*)(const char*);
  if (auto set = reinterpret_cast<set_path>(
        ::dlsym(ubsan, "__sanitizer_set_report_path")))
    set(path);
}

} // namespace
