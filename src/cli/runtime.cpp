#include "cli/runtime.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "crypto/crypto.h"
#include "store/pg_store.h"
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

// The key file's keys, current first: one base64 key per line.
Result<std::vector<std::string>> ReadKeyFile(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return Error(Errc::kInvalidArgument, fmt::format("cannot read {}", file.string()));
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto key = DecodeMasterKey(line, file.string());
    if (!key) return key.error();
    keys.push_back(std::move(key.value()));
  }
  if (keys.empty()) return Error(Errc::kInvalidArgument, fmt::format("{} holds no key", file.string()));
  return keys;
}

// Writes `keys` (current first) to `file` atomically with mode 0600. `exclusive`: fail if
// the file exists (first creation, where a concurrent process may win).
// fsync of a folder, so that a name made or changed in it survives a power cut.
bool SyncFolder(const fs::path& folder) {
  int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Writes `keys` to `file` durably: a new temporary file (mode 0600) written and fsynced, then
// linked to `file` (`exclusive`: fails when it exists) or renamed over it, then the folder
// fsynced. Nothing may be sealed under a new key before its file is on disk, name included:
// after a power cut the data would need a key that is gone (tests/powerloss found an empty
// master.key after a cut, its name synced by SQLite's own folder sync but not its bytes).
bool WriteKeyFile(const fs::path& file, const std::vector<std::string>& keys, bool exclusive) {
  std::string contents;
  for (const auto& key : keys) contents += crypto::Base64Encode(key) + "\n";
  const std::string tmp = file.string() + ".tmp." + crypto::HexEncode(crypto::RandomBytes(4));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  for (size_t done = 0; ok && done < contents.size();) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  if (ok) ok = ::fsync(fd) == 0;
  if (fd >= 0 && ::close(fd) != 0) ok = false;
  std::fill(contents.begin(), contents.end(), '\0');
  // link() refuses to replace an existing file; rename() replaces it atomically.
  if (ok) {
    ok = exclusive ? ::link(tmp.c_str(), file.c_str()) == 0
                   : ::rename(tmp.c_str(), file.c_str()) == 0;
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  return ok && SyncFolder(file.parent_path());
}

fs::path KeyFileFor(const std::string& sqlite_path) {
  fs::path dir = fs::path(sqlite_path).parent_path();
  return (dir.empty() ? fs::path(".") : dir) / kMasterKeyFile;
}

// TOOLREGISTRY_MASTER_KEY (plus TOOLREGISTRY_OLD_MASTER_KEYS, comma-separated, readable
// only), else (SQLite only) the key file beside the database, generated on first use: when
// `store` holds no sealed value yet. One that does was sealed under a key kept elsewhere (in
// the server's environment, say); a new key here would seal the next secrets under another.
Result<std::vector<std::string>> LoadMasterKeys(const std::optional<std::string>& sqlite_path,
                                                Store* store) {
  if (const char* env = std::getenv("TOOLREGISTRY_MASTER_KEY"); env && *env) {
    auto current = DecodeMasterKey(env, "TOOLREGISTRY_MASTER_KEY");
    if (!current) return current.error();
    std::vector<std::string> keys{std::move(current.value())};
    if (const char* old = std::getenv("TOOLREGISTRY_OLD_MASTER_KEYS"); old && *old) {
      std::stringstream list(old);
      std::string item;
      while (std::getline(list, item, ',')) {
        auto key = DecodeMasterKey(item, "TOOLREGISTRY_OLD_MASTER_KEYS");
        if (!key) return key.error();
        keys.push_back(std::move(key.value()));
      }
    }
    return keys;
  }
  if (!sqlite_path) {
    return Error(Errc::kInvalidArgument,
                 "TOOLREGISTRY_MASTER_KEY is required with PostgreSQL (base64 of 32 bytes); it is "
                 "generated only for SQLite");
  }
  fs::path file = KeyFileFor(*sqlite_path);
  std::error_code ec;
  if (fs::exists(file, ec)) return ReadKeyFile(file);
  auto sealed = store->ListSealedNotUnder("", 1);
  if (!sealed) return sealed.error();
  if (!sealed->empty()) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("TOOLREGISTRY_MASTER_KEY is not set and {} does not exist, but the "
                             "database holds secrets sealed under master key {}: set "
                             "TOOLREGISTRY_MASTER_KEY to the key the server uses, or restore {}",
                             file.string(), sealed->front().secret.key_id, file.string()));
  }
  std::vector<std::string> keys{crypto::RandomBytes(crypto::Keyring::kKeySize)};
  if (!WriteKeyFile(file, keys, /*exclusive=*/true)) {
    if (fs::exists(file, ec)) return ReadKeyFile(file);  // another process made it first
    return Error(Errc::kInvalidArgument, fmt::format("cannot write {}", file.string()));
  }
  spdlog::warn("TOOLREGISTRY_MASTER_KEY is not set: generated a master key in {} (mode 0600); "
               "back it up, without it stored credentials cannot be read",
               file.string());
  return keys;
}

}  // namespace

