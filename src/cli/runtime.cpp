#include "cli/runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "crypto/crypto.h"
#include "store/sqlite_store.h"

namespace tr::cli {

namespace fs = std::filesystem;

namespace {

constexpr char kMasterKeyFile[] = "master.key";

Result<std::string> DecodeMasterKey(std::string_view text, std::string_view where) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  auto key = crypto::Base64Decode(text);
  if (!key || key->size() != crypto::Keyring::kKeySize) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("{} must be the base64 of 32 bytes (try: openssl rand -base64 32)",
                             where));
  }
  return *key;
}

// TOOLREGISTRY_MASTER_KEY, else (SQLite only) master.key beside the database, generated
// on first use with mode 0600.
Result<std::string> LoadMasterKey(const std::optional<std::string>& sqlite_path) {
  if (const char* env = std::getenv("TOOLREGISTRY_MASTER_KEY"); env && *env) {
    return DecodeMasterKey(env, "TOOLREGISTRY_MASTER_KEY");
  }
  if (!sqlite_path) {
    return Error(Errc::kInvalidArgument,
                 "TOOLREGISTRY_MASTER_KEY is required for this database (base64 of 32 bytes)");
  }
  fs::path dir = fs::path(*sqlite_path).parent_path();
  fs::path file = (dir.empty() ? fs::path(".") : dir) / kMasterKeyFile;
  std::error_code ec;
  if (fs::exists(file, ec)) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return Error(Errc::kInvalidArgument, fmt::format("cannot read {}", file.string()));
    return DecodeMasterKey(text.str(), file.string());
  }
  std::string key = crypto::RandomBytes(crypto::Keyring::kKeySize);
  std::string tmp = file.string() + ".tmp";
  {
    mode_t old_mask = umask(077);
    std::ofstream out(tmp, std::ios::trunc);
    umask(old_mask);
    out << crypto::Base64Encode(key) << "\n";
    out.flush();
    if (!out) return Error(Errc::kInvalidArgument, fmt::format("cannot write {}", tmp));
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
  // link() refuses to replace: if another process created the file first, use theirs.
  if (::link(tmp.c_str(), file.c_str()) != 0) {
    fs::remove(tmp, ec);
    return LoadMasterKey(sqlite_path);
  }
  fs::remove(tmp, ec);
  spdlog::warn("TOOLREGISTRY_MASTER_KEY is not set: generated a master key in {} (mode 0600); "
               "back it up, without it stored credentials cannot be read",
               file.string());
  return key;
}

}  // namespace

std::optional<std::string> SqlitePath(const std::string& url) {
  for (std::string_view prefix : {"sqlite://", "sqlite:"}) {
    if (url.rfind(prefix, 0) == 0) return url.substr(prefix.size());
  }
  return std::nullopt;
}

Result<std::unique_ptr<Runtime>> OpenRuntime(const CommonOptions& options) {
  auto runtime = std::make_unique<Runtime>();
  auto catalog =
      options.catalog_dir.empty() ? Catalog::LoadEmbedded() : Catalog::LoadDirectory(options.catalog_dir);
  if (!catalog) return catalog.error();
  runtime->catalog = std::move(catalog.value());

  std::optional<std::string> sqlite_path = SqlitePath(options.database);
  if (!sqlite_path) {
    if (options.database.rfind("postgres", 0) == 0) {
      return Error(Errc::kInvalidArgument,
                   "PostgreSQL databases are not supported by this build yet; use sqlite:PATH");
    }
    return Error(Errc::kInvalidArgument,
                 fmt::format("unsupported database URL {} (expected sqlite:PATH)", options.database));
  }
  if (sqlite_path->empty()) return Error(Errc::kInvalidArgument, "sqlite: needs a file path");
  fs::path parent = fs::path(*sqlite_path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);

  auto key = LoadMasterKey(sqlite_path);
  if (!key) return key.error();
  runtime->keyring = std::make_unique<crypto::Keyring>(std::move(key.value()));

  auto store = SqliteStore::Open(*sqlite_path);
  if (!store) return store.error();
  runtime->store = std::move(store.value());
  runtime->directory = std::make_unique<IntegrationDirectory>(runtime->catalog, *runtime->store);
  return runtime;
}

}  // namespace tr::cli
