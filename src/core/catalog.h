// The catalog: the integrations shipped with the binary (or loaded from --catalog DIR).
// Loaded once at start; immutable afterwards, so any thread may read it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/integration.h"
#include "core/result.h"

namespace tr {

class Catalog {
 public:
  // The files embedded at build time from the repository's catalog/ folder.
  static Result<Catalog> LoadEmbedded();
  // Every *.json file of `dir`. Error names the file and field of the first bad file.
  static Result<Catalog> LoadDirectory(const std::string& dir);
  // From (file name, contents) pairs; the building block of the two above. Files under an
  // openapi/ folder are skipped (documents that definitions name, read through `loader`).
  static Result<Catalog> Load(const std::vector<std::pair<std::string, std::string>>& files,
                              const DefinitionFileLoader& loader = {});

  // nullptr when absent.
  std::shared_ptr<const IntegrationDefinition> Find(std::string_view integration_id) const;
  // Sorted by integration id.
  std::vector<const IntegrationDefinition*> All() const;

 private:
  std::map<std::string, std::shared_ptr<const IntegrationDefinition>, std::less<>> entries_;
};

struct EmbeddedFile {
  const char* name;
  const char* contents;
};
// Defined in the generated embedded_catalog.cpp; ends with {nullptr, nullptr}.
extern const EmbeddedFile kEmbeddedCatalog[];

}  // namespace tr
