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

// `value` as JSON on stdout, in pieces: an imported OpenAPI document is tens of megabytes.
void WriteJson(const json::value& value) {
  json::serializer serializer;
  serializer.reset(&value);
  char buffer[64 * 1024];
  while (!serializer.done()) std::cout << serializer.read(buffer);
}

}  // namespace

void ResultPrinter::Key(std::string_view key) {
  std::cout << (first_field_ ? "{" : ",") << json::serialize(json::string_view(key)) << ":";
  first_field_ = false;
}

void ResultPrinter::Field(std::string_view key, const json::value& value) {
  if (json_) {
    Key(key);
    WriteJson(value);
  } else if (value.is_array()) {
    std::string joined;
    for (const auto& item : value.get_array()) joined += (joined.empty() ? "" : ", ") + Scalar(item);
    std::cout << key << ": " << (joined.empty() ? "(none)" : joined) << "\n";
  } else {
    std::cout << key << ": " << Scalar(value) << "\n";
  }
}

void ResultPrinter::JsonField(std::string_view key, std::string_view json_text) {
  if (json_) {
    Key(key);
    std::cout << json_text;
  } else {
    std::cout << key << ": " << json_text << "\n";
  }
}

void ResultPrinter::BeginList(std::string_view key) {
  if (json_) {
    Key(key);
    std::cout << "[";
  }
  list_key_ = key;
  first_item_ = true;
}

void ResultPrinter::Item(const json::value& item) {
  if (json_) {
    if (!first_item_) std::cout << ",";
    WriteJson(item);
  } else {
    if (first_item_) std::cout << list_key_ << ":" << "\n";
    std::cout << "  " << Line(item.get_object()) << "\n";
  }
  first_item_ = false;
}

void ResultPrinter::EndList() {
  if (json_) {
    std::cout << "]";
  } else if (first_item_) {
    std::cout << list_key_ << ": (none)" << "\n";
  }
}

void ResultPrinter::End() {
  if (json_) {
    if (first_field_) std::cout << "{";
    std::cout << "}" << std::endl;
  } else {
    std::cout.flush();
  }
}

void PrintResult(const json::object& result, bool as_json) {
  ResultPrinter printer(as_json);
  for (const auto& [key, value] : result) {
    if (value.is_array() && !value.get_array().empty() && value.get_array()[0].is_object()) {
      printer.BeginList(key);
      for (const auto& item : value.get_array()) printer.Item(item);
      printer.EndList();
    } else {
      printer.Field(key, value);
    }
  }
  printer.End();
}

void PrintError(std::string_view message) { std::cerr << "toolregistry: error: " << message << std::endl; }

}  // namespace tr::cli
