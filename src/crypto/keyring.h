// The master keys that encrypt secrets at rest, and the AEAD that uses them.
//
// Seal() encrypts with AES-256-GCM under the current key, a fresh 96-bit nonce each time,
// and caller-supplied associated data (the row's identity, so a ciphertext cannot be moved
// to another row). The key id (the first 8 bytes of SHA-256 of the key, hex) is stored on
// every row so that keys can be rotated: Open() finds the key by id. When Open() meets a key
// id it does not know, it asks the reloader (if set) for the keys configured now, so that a
// running server picks up a key that `toolregistry keys rotate` just added.
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <vector>
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

  // Makes `key` the current key (older keys stay readable). REQUIRES: 32 bytes.
  void MakeCurrent(const std::string& key);

  // Returns the keys configured now, the current one first (empty: no change).
  using Reloader = std::function<std::vector<std::string>()>;
  void SetReloader(Reloader reloader);

  std::string current_key_id() const;

  Sealed Seal(std::string_view plaintext, std::string_view associated_data) const;
  // The plaintext, or nullopt when the key id is unknown or the blob was tampered with.
  std::optional<std::string> Open(std::string_view key_id, std::string_view blob,
                                  std::string_view associated_data) const;

  static std::string KeyId(std::string_view key);

 private:
  // Adopts `keys` (current first); false when none was new or usable.
  bool Adopt(const std::vector<std::string>& keys) const;

  mutable std::shared_mutex mu_;
  mutable std::string current_id_;                                // Guarded by mu_
  mutable std::map<std::string, std::string, std::less<>> keys_;  // Guarded by mu_
  Reloader reloader_;
};

}  // namespace tr::crypto
