// Fuzz target: the parser of integration definitions (core/integration.h), which reads the
// catalog's files and the operators' custom-integration files, and the catalog loader over
// that one file.
//
// Checked: a definition that parses has an id, a name, a host and at least one auth type, and
// each auth type it declares has its configuration.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/catalog.h"
#include "core/integration.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tr;
  using fuzz::Check;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ParseIntegrationDefinition(text, "fuzz.json");
  if (parsed) {
    const IntegrationDefinition& def = *parsed;
    Check(!def.integration_id.empty(), "integrationId");
    Check(!def.name.empty(), "name");
    Check(!def.auth_types.empty(), "authTypes");
    Check(!def.Supports(AuthType::kOAuth2) || def.oauth2.has_value(), "oauth2 config");
    Check(!def.Supports(AuthType::kApiToken) || def.api_token.has_value(), "apiToken config");
  } else {
    Check(parsed.error().message().starts_with("fuzz.json"), "error names its source",
          parsed.error().message());
  }
  (void)Catalog::Load({{"fuzz.json", std::string(text)}});
  return 0;
}
