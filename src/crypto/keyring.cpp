#include "crypto/keyring.h"

#include <memory>
#include <mutex>
#include <stdexcept>

#include <openssl/evp.h>

#include "crypto/crypto.h"

namespace tr::crypto {

namespace {

constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// AES-256-GCM, fetched once: EVP_aes_256_gcm() makes OpenSSL 3 look it up on every init.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

}  // namespace

Keyring::Keyring(std::string current_key) {
  if (current_key.size() != kKeySize) throw std::invalid_argument("master key must be 32 bytes");
  current_id_ = KeyId(current_key);
  keys_.emplace(current_id_, std::move(current_key));
}

void Keyring::AddOldKey(std::string key) {
  if (key.size() != kKeySize) throw std::invalid_argument("master key must be 32 bytes");
  std::string id = KeyId(key);
  std::unique_lock lock(mu_);
  keys_.emplace(std::move(id), std::move(key));
}

void Keyring::MakeCurrent(const std::string& key) {
  if (key.size() != kKeySize) throw std::invalid_argument("master key must be 32 bytes");
  Adopt({key});
}

void Keyring::SetReloader(Reloader reloader) { reloader_ = std::move(reloader); }

std::string Keyring::current_key_id() const {
  std::shared_lock lock(mu_);
  return current_id_;
}

bool Keyring::Adopt(const std::vector<std::string>& keys) const {
  if (keys.empty() || keys.front().size() != kKeySize) return false;
  std::unique_lock lock(mu_);
  bool changed = false;
  for (const std::string& key : keys) {
    if (key.size() != kKeySize) continue;
    changed |= keys_.emplace(KeyId(key), key).second;
  }
  std::string current = KeyId(keys.front());
  changed |= current != current_id_;
  current_id_ = std::move(current);
  return changed;
}

std::string Keyring::KeyId(std::string_view key) { return HexEncode(Sha256(key).substr(0, 8)); }

Sealed Keyring::Seal(std::string_view plaintext, std::string_view associated_data) const {
  std::string key_id;
  std::string key;
  {
    std::shared_lock lock(mu_);
    key_id = current_id_;
    key = keys_.find(current_id_)->second;
  }
  std::string blob = RandomBytes(kNonceSize);
  blob.resize(kNonceSize + plaintext.size() + kTagSize);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, U(key), U(blob)) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(associated_data),
                              static_cast<int>(associated_data.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), U(blob) + kNonceSize, &len, U(plaintext),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), U(blob) + kNonceSize + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                                U(blob) + kNonceSize + plaintext.size()) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM encryption failed");
  return Sealed{std::move(key_id), std::move(blob)};
}

std::optional<std::string> Keyring::Open(std::string_view key_id, std::string_view blob,
                                         std::string_view associated_data) const {
  if (blob.size() < kNonceSize + kTagSize) return std::nullopt;
  std::string key;
  {
    std::shared_lock lock(mu_);
    auto it = keys_.find(key_id);
    if (it != keys_.end()) key = it->second;
  }
  if (key.empty() && reloader_) {
    // Look again whether or not this call's reload added a key: when another thread's reload
    // added it meanwhile, Adopt() finds nothing new, yet the key is there now. (Found by
    // ConcurrencyTest.KeyringReloadsWhileOthersDecrypt: such a thread failed to decrypt.)
    (void)Adopt(reloader_());
    std::shared_lock lock(mu_);
    auto it = keys_.find(key_id);
    if (it != keys_.end()) key = it->second;
  }
  if (key.empty()) return std::nullopt;
  size_t text_size = blob.size() - kNonceSize - kTagSize;
  std::string plaintext(text_size, '\0');
  std::string tag(blob.substr(kNonceSize + text_size));
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok =
      ctx &&
      EVP_DecryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, U(key), U(blob)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), U(plaintext), &len, U(blob) + kNonceSize,
                        static_cast<int>(text_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, U(tag)) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), U(plaintext) + len, &len) == 1;
  if (!ok) return std::nullopt;
  return plaintext;
}

}  // namespace tr::crypto
