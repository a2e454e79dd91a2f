// SchemaConverter: OpenAPI Schema Objects (3.0 or 3.1) of one document -> self-contained JSON
// Schema 2020-12, as a tool's inputSchema needs them (CONTRACT section 10):
// - local $refs ("#/components/schemas/Pet") are inlined; one that refers back to a schema it
//   is already inside is cut off with the permissive schema {};
// - allOf / oneOf / anyOf / not are kept as they are in JSON Schema;
// - 3.0 `nullable: true` becomes "null" in the type array (or an anyOf with {"type":"null"}),
//   3.0 boolean exclusiveMinimum / exclusiveMaximum the 2020-12 numbers, an array `items` a
//   prefixItems, `type: file` a string;
// - OpenAPI-only and malformed keywords are dropped, so that the result always satisfies the
//   2020-12 meta-schema (discriminator, xml, example, externalDocs, x-*).
// Limits keep hostile documents bounded: nesting deeper than kMaxSchemaDepth and everything
// past a budget of values per tool is cut off with {}; non-local $refs become {} with a warning.
// One converter per document and thread; it refers to the document, which must outlive it.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace tr::tools {

// Schema nesting a tool keeps; deeper schemas are cut off with {}.
inline constexpr int kMaxSchemaDepth = 32;
// Values one tool's inputSchema may hold before further $refs are cut off with {}: enough
// for rich bodies, small enough that a 10 MB document's tools stay within memory (and a
// model's context).
inline constexpr size_t kMaxToolSchemaValues = 4000;
// Values all the tools of one document may hold together (about 80 MB): a hostile document
// of many operations that each inline a large schema stays within memory.
inline constexpr size_t kMaxDocumentSchemaValues = 1'000'000;

class SchemaConverter {
 public:
  SchemaConverter(const boost::json::value& document, bool openapi_30)
      : document_(document), openapi_30_(openapi_30) {}

  // Where Convert() makes its values from now on (the default: the heap). A reader whose
  // tools live only as long as one call gives an arena here and frees it whole afterwards.
  void UseStorage(boost::json::storage_ptr storage) { sp_ = std::move(storage); }
  const boost::json::storage_ptr& storage() const { return sp_; }

  // Starts the value budget of one tool.
  void StartTool() {
    document_budget_ -= std::min(document_budget_, tool_budget_ - budget_);
    budget_ = tool_budget_ = std::min(kMaxToolSchemaValues, document_budget_);
  }

  // `schema` converted as the header describes.
  boost::json::value Convert(const boost::json::value& schema);

  // For objects that are not schemas (parameters, request bodies): follows $refs to the
  // object they name; null when a ref is not local, does not resolve, or loops.
  const boost::json::value* Follow(const boost::json::value& maybe_ref) const;

  // What was cut or left out, one line each (at most a few dozen kept).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  boost::json::value ConvertAt(const boost::json::value& schema, int depth);
  boost::json::value ConvertObject(const boost::json::object& schema, int depth);
  boost::json::value ConvertRef(const boost::json::object& schema, std::string_view ref, int depth);
  // {keyword: [first, second]}, made where Convert() makes its values.
  boost::json::value Joined(std::string_view keyword, boost::json::value first,
                            boost::json::value second);
  const boost::json::value* Lookup(std::string_view ref) const;
  void Warn(std::string message);

  const boost::json::value& document_;
  const bool openapi_30_;
  boost::json::storage_ptr sp_;
  size_t budget_ = kMaxToolSchemaValues;               // what the current tool may still add
  size_t tool_budget_ = kMaxToolSchemaValues;          // what it started with
  size_t document_budget_ = kMaxDocumentSchemaValues;  // what was left before it
  std::vector<std::string> expanding_;                 // the $refs being inlined, outermost first
  std::vector<std::string> warnings_;
};

// `text` cut to at most `max_bytes` without splitting a UTF-8 sequence.
std::string CutUtf8(std::string_view text, size_t max_bytes);

}  // namespace tr::tools
