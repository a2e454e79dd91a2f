// Master-key rotation: re-encrypts every sealed value that is not under the keyring's
// current key (CONTRACT section 5). Values under an old key stay readable meanwhile, as
// long as the old key is in the keyring, so servers keep working during a rotation.
#pragma once

#include "crypto/keyring.h"
#include "store/store.h"

namespace tr {

struct RotationReport {
  int reencrypted = 0;
  int unreadable = 0;  // under a key the keyring does not have: left as they are, logged
};

// The associated data a sealed value of `row`'s kind is bound to.
std::string SealedAad(const SealedRow& row);

Result<RotationReport> ReencryptAll(Store& store, const crypto::Keyring& keyring);

}  // namespace tr
