// PgStore: export and import of every table (store/dump.h).
#include "store/dump_statements.h"
#include "store/pg_store.h"

namespace tr {

namespace {

const std::vector<DumpStatements>& Statements() { return DumpStatementsFor('$'); }

constexpr char kBeginSnapshot[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
constexpr char kCommit[] = "COMMIT";

}  // namespace

Status PgStore::ExportRows(const std::function<void(const DumpRow&)>& sink) {
  auto done = Read<bool>([&](PgConn& db) {
    db.Run(kBeginSnapshot);  // one snapshot for every table
    const auto tables = DumpTables();
    for (size_t t = 0; t < tables.size(); ++t) {
      PgResult r = db.Run(Statements()[t].select.c_str());
      for (int i = 0; i < r.Rows(); ++i) {
        DumpRow row{&tables[t], {}};
        for (size_t c = 0; c < tables[t].columns.size(); ++c) {
          int column = static_cast<int>(c);
          if (r.IsNull(i, column)) {
            row.values.emplace_back(std::monostate{});
            continue;
          }
          switch (tables[t].columns[c].kind) {
            case DumpKind::kInt:
              row.values.emplace_back(r.Int(i, column));
              break;
            case DumpKind::kText:
              row.values.emplace_back(r.Text(i, column));
              break;
            case DumpKind::kBytes:
              row.values.emplace_back(DumpBytes{r.Bytes(i, column)});
              break;
          }
        }
        sink(row);
      }
    }
    db.Run(kCommit);
    return true;
  });
  if (!done) return done.error();
  return Ok{};
}

Status PgStore::ImportRows(const std::vector<DumpRow>& rows) {
  return TransactConfig([&](PgConn& db) -> Status {
    const auto tables = DumpTables();
    for (size_t t = 0; t < tables.size(); ++t) {
      if (db.Run(Statements()[t].any_row.c_str()).Rows() > 0) {
        return Error(Errc::kConflict, "The database is not empty");
      }
    }
    for (const DumpRow& row : rows) {
      size_t t = static_cast<size_t>(row.table - tables.data());
      PgParams params;
      for (const DumpValue& value : row.values) {
        if (const auto* i = std::get_if<int64_t>(&value)) {
          params.Add(*i);
        } else if (const auto* text = std::get_if<std::string>(&value)) {
          params.Add(*text);
        } else if (const auto* bytes = std::get_if<DumpBytes>(&value)) {
          params.AddBytes(bytes->bytes);
        } else {
          params.AddNull();
        }
      }
      db.Run(Statements()[t].insert.c_str(), params);
    }
    return Ok{};
  });
}

}  // namespace tr
