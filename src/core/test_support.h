// Shared helpers of the unit tests (test code only): the embedded catalog, loaded once, and
// temporary folders holding a real SQLite store.
#pragma once

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

}  // namespace tr::testing_support
