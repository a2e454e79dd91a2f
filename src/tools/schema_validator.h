// SchemaValidator: a tool's inputSchema compiled once (with valijson, Draft 7 semantics,
// which covers the keywords the OpenAPI reader emits), so that checking a call's arguments
// does not parse the schema again. Immutable after Compile; Check may run on any thread.
//
// What is not enforced, and why: `pattern`, `patternProperties` and `format`. valijson runs
// them through std::regex, whose backtracking recursion overflows the stack on long strings
// (an agent's 200 KB argument would end the process); the upstream checks its own patterns.
// A schema that had patternProperties also loses its additionalProperties in the compiled
// copy, so that nothing valid is refused. The published inputSchema keeps them all.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.h"
#include "tools/tool.h"

namespace valijson {
class Schema;
}

namespace tr::tools {

class SchemaValidator {
 public:
  // The compiled schema; kInvalidArgument with valijson's reason when it cannot compile it.
  static Result<std::shared_ptr<const SchemaValidator>> Compile(const boost::json::object& schema);
  ~SchemaValidator();

  // One message per problem ("body.title: required", "count: Value type not permitted by
  // 'type' constraint."); empty when `value` satisfies the schema.
  std::vector<std::string> Check(const boost::json::value& value) const;

 private:
  SchemaValidator();
  std::unique_ptr<valijson::Schema> schema_;
};

// Sets tool.validator from tool.input_schema, for tools made by hand (the OpenAPI reader sets
// it for the tools it makes). kInvalidArgument when the schema cannot compile.
Status CompileValidator(Tool& tool);

}  // namespace tr::tools
