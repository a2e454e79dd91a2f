// Fuzz target: reading AWS STS AssumeRole answers (auth/aws_sts.h): the response parser for a
// 200 and for an error status, and the XML helpers under it.
//
// Checked: an error message is valid UTF-8, without control characters, at most
// kMaxStsErrorMessageBytes; credentials that parse are non-empty; an unescaped text is valid
// UTF-8 when its input was.

#include <cstdint>
#include <string>
#include <string_view>

#include "auth/aws_sts.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tr;
  using fuzz::Check;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (int status : {200, 403}) {
    auto parsed = auth::ParseAssumeRoleResponse(status, text);
    if (parsed) {
      Check(status == 200, "credentials only from a 200");
      Check(!parsed->access_key_id.empty() && !parsed->secret_access_key.empty() &&
                !parsed->session_token.empty(),
            "credentials complete");
    } else {
      const std::string& message = parsed.error().message();
      Check(message.size() <= auth::kMaxStsErrorMessageBytes, "error message length", message);
      Check(fuzz::IsValidUtf8(message), "error message is UTF-8", message);
      for (char c : message) {
        Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "no control characters", message);
      }
    }
  }
  if (auto element = auth::FindXmlElement(text, "Code")) {
    // A view into the document (an empty one may point anywhere).
    Check(element->empty() || (element->data() >= text.data() &&
                                element->data() + element->size() <= text.data() + text.size()),
          "element inside the document");
    if (auto unescaped = auth::XmlUnescape(*element); unescaped && fuzz::IsValidUtf8(*element)) {
      Check(fuzz::IsValidUtf8(*unescaped), "unescaped text is UTF-8", *unescaped);
    }
  }
  (void)auth::ParseIso8601UtcMillis(text);
  return 0;
}
