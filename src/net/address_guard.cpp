#include "net/address_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

namespace tr::net {

namespace {

bool IsPublicV4(uint32_t a) {  // host byte order
  auto in = [a](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  return !(in(0x00000000, 8) ||    // 0.0.0.0/8 "this network"
           in(0x0a000000, 8) ||    // 10/8
           in(0x64400000, 10) ||   // 100.64/10 CGNAT
           in(0x7f000000, 8) ||    // 127/8 loopback
           in(0xa9fe0000, 16) ||   // 169.254/16 link-local (cloud metadata)
           in(0xac100000, 12) ||   // 172.16/12
           in(0xc0000000, 24) ||   // 192.0.0/24 IETF protocol assignments
           in(0xc0a80000, 16) ||   // 192.168/16
           in(0xc6120000, 15) ||   // 198.18/15 benchmarking
           in(0xe0000000, 4) ||    // multicast
           in(0xf0000000, 4));     // reserved, broadcast
}

}  // namespace

bool IsPublicAddress(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(addr);
    return IsPublicV4(ntohl(v4->sin_addr.s_addr));
  }
  if (addr->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(addr);
    const uint8_t* b = v6->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) || IN6_IS_ADDR_V4COMPAT(&v6->sin6_addr)) {
      uint32_t a;
      std::memcpy(&a, b + 12, 4);
      return IsPublicV4(ntohl(a));
    }
    if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) ||
        IN6_IS_ADDR_LINKLOCAL(&v6->sin6_addr) || IN6_IS_ADDR_SITELOCAL(&v6->sin6_addr) ||
        IN6_IS_ADDR_MULTICAST(&v6->sin6_addr)) {
      return false;
    }
    if ((b[0] & 0xfe) == 0xfc) return false;                        // fc00::/7 unique local
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) return false;  // NAT64
    return true;
  }
  return false;
}

}  // namespace tr::net
