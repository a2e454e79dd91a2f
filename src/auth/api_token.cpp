#include "auth/api_token.h"

namespace tr::auth {

std::string ExpandUrlTemplate(const std::string& url_template, const FieldValues& values) {
  std::string out;
  size_t i = 0;
  while (i < url_template.size()) {
    size_t open = url_template.find('{', i);
    size_t close = open == std::string::npos ? open : url_template.find('}', open);
    if (close == std::string::npos) {
      out.append(url_template, i);
      break;
    }
    out.append(url_template, i, open - i);
    std::string name = url_template.substr(open + 1, close - open - 1);
    auto it = values.find(name);
    if (it != values.end()) {
      out += net::FormEncode(it->second);
    } else {
      out.append(url_template, open, close - open + 1);
    }
    i = close + 1;
  }
  return out;
}

void ApplyApiToken(const ApiTokenConfig& config, const FieldValues& values, net::HttpCall& call) {
  auto it = values.find("token");
  std::string token = it == values.end() ? std::string() : it->second;
  // A value of the caller's under the same name is dropped: the upstream must see the user's.
  if (!config.query_param.empty()) {
    call.url = net::WithoutQueryParam(call.url, config.query_param);
    call.url += (call.url.find('?') == std::string::npos ? "?" : "&") +
                net::FormEncode(config.query_param) + "=" + net::FormEncode(token);
  } else {
    net::SetHeader(call.headers, config.header, config.prefix + token);
  }
}

std::optional<net::HttpCall> BuildVerificationCall(const ApiTokenConfig& config,
                                                   const FieldValues& values) {
  if (!config.verification) return std::nullopt;
  net::HttpCall call;
  call.method = config.verification->method;
  call.url = ExpandUrlTemplate(config.verification->url, values);
  call.headers.emplace_back("Accept", "application/json");
  ApplyApiToken(config, values, call);
  return call;
}

}  // namespace tr::auth
