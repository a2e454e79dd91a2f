#include "core/integration_tools.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <boost/json/object.hpp>

#include "tools/openapi.h"
#include "tools/openapi_document.h"
#include "tools/tool_name.h"

namespace tr {

namespace json = boost::json;

namespace {

// Largest OpenAPI file a definition may name: the biggest public documents are ~20 MB.
constexpr std::uintmax_t kMaxDocumentFileBytes = 64u << 20;

bool IsDocumentText(std::string_view text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  return start == std::string_view::npos || text[start] == '{' ||
         text.find('\n') != std::string_view::npos;
}

Status ReadStrings(const json::object& o, std::string_view key, std::string_view where,
                   std::vector<std::string>& out) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return Ok{};
  if (!v->is_array())
    return Error(Errc::kInvalidArgument,
                 fmt::format("{}.{}: must be an array of strings", where, key));
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) {
      return Error(Errc::kInvalidArgument,
                   fmt::format("{}.{}: must be an array of strings", where, key));
    }
    out.emplace_back(item.get_string());
  }
  return Ok{};
}

// include, exclude and names of a `tools` object (the caller checks its other fields).
Result<tools::ToolSelection> ReadSelection(const json::object& o, const std::string& where) {
  tools::ToolSelection selection;
  selection.where = where;
  if (auto s = ReadStrings(o, "include", where, selection.include); !s) return s.error();
  if (auto s = ReadStrings(o, "exclude", where, selection.exclude); !s) return s.error();
  if (const json::value* names = o.if_contains("names"); names && !names->is_null()) {
    if (!names->is_object())
      return Error(Errc::kInvalidArgument, where + ".names: must be an object");
    for (const auto& kv : names->get_object()) {
      if (!kv.value().is_string()) {
        return Error(Errc::kInvalidArgument, fmt::format("{}.names.{}: must be a string", where,
                                                         std::string_view(kv.key())));
      }
      selection.names.emplace(kv.key(), kv.value().get_string());
    }
  }
  return selection;
}

}  // namespace

Result<tools::ToolSelection> ReadMcpToolSelection(const json::value& tools_value,
                                                  std::string_view source) {
  const std::string where = fmt::format("{}: tools", source);
  const json::object* o = tools_value.if_object();
  if (!o) return Error(Errc::kInvalidArgument, where + ": must be an object");
  for (const auto& kv : *o) {
    if (kv.key() != "include" && kv.key() != "exclude" && kv.key() != "names") {
      return Error(Errc::kInvalidArgument,
                   fmt::format("{}.{}: unknown field for an MCP server (include, exclude, names: "
                               "its tools are its own tools/list)",
                               where, std::string_view(kv.key())));
    }
  }
  auto selection = ReadSelection(*o, where);
  if (!selection) return selection.error();
  for (const auto& [key, name] : selection->names) {
    if (!tools::IsValidToolName(name)) {
      return Error(Errc::kInvalidArgument,
                   where + ".names." + key + ": must match ^[A-Za-z0-9_-]{1,64}$");
    }
  }
  return selection;
}

Result<std::shared_ptr<const tools::ToolSet>> ReadIntegrationTools(
    const json::value& tools_value, std::string_view integration_id, std::string_view source,
    const DefinitionFileLoader& loader) {
  const std::string where = fmt::format("{}: tools", source);
  const json::object* o = tools_value.if_object();
  if (!o) return Error(Errc::kInvalidArgument, where + ": must be an object");
  for (const auto& kv : *o) {
    if (kv.key() != "openapi" && kv.key() != "include" && kv.key() != "exclude" &&
        kv.key() != "names") {
      return Error(Errc::kInvalidArgument,
                   fmt::format("{}.{}: unknown field (openapi, include, exclude, names)", where,
                               std::string_view(kv.key())));
    }
  }
  auto selection = ReadSelection(*o, where);
  if (!selection) return selection.error();

  const std::string doc_source = where + ".openapi";
  const json::value* openapi = o->if_contains("openapi");
  if (!openapi || openapi->is_null())
    return Error(Errc::kInvalidArgument, doc_source + ": is required");
  // Made in place: assigning a json::value would copy it into the heap, out of its arena.
  std::optional<json::value> parsed;
  const json::value* document = openapi;
  if (openapi->is_string()) {
    std::string_view text = openapi->get_string();
    std::string loaded;
    if (!IsDocumentText(text)) {
      if (!loader) {
        return Error(
            Errc::kInvalidArgument,
            doc_source + ": a path is allowed only in a definition file; give the document itself");
      }
      auto file = loader(text);
      if (!file) return Error(Errc::kInvalidArgument, doc_source + ": " + file.error().message());
      loaded = std::move(*file);
      text = loaded;
    }
    auto doc = tools::ParseDocumentText(text, doc_source);
    if (!doc) return doc.error();
    parsed.emplace(std::move(*doc));
    document = &*parsed;
  } else if (!openapi->is_object()) {
    return Error(
        Errc::kInvalidArgument,
        doc_source + ": must be an OpenAPI document (an object, its JSON or YAML text, or a path)");
  }
  auto set = tools::ToolsFromOpenApi(*document, integration_id, *selection, doc_source);
  if (!set) return set.error();
  return std::shared_ptr<const tools::ToolSet>(std::make_shared<tools::ToolSet>(std::move(*set)));
}

Result<bool> InlineToolsDocument(json::object& definition, std::string_view source,
                                 const DefinitionFileLoader& loader) {
  json::value* tools_value = definition.if_contains("tools");
  json::object* o = tools_value ? tools_value->if_object() : nullptr;
  json::value* openapi = o ? o->if_contains("openapi") : nullptr;
  if (!openapi || !openapi->is_string() || IsDocumentText(openapi->get_string())) return false;
  if (!loader) return false;  // the parser names the problem
  auto file = loader(openapi->get_string());
  if (!file) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("{}: tools.openapi: {}", source, file.error().message()));
  }
  *openapi = json::string(*file);
  return true;
}

DefinitionFileLoader DirectoryLoader(std::string dir) {
  return [dir = std::move(dir)](std::string_view relative) -> Result<std::string> {
    namespace fs = std::filesystem;
    fs::path path(relative);
    bool escapes = path.is_absolute() || relative.empty();
    for (const auto& part : path) escapes = escapes || part == "..";
    if (escapes) {
      return Error(
          Errc::kInvalidArgument,
          fmt::format("{}: must be a relative path inside the definition's folder", relative));
    }
    fs::path full = fs::path(dir) / path;
    std::error_code ec;
    auto size = fs::file_size(full, ec);
    if (ec) return Error(Errc::kInvalidArgument, fmt::format("{}: cannot be read", relative));
    if (size > kMaxDocumentFileBytes) {
      return Error(Errc::kInvalidArgument, fmt::format("{}: larger than 64 MiB", relative));
    }
    std::ifstream in(full, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return Error(Errc::kInvalidArgument, fmt::format("{}: cannot be read", relative));
    return text.str();
  };
}

}  // namespace tr
