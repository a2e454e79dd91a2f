// SchemaValidator: a tool's inputSchema compiled once (with valijson, Draft 7 semantics,
// which covers the keywords the OpenAPI reader emits), so that checking a call's arguments
// does not parse the schema again. The OpenAPI reader makes Deferred ones, compiled on their
// first Check: a document of thousands of operations imports without compiling schemas that
// may never be called. Check may run on any thread.
//
// What is not enforced, and why: `pattern`, `patternProperties` and `format`. valijson runs
// them through std::regex, whose backtracking recursion overflows the stack on long strings
// (an agent's 200 KB argument would end the process); the upstream checks its own patterns.
// A schema that had patternProperties also loses its additionalProperties in the compiled
// copy, so that nothing valid is refused. The published inputSchema keeps them all.
#pragma once

#include <memory>
#include <mutex>
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
  // A validator that compiles the schema Check is first given.
  static std::shared_ptr<const SchemaValidator> Deferred();
  ~SchemaValidator();

  // One message per problem ("body.title: required", "count: Value type not permitted by
  // 'type' constraint."); empty when `value` satisfies the schema. `schema` is the tool's
  // input_schema: the one this validator was compiled from, or is compiled from now.
  std::vector<std::string> Check(const boost::json::object& schema,
                                 const boost::json::value& value) const;

 private:
  SchemaValidator();
  // Compiles `schema` into schema_; "" or the reason it cannot. Runs once (once_).
  std::string CompileFrom(const boost::json::object& schema) const;

  mutable std::once_flag once_;
  mutable std::unique_ptr<valijson::Schema> schema_;  // set by CompileFrom
  mutable std::string problem_;                       // set by CompileFrom when it failed
};

// Sets tool.validator from tool.input_schema, compiled now, for tools made by hand (the
// OpenAPI reader sets a Deferred one). kInvalidArgument when the schema cannot compile.
Status CompileValidator(Tool& tool);

}  // namespace tr::tools
