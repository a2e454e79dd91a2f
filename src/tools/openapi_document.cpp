#include "tools/openapi_document.h"

#include <cmath>
#include <exception>
#include <string>

#include <yaml-cpp/yaml.h>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

namespace tr::tools {

namespace json = boost::json;

namespace {

// YAML aliases can make a small text into an exponentially large tree ("billion laughs");
// the conversion stops after this many values. 10 MB of JSON holds about 2 million.
constexpr size_t kMaxYamlValues = 8'000'000;

struct YamlLimits {
  size_t values = 0;
};

bool IsPlain(const YAML::Node& node) { return node.Tag() == "?"; }

// A plain scalar as the YAML 1.2 core schema reads it.
json::value Scalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  const char first = text.front();
  if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') {
    if (text == ".inf" || text == "+.inf" || text == ".Inf") {
      return json::string(text);  // no JSON form
    }
    // Integers in decimal (JSON's spelling), else a number as JSON would parse it.
    json::error_code ec;
    std::string_view digits = text;
    if (first == '+') digits.remove_prefix(1);
    json::value number = json::parse(digits, ec);
    if (!ec && number.is_number()) return number;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o')) {
      try {
        size_t used = 0;
        long long v = std::stoll(text.substr(2), &used, text[1] == 'x' ? 16 : 8);
        if (used == text.size() - 2) return v;
      } catch (const std::exception&) {
      }
    }
  }
  return json::string(text);
}

Result<json::value> Convert(const YAML::Node& node, int depth, YamlLimits& limits,
                            std::string_view source) {
  if (depth > kMaxDocumentDepth) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": nested too deeply");
  }
  if (++limits.values > kMaxYamlValues) {
    return Error(Errc::kInvalidArgument,
                 std::string(source) + ": YAML aliases expand past the size limit");
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json::value(nullptr);
    case YAML::NodeType::Scalar:
      return IsPlain(node) ? Scalar(node.Scalar()) : json::value(json::string(node.Scalar()));
    case YAML::NodeType::Sequence: {
      json::array out;
      out.reserve(node.size());
      for (const auto& item : node) {
        auto v = Convert(item, depth + 1, limits, source);
        if (!v) return v;
        out.push_back(std::move(*v));
      }
      return json::value(std::move(out));
    }
    case YAML::NodeType::Map: {
      json::object out;
      out.reserve(node.size());
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return Error(Errc::kInvalidArgument,
                       std::string(source) + ": YAML: a mapping key is not a scalar");
        }
        auto v = Convert(entry.second, depth + 1, limits, source);
        if (!v) return v;
        out[entry.first.Scalar()] = std::move(*v);
      }
      return json::value(std::move(out));
    }
  }
  return json::value(nullptr);
}

}  // namespace

Result<json::value> ParseDocumentText(std::string_view text, std::string_view source) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && text[start] == '{') {
    json::parse_options options;
    options.max_depth = kMaxDocumentDepth;
    json::error_code ec;
    // One arena for the document: parsed fast, freed at once. Tools copy what they keep.
    json::value doc =
        json::parse(text, ec, json::make_shared_resource<json::monotonic_resource>(), options);
    if (ec) {
      return Error(Errc::kInvalidArgument,
                   std::string(source) + ": not valid JSON (" + ec.message() + ")");
    }
    return doc;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": not valid YAML (line " +
                                             std::to_string(e.mark.line + 1) + ": " + e.msg + ")");
  } catch (const std::exception&) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": not valid YAML");
  }
  YamlLimits limits;
  try {
    return Convert(root, 0, limits, source);
  } catch (const std::exception&) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": not valid YAML");
  }
}

}  // namespace tr::tools
