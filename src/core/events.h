// Webhook events (CONTRACT section 9): what happened to an integration user, as the JSON
// body that is signed and sent. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/model.h"

namespace tr {

inline constexpr std::string_view kUserConnected = "user.connected";
inline constexpr std::string_view kUserConnectionFailed = "user.connection_failed";
inline constexpr std::string_view kUserRefreshFailed = "user.refresh_failed";
inline constexpr std::string_view kUserDeactivated = "user.deactivated";
inline constexpr std::string_view kUserDeleted = "user.deleted";

// An outbox event {"type", "timestamp", "data": {"customerIntegrationId", "userId", ...extra}}
// with a fresh "msg_..." id, due now.
OutboxEvent MakeUserEvent(std::string_view type, const std::string& workspace_id,
                          const std::string& customer_integration_id, const std::string& user_id,
                          int64_t now, const boost::json::object& extra = {});

}  // namespace tr
