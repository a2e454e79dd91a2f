#include "cli/output.h"

#include <iostream>
#include <string>

#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

namespace tr::cli {

namespace json = boost::json;

namespace {

std::string Scalar(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return json::serialize(v);
}

// One line per item: "key=value key=value ...".
std::string Line(const json::object& o) {
  std::string line;
  for (const auto& [key, value] : o) {
    if (!line.empty()) line += "  ";
    line += std::string(key) + "=";
    if (value.is_array()) {
      std::string joined;
      for (const auto& item : value.get_array()) joined += (joined.empty() ? "" : ",") + Scalar(item);
      line += joined;
    } else {
      line += Scalar(value);
    }
  }
  return line;
}

}  // namespace

void PrintResult(const json::object& result, bool as_json) {
  if (as_json) {
    // In pieces: an imported OpenAPI document's output is tens of megabytes.
    json::serializer serializer;
    serializer.reset(&result);
    char buffer[64 * 1024];
    while (!serializer.done()) std::cout << serializer.read(buffer);
    std::cout << std::endl;
    return;
  }
  for (const auto& [key, value] : result) {
    if (value.is_array() && !value.get_array().empty() && value.get_array()[0].is_object()) {
      std::cout << key << ":" << "\n";
      for (const auto& item : value.get_array()) std::cout << "  " << Line(item.get_object()) << "\n";
    } else if (value.is_array()) {
      std::string joined;
      for (const auto& item : value.get_array()) joined += (joined.empty() ? "" : ", ") + Scalar(item);
      std::cout << key << ": " << (joined.empty() ? "(none)" : joined) << "\n";
    } else {
      std::cout << key << ": " << Scalar(value) << "\n";
    }
  }
  std::cout.flush();
}

void PrintError(std::string_view message) { std::cerr << "toolregistry: error: " << message << std::endl; }

}  // namespace tr::cli
