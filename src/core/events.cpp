#include "core/events.h"

#include <boost/json/serialize.hpp>

#include "core/clock.h"
#include "core/ids.h"

namespace tr {

OutboxEvent MakeUserEvent(std::string_view type, const std::string& workspace_id,
                          const std::string& customer_integration_id, const std::string& user_id,
                          int64_t now, const boost::json::object& extra) {
  boost::json::object data{{"customerIntegrationId", customer_integration_id}, {"userId", user_id}};
  for (const auto& [key, value] : extra) data[key] = value;
  boost::json::object body{
      {"type", type}, {"timestamp", FormatTimestamp(now)}, {"data", std::move(data)}};
  OutboxEvent event;
  event.event_id = "msg_" + NewToken().substr(0, 27);
  event.workspace_id = workspace_id;
  event.type = std::string(type);
  event.payload = boost::json::serialize(body);
  event.created_at = now;
  event.next_attempt_at = now;
  return event;
}

}  // namespace tr
