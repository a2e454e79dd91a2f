// How admin commands print: one JSON object on stdout with --json, else readable lines.
// Errors: one line on stderr.
#pragma once

#include <string_view>

#include <boost/json/object.hpp>

namespace tr::cli {

void PrintResult(const boost::json::object& result, bool json);
void PrintError(std::string_view message);

}  // namespace tr::cli
