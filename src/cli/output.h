// How admin commands print: one JSON object on stdout with --json, else readable lines.
// Errors: one line on stderr.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace tr::cli {

void PrintResult(const boost::json::object& result, bool json);

// Prints one result field by field, as PrintResult prints the whole object, for results too
// large to build first (an imported OpenAPI document's tools). One per command; the calls
// are Field or a BeginList, Items, EndList, any number of times, then End.
class ResultPrinter {
 public:
  explicit ResultPrinter(bool json) : json_(json) {}
  void Field(std::string_view key, const boost::json::value& value);
  // A field whose value is already JSON text, printed as it is.
  void JsonField(std::string_view key, std::string_view json_text);
  // A list of objects, its items printed as they come.
  void BeginList(std::string_view key);
  void Item(const boost::json::value& item);
  void EndList();
  void End();

 private:
  void Key(std::string_view key);  // JSON: the separator and "key":

  const bool json_;
  bool first_field_ = true;
  bool first_item_ = true;
  std::string list_key_;
};
void PrintError(std::string_view message);

}  // namespace tr::cli
