# The offline membership change: unit tests of nodes/cluster_move over real
# RocksDB stores, and an end-to-end run of tenured and tenure-move.
# Included from tests/nodes/CMakeLists.txt.
tenure_add_test(cluster_move_test PCH STORE
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/cluster_move_test.cpp
  LIBS tenure_cluster_move tenure_test_support PkgConfig::HTTPLIB
    nlohmann_json::nlohmann_json Threads::Threads)
add_dependencies(cluster_move_test tenured tenure-move)
