#include "core/integration_directory.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace tr {

Result<IntegrationDirectory::Found> IntegrationDirectory::Find(const std::string& workspace_id,
                                                               const std::string& integration_id) {
  // Read before the row is (core/stamped_cache.h); a custom definition moves it.
  const std::optional<uint64_t> stamp = store_.ChangeStamp();
  const std::string key = workspace_id + '\n' + integration_id;
  if (stamp) {
    if (std::optional<Found> hit = found_.Find(key, *stamp)) return std::move(*hit);
  }
  auto custom = store_.FindCustomIntegration(workspace_id, integration_id);
  if (!custom) return custom.error();
  std::optional<Found> found;
  if (*custom) {
    auto def = ParseCustom(**custom);
    if (!def) return Error(Errc::kInternal, "Internal server error");
    found = Found{std::move(def), IntegrationSource::kCustom};
  } else if (auto def = catalog_.Find(integration_id)) {
    found = Found{std::move(def), IntegrationSource::kCatalog};
  } else {
    return Error(Errc::kNotFound, fmt::format("Integration {} not found", integration_id));
  }
  if (stamp) found_.Put(key, *found, *stamp);
  return std::move(*found);
}

std::shared_ptr<const IntegrationDefinition> IntegrationDirectory::ParseCustom(
    const CustomIntegration& custom) {
  // Bounded: custom integrations are few per workspace; when full, start over.
  constexpr size_t kMaxParsed = 1024;
  const std::string key = custom.workspace_id + '\n' + custom.integration_id;
  {
    std::lock_guard lock(mu_);
    auto it = parsed_.find(key);
    if (it != parsed_.end() && it->second.updated_at == custom.updated_at &&
        it->second.size == custom.definition_json.size()) {
      return it->second.definition;
    }
  }
  auto def = ParseIntegrationDefinition(custom.definition_json, custom.integration_id);
  if (!def) {
    spdlog::error("stored custom integration {} does not parse: {}", custom.integration_id,
                  def.error().message());
    return nullptr;
  }
  auto shared = std::make_shared<const IntegrationDefinition>(std::move(def.value()));
  std::lock_guard lock(mu_);
  if (parsed_.size() >= kMaxParsed) parsed_.clear();
  parsed_.insert_or_assign(key, Parsed{custom.updated_at, custom.definition_json.size(), shared});
  return shared;
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

Result<std::shared_ptr<const IntegrationView>> IntegrationDirectory::ViewById(
    const std::string& customer_integration_id) {
  using Shared = std::shared_ptr<const IntegrationView>;
  // Read before the row is (core/stamped_cache.h).
  const std::optional<uint64_t> stamp = store_.ChangeStamp();
  auto found =
      views_.GetOrLoad(customer_integration_id, stamp, [&]() -> Result<std::optional<Shared>> {
        auto ci = store_.FindCustomerIntegration(customer_integration_id);
        if (!ci) return ci.error();
        if (!*ci) return std::optional<Shared>();
        auto view = View(std::move(**ci));
        if (!view) return view.error();
        return std::optional<Shared>(std::make_shared<const IntegrationView>(std::move(*view)));
      });
  if (!found) return found.error();
  return found->value_or(nullptr);
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
