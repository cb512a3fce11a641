# Precompiled-header carriers. Targets opt in with tenure_use_pch(target KIND)
# where KIND is CAF (caf core headers + fmt + msgpack) or STORE (the CAF set
# plus RocksDB). Each carrier is compiled once; targets reuse its PCH.

set(_tenure_pch_dir ${CMAKE_CURRENT_BINARY_DIR}/pch)
file(MAKE_DIRECTORY ${_tenure_pch_dir})
file(WRITE ${_tenure_pch_dir}/pch.cpp "// PCH carrier\n")

set(TENURE_PCH_CAF
  <string> <vector> <map> <memory> <chrono> <functional> <optional>
  <caf/actor_system.hpp> <caf/actor_system_config.hpp>
  <caf/event_based_actor.hpp> <caf/typed_event_based_actor.hpp>
  <caf/error.hpp> <caf/expected.hpp> <caf/type_id.hpp>
  <fmt/format.h> <msgpack.hpp>)

add_library(tenure_pch_caf OBJECT ${_tenure_pch_dir}/pch.cpp)
target_link_libraries(tenure_pch_caf PRIVATE CAF::core fmt::fmt msgpackc-cxx)
target_precompile_headers(tenure_pch_caf PRIVATE ${TENURE_PCH_CAF})

add_library(tenure_pch_store OBJECT ${_tenure_pch_dir}/pch.cpp)
target_link_libraries(tenure_pch_store PRIVATE CAF::core fmt::fmt msgpackc-cxx
  RocksDB::rocksdb-shared)
target_precompile_headers(tenure_pch_store PRIVATE ${TENURE_PCH_CAF}
  <rocksdb/db.h> <rocksdb/write_batch.h>)

function(tenure_use_pch target kind)
  if(kind STREQUAL "STORE")
    target_precompile_headers(${target} REUSE_FROM tenure_pch_store)
  else()
    target_precompile_headers(${target} REUSE_FROM tenure_pch_caf)
  endif()
endfunction()
