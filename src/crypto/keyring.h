// The master keys that encrypt secrets at rest, and the AEAD that uses them.
//
// Seal() encrypts with AES-256-GCM under the current key, a fresh 96-bit nonce each time,
// and caller-supplied associated data (the row's identity, so a ciphertext cannot be moved
// to another row). The key id (the first 8 bytes of SHA-256 of the key, hex) is stored on
// every row so that keys can be rotated: Open() finds the key by id.
// Immutable after construction; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tr::crypto {

struct Sealed {
  std::string key_id;
  std::string blob;  // nonce (12) || ciphertext || tag (16)
};

class Keyring {
 public:
  static constexpr size_t kKeySize = 32;

  // REQUIRES: current_key.size() == kKeySize.
  explicit Keyring(std::string current_key);

  // Adds an older key that Open() can still use (for rotation).
  void AddOldKey(std::string key);

  const std::string& current_key_id() const { return current_id_; }

  Sealed Seal(std::string_view plaintext, std::string_view associated_data) const;
  // The plaintext, or nullopt when the key id is unknown or the blob was tampered with.
  std::optional<std::string> Open(std::string_view key_id, std::string_view blob,
                                  std::string_view associated_data) const;

  static std::string KeyId(std::string_view key);

 private:
  std::string current_id_;
  std::map<std::string, std::string, std::less<>> keys_;  // key id -> key
};

}  // namespace tr::crypto
