// IntegrationDirectory: finds the definition behind an integration id for a workspace,
// whether it is a catalog entry or one of the workspace's custom integrations.
// Thread-safe (the catalog is immutable; the store is thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/catalog.h"
#include "core/model.h"
#include "core/stamped_cache.h"
#include "store/store.h"

namespace tr {

// A customer integration together with its definition: what the API and CLI list.
struct IntegrationView {
  CustomerIntegration customer_integration;
  std::shared_ptr<const IntegrationDefinition> definition;
};

class IntegrationDirectory {
 public:
  IntegrationDirectory(const Catalog& catalog, Store& store) : catalog_(catalog), store_(store) {}

  struct Found {
    std::shared_ptr<const IntegrationDefinition> definition;
    IntegrationSource source;
  };
  // The workspace's custom integration with this id, else the catalog entry; kNotFound.
  Result<Found> Find(const std::string& workspace_id, const std::string& integration_id);

  // The definition a customer integration was enabled from. When it vanished (a catalog
  // entry removed from a newer binary) a placeholder named after the id, logged.
  Result<IntegrationView> View(CustomerIntegration ci);
  // The customer integration with this id and its definition (null when there is none),
  // kept while the change stamp holds and shared, not copied: the proxy, a tool call and the
  // credentials read it on every call, and a customer integration or its definition moves
  // the stamp.
  Result<std::shared_ptr<const IntegrationView>> ViewById(
      const std::string& customer_integration_id);
  Result<std::vector<IntegrationView>> Views(std::vector<CustomerIntegration> list);

  const Catalog& catalog() const { return catalog_; }

 private:
  // A stored custom definition parsed once, not on every request: parsing builds its tools
  // from an OpenAPI document that may be megabytes. Keyed by workspace and integration id;
  // used while the row's updated_at and size are the same (every redefinition changes them).
  struct Parsed {
    int64_t updated_at;
    size_t size;
    std::shared_ptr<const IntegrationDefinition> definition;
  };
  std::shared_ptr<const IntegrationDefinition> ParseCustom(const CustomIntegration& custom);

  const Catalog& catalog_;
  Store& store_;
  std::mutex mu_;
  std::unordered_map<std::string, Parsed> parsed_;  // Guarded by mu_
  // What Find answered, by workspace and integration id, while the change stamp holds: a
  // stored custom definition is read (it may be megabytes) only after the stamp moved.
  StampedCache<Found> found_;
  StampedCache<std::shared_ptr<const IntegrationView>> views_;  // ViewById's, by id
};

}  // namespace tr
