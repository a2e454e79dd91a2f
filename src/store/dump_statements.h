// The SQL of export/import for the stores (store/dump.h): per table, its rows, an insert of one
// row, and a query that returns a row when the table has any.
#pragma once

#include <string>
#include <vector>

namespace tr {

struct DumpStatements {
  std::string select, insert, any_row;
};

// One per table of DumpTables(), same order, with `?N` (placeholder '?', SQLite) or `$N` ('$',
// PostgreSQL) placeholders. Built once: the strings have static storage, as the stores'
// statement caches (keyed by address) need.
const std::vector<DumpStatements>& DumpStatementsFor(char placeholder);

}  // namespace tr
