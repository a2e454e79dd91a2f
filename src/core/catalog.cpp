#include "core/catalog.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace tr {

namespace {

// Files under catalog/openapi/ are documents definitions refer to, not definitions.
bool IsToolsDocument(std::string_view name) {
  return name.starts_with("openapi/") || name.find("/openapi/") != std::string_view::npos;
}

}  // namespace

Result<Catalog> Catalog::LoadEmbedded() {
  std::vector<std::pair<std::string, std::string>> files;
  for (const EmbeddedFile* f = kEmbeddedCatalog; f->name != nullptr; ++f) {
    files.emplace_back(f->name, f->contents);
  }
  // tools.openapi paths name embedded files under catalog/ ("openapi/github.yaml").
  DefinitionFileLoader loader = [](std::string_view relative) -> Result<std::string> {
    const std::string name = "catalog/" + std::string(relative);
    for (const EmbeddedFile* f = kEmbeddedCatalog; f->name != nullptr; ++f) {
      if (name == f->name) return std::string(f->contents);
    }
    return Error(Errc::kInvalidArgument, fmt::format("{}: not in the catalog", relative));
  };
  return Load(files, loader);
}

Result<Catalog> Catalog::LoadDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Error(Errc::kInvalidArgument, fmt::format("catalog folder {} not found", dir));
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      return Error(Errc::kInvalidArgument,
                   fmt::format("{}: cannot be read", entry.path().string()));
    }
    files.emplace_back(entry.path().string(), text.str());
  }
  if (ec)
    return Error(Errc::kInvalidArgument, fmt::format("catalog folder {}: {}", dir, ec.message()));
  // The OpenAPI documents definitions name (tools.openapi: "openapi/x.yaml") are read when
  // a definition asks for them.
  return Load(files, DirectoryLoader(dir));
}

Result<Catalog> Catalog::Load(const std::vector<std::pair<std::string, std::string>>& files,
                              const DefinitionFileLoader& loader) {
  Catalog catalog;
  for (const auto& [name, contents] : files) {
    if (IsToolsDocument(name)) continue;
    auto def = ParseIntegrationDefinition(contents, name, loader);
    if (!def) return def.error();
    std::string stem = std::filesystem::path(name).stem().string();
    if (stem != def->integration_id) {
      return Error(Errc::kInvalidArgument,
                   fmt::format("{}: integrationId: must equal the file name ({})", name, stem));
    }
    std::string id = def->integration_id;
    catalog.entries_.emplace(
        std::move(id), std::make_shared<const IntegrationDefinition>(std::move(def.value())));
  }
  return catalog;
}

std::shared_ptr<const IntegrationDefinition> Catalog::Find(std::string_view integration_id) const {
  auto it = entries_.find(integration_id);
  return it == entries_.end() ? nullptr : it->second;
}

std::vector<const IntegrationDefinition*> Catalog::All() const {
  std::vector<const IntegrationDefinition*> out;
  out.reserve(entries_.size());
  for (const auto& [id, def] : entries_) out.push_back(def.get());
  return out;
}

}  // namespace tr
