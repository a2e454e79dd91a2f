// Shared helpers of the unit tests (test code only): the embedded catalog, loaded once, and
// temporary folders holding a real SQLite store.
#pragma once

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/catalog.h"
#include "store/sqlite_store.h"

namespace tr::testing_support {

inline const Catalog& EmbeddedCatalog() {
  static const Catalog catalog = [] {
    auto loaded = Catalog::LoadEmbedded();
    if (!loaded) throw std::runtime_error(loaded.error().message());
    return std::move(loaded.value());
  }();
  return catalog;
}

// A new empty folder under the test's temp dir, named `prefix` + random characters.
inline std::filesystem::path MakeTempDir(std::string_view prefix) {
  std::string tmpl = (std::filesystem::path(testing::TempDir()) / (std::string(prefix) + "_XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

// A SqliteStore on `file`, migrated; throws when it cannot be opened.
inline std::unique_ptr<SqliteStore> OpenTestStore(const std::filesystem::path& file) {
  auto opened = SqliteStore::Open(file.string());
  if (!opened) throw std::runtime_error(opened.error().message());
  return std::move(opened.value());
}

// One integer from `sql` on a read-only connection of its own to the SQLite file `path`
// (a view that does not go through the store); -1 when there is none.
inline int64_t QueryInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t value = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

}  // namespace tr::testing_support
