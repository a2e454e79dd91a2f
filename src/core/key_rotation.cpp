#include "core/key_rotation.h"

#include <set>

#include <spdlog/spdlog.h>

#include "core/connect_service.h"
#include "core/oauth_clients.h"

namespace tr {

namespace {

constexpr int kBatch = 500;

}  // namespace

std::string SealedAad(const SealedRow& row) {
  switch (row.kind) {
    case SealedKind::kCredentials:
      return CredentialsAad(row.id1, row.id2);
    case SealedKind::kClientSecret:
    case SealedKind::kPkceVerifier:
    case SealedKind::kWebhookSecret:
      return row.id1;
    case SealedKind::kMcpOAuthClient:
      return McpOAuthClientAad(row.id1);
  }
  return row.id1;
}

Result<RotationReport> ReencryptAll(Store& store, const crypto::Keyring& keyring) {
  RotationReport report;
  const std::string current = keyring.current_key_id();
  std::set<std::string> skipped;  // unreadable rows, so the loop ends
  for (;;) {
    auto rows = store.ListSealedNotUnder(current, kBatch + static_cast<int>(skipped.size()));
    if (!rows) return rows.error();
    int progressed = 0;
    for (const SealedRow& row : *rows) {
      std::string identity = std::to_string(static_cast<int>(row.kind)) + '\n' + row.id1 + '\n' + row.id2;
      if (skipped.count(identity)) continue;
      auto plain = keyring.Open(row.secret.key_id, row.secret.blob, SealedAad(row));
      if (!plain) {
        spdlog::warn("a sealed value under key {} cannot be opened; left as it is", row.secret.key_id);
        skipped.insert(identity);
        ++report.unreadable;
        continue;
      }
      crypto::Sealed fresh = keyring.Seal(*plain, SealedAad(row));
      auto replaced = store.ReplaceSealed(row, SealedSecret{fresh.key_id, std::move(fresh.blob)});
      if (!replaced) return replaced.error();
      if (*replaced) ++report.reencrypted;
      ++progressed;
    }
    if (progressed == 0) return report;
  }
}

}  // namespace tr
