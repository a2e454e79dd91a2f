// CredentialService: what the workspace's backend gets for a connected user (CONTRACT
// section 9): credentials by auth type, OAuth refresh (on read within a margin of expiry,
// and by a background sweep), and disconnect with revocation at the provider.
//
// Refresh is single-flight: concurrent reads of one user in this process wait for one
// refresh, and a lease row in the database keeps other processes (nodes) from refreshing
// the same user at the same time. Thread-safe; calls may block on outbound HTTP.
#pragma once

#include <future>
#include <map>
#include <mutex>
#include <string>

#include <boost/json/object.hpp>

#include "core/clock.h"
#include "core/connect_service.h"
#include "core/integration_directory.h"
#include "core/oauth_clients.h"
#include "crypto/keyring.h"
#include "net/http_client.h"
#include "store/store.h"

namespace tr {

struct CredentialOptions {
  int64_t refresh_margin_millis = 5 * 60 * 1000;  // refresh when this close to expiry
  int64_t lease_millis = 30'000;                  // how long a refresh lease holds
  int refresh_attempts = 3;                       // tries for transient failures
  int64_t retry_backoff_millis = 250;             // doubled after each try
  // After a refresh fails (but for invalid_grant, which deactivates the user), the sweep
  // leaves the user alone this long, doubled after each further failure up to the max.
  int64_t failure_backoff_millis = 60'000;
  int64_t failure_backoff_max_millis = 3'600'000;
  AwsSettings aws;
  std::string node_id;                            // lease holder name of this process
};

class CredentialService {
 public:
  CredentialService(Store& store, IntegrationDirectory& directory, const crypto::Keyring& keyring,
                    const Clock& clock, net::HttpClient& http, CredentialOptions options);

  // {"authType", ...} for the workspace's user. kNotFound (unknown/foreign),
  // kInvalidArgument (the customer integration is disabled), kConflict (inactive or
  // deactivated by a failed refresh), kUnavailable (provider unreachable).
  // With `may_block` false, credentials that need a call to the provider first (a refresh,
  // AWS or Google keys not minted yet) are kWouldBlock, and nothing was changed.
  Result<boost::json::object> GetCredentials(const std::string& workspace_id, std::string_view cid,
                                             std::string_view user_id, bool may_block = true);

  // Revokes the user's tokens at the provider where it has a revocation endpoint (best
  // effort), then deletes the user. kNotFound when unknown or foreign.
  Status Disconnect(const std::string& workspace_id, std::string_view cid, std::string_view user_id);

  // Refreshes the OAuth tokens of one user if they are within the margin of expiry, or,
  // when `rejected_token` is given (an upstream refused it), if the user's access token is
  // still that one. Single-flight. Used by reads, the sweeper and the proxy.
  Status Refresh(const std::string& customer_integration_id, const std::string& user_id,
                 const std::string& rejected_token = "");

  // One pass of the background sweep: refreshes users whose tokens expire within the
  // margin, but for those backing off after failed refreshes. Returns how many it tried.
  // A failure streak sends one user.refresh_failed, on its first failure.
  int SweepOnce();

 private:
  struct UserContext;
  // The user with its integration and credentials. With `workspace_id`, a customer
  // integration of another workspace is kNotFound before anything else is looked at, so
  // that a foreign caller learns nothing (not even whether the user exists). With
  // `require_active`, a disabled customer integration is the 400 of auth-url, also before
  // the user is looked at.
  Result<UserContext> LoadUser(const std::string& customer_integration_id,
                               const std::string& user_id,
                               const std::string* workspace_id = nullptr,
                               bool require_active = false);
  Status RefreshUnderLease(const std::string& customer_integration_id, const std::string& user_id,
                           const std::string& rejected_token);
  Status DoRefresh(UserContext& ctx, const std::string& rejected_token);
  bool NeedsRefresh(const boost::json::object& creds, int64_t now) const;
  // Whether `creds` still need the refresh asked for (by expiry, or by a rejected token).
  bool StillNeeded(const boost::json::object& creds, const std::string& rejected_token,
                   int64_t now) const;

  Store& store_;
  IntegrationDirectory& directory_;
  const crypto::Keyring& keyring_;
  const Clock& clock_;
  net::HttpClient& http_;
  CredentialOptions options_;
  OAuthClients oauth_clients_;  // the settings and client of each OAUTH2 integration

  std::mutex mu_;
  std::map<std::string, std::shared_future<Status>> inflight_;  // Guarded by mu_
  // Minted AWS keys and Google tokens, per user ("cid\nuserId"). An entry is served only
  // for the stored credential it was minted from: `source` is a digest of that sealed value,
  // which a re-connect replaces on every node, so no node serves what an older one minted.
  struct CachedMint {
    std::string source;
    boost::json::object credentials;
    int64_t expires_at = 0;
  };
  std::map<std::string, CachedMint> mint_cache_;  // Guarded by mu_
};

}  // namespace tr
