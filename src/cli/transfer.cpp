#include "cli/transfer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "crypto/crypto.h"

namespace tr::cli {

namespace {

constexpr char kFormat[] = "toolregistry-export";
constexpr int64_t kVersion = 1;

boost::json::value ToJson(const DumpValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  if (const auto* text = std::get_if<std::string>(&value)) return boost::json::string(*text);
  if (const auto* bytes = std::get_if<DumpBytes>(&value)) {
    return boost::json::object{{"base64", crypto::Base64Encode(bytes->bytes)}};
  }
  return nullptr;
}

// The cell of `kind` that `json` holds; nullopt when it is not one.
std::optional<DumpValue> FromJson(const boost::json::value& json, DumpKind kind) {
  if (json.is_null()) return DumpValue{std::monostate{}};
  switch (kind) {
    case DumpKind::kInt:
      if (json.is_int64()) return DumpValue{json.get_int64()};
      return std::nullopt;
    case DumpKind::kText:
      if (json.is_string()) return DumpValue{std::string(json.get_string())};
      return std::nullopt;
    case DumpKind::kBytes: {
      const auto* object = json.if_object();
      const auto* base64 = object ? object->if_contains("base64") : nullptr;
      if (!base64 || !base64->is_string()) return std::nullopt;
      auto bytes = crypto::Base64Decode(base64->get_string());
      if (!bytes) return std::nullopt;
      return DumpValue{DumpBytes{std::move(*bytes)}};
    }
  }
  return std::nullopt;
}

// One row line of an export; nullopt when it is not well formed.
std::optional<DumpRow> ParseRow(const std::string& line) {
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(line, ec);
  const auto* object = ec ? nullptr : json.if_object();
  const auto* name = object ? object->if_contains("table") : nullptr;
  const auto* values = object ? object->if_contains("row") : nullptr;
  if (!name || !name->is_string() || !values || !values->is_array()) return std::nullopt;
  const DumpTable* table = FindDumpTable(name->get_string());
  if (!table || values->get_array().size() != table->columns.size()) return std::nullopt;
  DumpRow row{table, {}};
  for (size_t c = 0; c < table->columns.size(); ++c) {
    auto value = FromJson(values->get_array()[c], table->columns[c].kind);
    if (!value) return std::nullopt;
    row.values.push_back(std::move(*value));
  }
  return row;
}

}  // namespace

CommandResult ExportDatabase(Store& store, const std::string& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE* out = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (!out) {
    if (fd >= 0) ::close(fd);
    return Error(Errc::kInvalidArgument, fmt::format("cannot write {}", file));
  }
  std::string header =
      boost::json::serialize(boost::json::object{{"format", kFormat}, {"version", kVersion}});
  std::fputs((header + "\n").c_str(), out);
  int64_t rows = 0;
  Status exported = store.ExportRows([&](const DumpRow& row) {
    boost::json::array values;
    for (const DumpValue& value : row.values) values.push_back(ToJson(value));
    std::string line =
        boost::json::serialize(boost::json::object{{"table", row.table->name}, {"row", values}});
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out);
    ++rows;
  });
  bool written = std::fflush(out) == 0 && ::fsync(fileno(out)) == 0;
  written = std::fclose(out) == 0 && written;
  if (!exported) return exported.error();
  if (!written) return Error(Errc::kInvalidArgument, fmt::format("cannot write {}", file));
  return boost::json::object{{"rows", rows}, {"file", file}};
}

CommandResult ImportDatabase(Store& store, const std::string& file) {
  std::ifstream in(file);
  if (!in) return Error(Errc::kInvalidArgument, fmt::format("cannot read {}", file));
  std::string line;
  boost::system::error_code ec;
  boost::json::value header = std::getline(in, line) ? boost::json::parse(line, ec) : nullptr;
  const auto* object = ec ? nullptr : header.if_object();
  const auto* format = object ? object->if_contains("format") : nullptr;
  const auto* version = object ? object->if_contains("version") : nullptr;
  if (!format || *format != kFormat || !version || *version != kVersion) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("{} is not a toolregistry export (version {})", file, kVersion));
  }
  std::vector<DumpRow> rows;
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    auto row = ParseRow(line);
    if (!row)
      return Error(Errc::kInvalidArgument,
                   fmt::format("{} line {}: not a row of the export", file, number));
    rows.push_back(std::move(*row));
  }
  Status imported = store.ImportRows(rows);
  if (!imported) {
    if (imported.error().code == Errc::kConflict) {
      return Error(Errc::kConflict,
                   "the target database is not empty: import only into a new database");
    }
    return imported.error();
  }
  return boost::json::object{{"rows", static_cast<int64_t>(rows.size())}};
}

}  // namespace tr::cli
