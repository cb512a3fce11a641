# The offline membership change (issue 6): nodes/cluster_move.hpp and the
# `tenure-move` command. Included from nodes/CMakeLists.txt.
#
# A library of its own, so the node (the `POST /v1/cluster/plan` route) and
# the command share `plan_moves` without the command linking the gateway.
add_library(tenure_cluster_move STATIC ${CMAKE_CURRENT_LIST_DIR}/cluster_move.cpp)
target_link_libraries(tenure_cluster_move PUBLIC tenure_actors tenure_storage
  tenure_messages OpenSSL::Crypto)
tenure_use_pch(tenure_cluster_move STORE)

# Offline: plan, export, import and prune with the node stopped. Built next
# to tenured (build/nodes/).
add_executable(tenure-move ${CMAKE_CURRENT_LIST_DIR}/tenure_move.cpp)
target_link_libraries(tenure-move PRIVATE tenure_cluster_move)
tenure_use_pch(tenure-move STORE)
