// Runtime: the objects every command needs (store, catalog, keyring, clock, directory),
// built from the common options. Owned by the command that runs; the services borrow from
// it and must not outlive it.
#pragma once

#include <memory>
#include <string>

#include "core/catalog.h"
#include "core/clock.h"
#include "core/integration_directory.h"
#include "crypto/keyring.h"
#include "store/store.h"

namespace tr::cli {

struct CommonOptions {
  std::string database = "sqlite:./data/toolregistry.db";
  std::string catalog_dir;  // empty: the catalog embedded in the binary
  // SQLite's I/O: "tr" (our VFS and group commit) or "plain" (SQLite as it comes); see
  // SqliteStore::Io. Moot on PostgreSQL.
  std::string sqlite_io = "tr";
  bool json = false;
};

struct Runtime {
  SystemClock clock;
  Catalog catalog;
  std::unique_ptr<Store> store;
  std::unique_ptr<crypto::Keyring> keyring;
  std::unique_ptr<IntegrationDirectory> directory;
  std::string key_file;  // the master key file in use; empty when the key is from the environment
};

// Who opens the database. An admin command runs beside a server, so on SQLite each of its
// commits is on disk before the server can see it (SqliteStore::Commits::kSynchronous); the
// server groups its own (kGroup).
enum class RuntimeUse { kAdminCommand, kServer };

// Opens the database (creating its folder and applying migrations), loads the catalog and
// the master key. Errors are one line, ready to print.
Result<std::unique_ptr<Runtime>> OpenRuntime(const CommonOptions& options,
                                             RuntimeUse use = RuntimeUse::kAdminCommand);

// Puts a new random key first in the key file (older keys stay, readable); the new key.
Result<std::string> AddKeyToFile(const std::string& key_file);

// The SQLite file of a "sqlite:PATH" (or "sqlite://PATH") database URL; nullopt for others.
std::optional<std::string> SqlitePath(const std::string& database_url);
// True for a "postgresql://…" or "postgres://…" database URL.
bool IsPostgresUrl(const std::string& database_url);

}  // namespace tr::cli
