// The address guard: whether an outbound connection may go to an IP address. Loopback,
// link-local, private, unique-local, CGNAT, multicast and unspecified addresses are refused
// unless the operator allowed private networks (--allow-private-network). Checked on the
// resolved address of every connection, so DNS cannot be used to slip past it.
#pragma once

#include <string_view>

struct sockaddr;

namespace tr::net {

// True when `addr` (AF_INET or AF_INET6) is public and so always allowed.
bool IsPublicAddress(const sockaddr* addr);

}  // namespace tr::net