std::optional<std::string> SqlitePath(const std::string& url) {
  for (std::string_view prefix : {"sqlite://", "sqlite:"}) {
    if (url.rfind(prefix, 0) == 0) return url.substr(prefix.size());
  }
  return std::nullopt;
}

bool IsPostgresUrl(const std::string& url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

namespace {

// PostgreSQL: the master key must come from the environment (several nodes share it; there
// is no data folder to keep a generated one in).
Result<std::unique_ptr<Runtime>> OpenPostgresRuntime(const std::string& url,
                                                     std::unique_ptr<Runtime> runtime) {
  auto keys = LoadMasterKeys(std::nullopt, nullptr);
  if (!keys) return keys.error();
  runtime->keyring = std::make_unique<crypto::Keyring>(keys->front());
  for (size_t i = 1; i < keys->size(); ++i) runtime->keyring->AddOldKey((*keys)[i]);
  auto store = PgStore::Open(url);
  if (!store) return store.error();
  runtime->store = std::move(store.value());
  runtime->directory = std::make_unique<IntegrationDirectory>(runtime->catalog, *runtime->store);
  return runtime;
}

}  // namespace

Result<std::unique_ptr<Runtime>> OpenRuntime(const CommonOptions& options, RuntimeUse use) {
  auto runtime = std::make_unique<Runtime>();
  auto catalog =
      options.catalog_dir.empty() ? Catalog::LoadEmbedded() : Catalog::LoadDirectory(options.catalog_dir);
  if (!catalog) return catalog.error();
  runtime->catalog = std::move(catalog.value());

  std::optional<std::string> sqlite_path = SqlitePath(options.database);
  if (!sqlite_path) {
    if (!IsPostgresUrl(options.database)) {
      return Error(Errc::kInvalidArgument,
                   fmt::format("unsupported database URL (expected sqlite:PATH or postgresql://…)"));
    }
    return OpenPostgresRuntime(options.database, std::move(runtime));
  }
  if (sqlite_path->empty()) return Error(Errc::kInvalidArgument, "sqlite: needs a file path");
  fs::path parent = fs::path(*sqlite_path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);

  const auto io = options.sqlite_io == "plain" ? SqliteStore::Io::kPlain : SqliteStore::Io::kTr;
  auto store = SqliteStore::Open(*sqlite_path,
                                 use == RuntimeUse::kServer ? SqliteStore::Commits::kGroup
                                                            : SqliteStore::Commits::kSynchronous,
                                 io);
  if (!store) return store.error();
  runtime->store = std::move(store.value());

  auto keys = LoadMasterKeys(sqlite_path, runtime->store.get());
  if (!keys) return keys.error();
  runtime->keyring = std::make_unique<crypto::Keyring>(keys->front());
  for (size_t i = 1; i < keys->size(); ++i) runtime->keyring->AddOldKey((*keys)[i]);
  const char* env_key = std::getenv("TOOLREGISTRY_MASTER_KEY");
  if (!(env_key && *env_key)) {
    runtime->key_file = KeyFileFor(*sqlite_path).string();
    // A key added by `keys rotate` while we run is picked up on first sight of its id.
    runtime->keyring->SetReloader([file = runtime->key_file] {
      auto reloaded = ReadKeyFile(file);
      return reloaded ? reloaded.value() : std::vector<std::string>();
    });
  }
  runtime->directory = std::make_unique<IntegrationDirectory>(runtime->catalog, *runtime->store);
  return runtime;
}

Result<std::string> AddKeyToFile(const std::string& key_file) {
  auto keys = ReadKeyFile(key_file);
  if (!keys) return keys.error();
  std::string fresh = crypto::RandomBytes(crypto::Keyring::kKeySize);
  keys->insert(keys->begin(), fresh);
  if (!WriteKeyFile(key_file, *keys, /*exclusive=*/false)) {
    return Error(Errc::kInvalidArgument, fmt::format("cannot write {}", key_file));
  }
  return fresh;
}

}  // namespace tr::cli
