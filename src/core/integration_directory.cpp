#include "core/integration_directory.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace tr {

Result<IntegrationDirectory::Found> IntegrationDirectory::Find(const std::string& workspace_id,
                                                               const std::string& integration_id) {
  auto custom = store_.FindCustomIntegration(workspace_id, integration_id);
  if (!custom) return custom.error();
  if (*custom) {
    auto def = ParseIntegrationDefinition((*custom)->definition_json, integration_id);
    if (!def) {
      spdlog::error("stored custom integration {} does not parse: {}", integration_id,
                    def.error().message());
      return Error(Errc::kInternal, "Internal server error");
    }
    return Found{std::make_shared<const IntegrationDefinition>(std::move(def.value())),
                 IntegrationSource::kCustom};
  }
  if (auto def = catalog_.Find(integration_id)) return Found{def, IntegrationSource::kCatalog};
  return Error(Errc::kNotFound, fmt::format("Integration {} not found", integration_id));
}

Result<IntegrationView> IntegrationDirectory::View(CustomerIntegration ci) {
  std::shared_ptr<const IntegrationDefinition> def;
  if (ci.source == IntegrationSource::kCatalog) {
    def = catalog_.Find(ci.integration_id);
  } else {
    auto found = Find(ci.workspace_id, ci.integration_id);
    if (found && found->source == IntegrationSource::kCustom) def = found->definition;
  }
  if (!def) {
    // The definition is gone (a catalog entry dropped by a newer binary): keep answering,
    // with what is still known.
    spdlog::warn("customer integration {} refers to missing integration {}",
                 ci.customer_integration_id, ci.integration_id);
    auto placeholder = std::make_shared<IntegrationDefinition>();
    placeholder->integration_id = ci.integration_id;
    placeholder->name = ci.integration_id;
    placeholder->auth_types = {ci.auth_type};
    def = std::move(placeholder);
  }
  return IntegrationView{std::move(ci), std::move(def)};
}

Result<std::vector<IntegrationView>> IntegrationDirectory::Views(
    std::vector<CustomerIntegration> list) {
  std::vector<IntegrationView> views;
  views.reserve(list.size());
  for (CustomerIntegration& ci : list) {
    auto view = View(std::move(ci));
    if (!view) return view.error();
    views.push_back(std::move(view.value()));
  }
  return views;
}

}  // namespace tr
