// Fuzz target: the checks of caller-supplied URLs and ids (core/validation.h) and the address
// guard (net/address_guard.h) on addresses parsed from text and on raw socket addresses.
//
// Checked: the origin ValidateRedirectUri returns is a fixed point of NormalizeOrigin; a
// valid redirect URI is at most kMaxRedirectUriBytes; a valid userId is valid UTF-8 of 1..255
// bytes; an IPv4 address and its IPv4-mapped IPv6 form get the same verdict.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/validation.h"
#include "fuzz_support.h"
#include "net/address_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tr;
  using fuzz::Check;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto origin = ValidateRedirectUri(text)) {
    Check(text.size() <= kMaxRedirectUriBytes, "redirect uri length");
    auto normalized = NormalizeOrigin(*origin);
    Check(normalized.ok(), "origin of a valid redirect uri normalizes", *origin);
    Check(*normalized == *origin, "origin is normalized", *origin);
  }
  if (auto origin = NormalizeOrigin(text)) {
    auto again = NormalizeOrigin(*origin);
    Check(again.ok() && *again == *origin, "NormalizeOrigin is idempotent", *origin);
  }
  if (auto decoded = PercentDecode(text)) {
    Check(decoded->size() <= text.size(), "decoding never grows");
    if (ValidateUserId(*decoded).ok()) {
      Check(!decoded->empty() && decoded->size() <= kMaxUserIdBytes, "userId length");
      Check(fuzz::IsValidUtf8(*decoded), "userId is UTF-8");
    }
  }

  // The address guard on text addresses, as a resolver would hand them over.
  std::string address(text.substr(0, 64));
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), &v4.sin_addr) == 1) {
    bool public_v4 = net::IsPublicAddress(reinterpret_cast<const sockaddr*>(&v4));
    sockaddr_in6 mapped{};
    mapped.sin6_family = AF_INET6;
    mapped.sin6_addr.s6_addr[10] = 0xff;
    mapped.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(mapped.sin6_addr.s6_addr + 12, &v4.sin_addr, 4);
    Check(net::IsPublicAddress(reinterpret_cast<const sockaddr*>(&mapped)) == public_v4,
          "mapped address gets the same verdict", address);
  }
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  if (inet_pton(AF_INET6, address.c_str(), &v6.sin6_addr) == 1) {
    (void)net::IsPublicAddress(reinterpret_cast<const sockaddr*>(&v6));
  }
  // Raw bytes as an IPv6 address.
  if (size >= 16) {
    std::memcpy(v6.sin6_addr.s6_addr, data, 16);
    (void)net::IsPublicAddress(reinterpret_cast<const sockaddr*>(&v6));
  }
  return 0;
}
