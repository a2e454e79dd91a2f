// The logical content of a database as rows of named tables, for `toolregistry export` and
// `import` (moving a database between SQLite and PostgreSQL, or backing it up). Both
// stores have the same logical schema; kDumpTables lists it, in an order that satisfies the
// foreign keys when rows are inserted table by table. Sealed values are bytes, copied byte
// for byte: nothing is decrypted.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace tr {

enum class DumpKind { kInt, kText, kBytes };

struct DumpColumn {
  const char* name;
  DumpKind kind;
};

struct DumpTable {
  const char* name;
  std::span<const DumpColumn> columns;
};

// Bytes of a BLOB/BYTEA column, kept apart from text.
struct DumpBytes {
  std::string bytes;
  bool operator==(const DumpBytes&) const = default;
};
// One cell: NULL, an integer, text, or bytes.
using DumpValue = std::variant<std::monostate, int64_t, std::string, DumpBytes>;

struct DumpRow {
  const DumpTable* table;        // one of DumpTables()
  std::vector<DumpValue> values;  // one per column, in the table's column order
};

// Every table, parents before children. Schema changes add columns/tables here too.
std::span<const DumpTable> DumpTables();
// The table named `name`; nullptr when there is none.
const DumpTable* FindDumpTable(std::string_view name);

// SQL for a table, with `?N` (SQLite) or `$N` (PostgreSQL) placeholders.
std::string DumpSelectSql(const DumpTable& table);
std::string DumpInsertSql(const DumpTable& table, char placeholder);
std::string DumpAnyRowSql(const DumpTable& table);  // one row when the table has any

}  // namespace tr
