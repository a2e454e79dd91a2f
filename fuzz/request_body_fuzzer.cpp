// Fuzz target: the decoders of request bodies. The whole input goes to the auth-url JSON
// body parser and to the url-encoded form decoder; for multipart/form-data, the input's first
// line is the Content-Type header and the rest the body.
//
// Checked: a decoded url-encoded form, encoded again with net::FormBody, decodes to the same
// values; a redirectUri that parsed is what the JSON said (serialising it back and parsing
// again gives the same).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "api/form_data.h"
#include "api/request_body.h"
#include "fuzz_support.h"
#include "net/http_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tr;
  using fuzz::Check;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto redirect = api::ParseAuthUrlBody(text);
  if (redirect && redirect->has_value()) {
    std::string again =
        "{\"redirectUri\":" + boost::json::serialize(boost::json::string(**redirect)) + "}";
    auto reparsed = api::ParseAuthUrlBody(again);
    Check(reparsed && reparsed->has_value() && **reparsed == **redirect, "redirectUri round trip");
  } else if (!redirect) {
    Check(!redirect.error().messages.empty(), "error has a message");
  }

  if (auto form = api::ParseUrlEncoded(text)) {
    std::vector<std::pair<std::string, std::string>> pairs(form->begin(), form->end());
    auto again = api::ParseUrlEncoded(net::FormBody(pairs));
    Check(again.has_value() && *again == *form, "form round trip", net::FormBody(pairs));
  }

  size_t nl = text.find('\n');
  std::string_view content_type = text.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  (void)api::ParseMultipart(content_type, body);
  (void)api::ParseForm(content_type, body);
  return 0;
}
