#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>

#include "storage/memory_store.hpp"
#include "storage/store.hpp"
#include "tests/storage/fixture.hpp"

/// The two stores behind one face, for the contract tests: each environment
/// opens a store, can plant raw rows (to test corrupt bytes), and tells
/// whether it survives a reopen.
namespace tenure::storage::test {

/// Writes one raw row with plain RocksDB, bypassing the store, e.g. corrupt
/// bytes. Precondition: no store has the database open.
inline void raw_put(const std::string& path, std::string_view family,
                    std::string_view key, std::string_view value) {
  rocksdb::DBOptions opts;
  std::vector<std::string> names;
  auto s = rocksdb::DB::ListColumnFamilies(opts, path, &names);
  if (!s.ok())
    throw std::runtime_error("list column families: " + s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto& name : names)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  s = rocksdb::DB::Open(opts, path, descriptors, &handles, &db);
  if (!s.ok())
    throw std::runtime_error("raw open: " + s.ToString());
  rocksdb::ColumnFamilyHandle* target = nullptr;
  for (auto* h : handles)
    if (h->GetName() == family)
      target = h;
  if (target == nullptr) {
    s = db->CreateColumnFamily(rocksdb::ColumnFamilyOptions{},
                               std::string{family}, &target);
    if (!s.ok())
      throw std::runtime_error("create column family: " + s.ToString());
    handles.push_back(target);
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db->Put(wo, target, rocksdb::Slice{key.data(), key.size()},
              rocksdb::Slice{value.data(), value.size()});
  if (!s.ok())
    throw std::runtime_error("raw put: " + s.ToString());
  for (auto* h : handles) {
    s = db->DestroyColumnFamilyHandle(h);
    if (!s.ok())
      throw std::runtime_error("destroy handle: " + s.ToString());
  }
  s = db->Close();
  if (!s.ok())
    throw std::runtime_error("raw close: " + s.ToString());
  delete db;
}

/// A `memory_store`.
class memory_env {
public:
  static constexpr bool persistent = false;
  static constexpr const char* name = "memory";

  store& get() {
    return *store_;
  }

  void plant(cf family, std::string_view key, std::string_view value) {
    store_->put_raw(family, key, value);
  }

private:
  std::unique_ptr<memory_store> store_ = std::make_unique<memory_store>();
};

/// A `rocksdb_store` in a temp dir.
class rocksdb_env {
public:
  static constexpr bool persistent = true;
  static constexpr const char* name = "rocksdb";

  explicit rocksdb_env(store_options opts = {})
    : opts_(std::move(opts)) {
    opts_.path = dir_.sub("db");
    open();
  }

  store& get() {
    return *store_;
  }

  rocksdb_store& rocks() {
    return *store_;
  }

  const std::string& path() const {
    return opts_.path;
  }

  /// Closes the store (finishing queued commits) and opens it again.
  void reopen() {
    store_.reset();
    open();
  }

  void plant(cf family, std::string_view key, std::string_view value) {
    store_.reset();
    raw_put(opts_.path, to_string(family), key, value);
    open();
  }

private:
  void open() {
    auto opened = rocksdb_store::open(opts_);
    if (!opened)
      throw std::runtime_error("open failed: " + describe(opened.error()));
    store_ = std::move(*opened);
  }

  temp_dir dir_;
  store_options opts_;
  std::unique_ptr<rocksdb_store> store_;
};

} // namespace tenure::storage::test
