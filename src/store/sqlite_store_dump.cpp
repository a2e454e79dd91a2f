// SqliteStore: export and import of every table (store/dump.h).
#include "store/dump_statements.h"
#include "store/sqlite_store.h"

namespace tr {

namespace {

const std::vector<DumpStatements>& Statements() { return DumpStatementsFor('?'); }

}  // namespace

Status SqliteStore::ExportRows(const std::function<void(const DumpRow&)>& sink) {
  // One Read: one snapshot for every table.
  auto done = Read<bool>([&](SqliteDb& db) {
    const auto tables = DumpTables();
    for (size_t t = 0; t < tables.size(); ++t) {
      auto s = db.Prepare(Statements()[t].select.c_str());
      while (s->Step()) {
        DumpRow row{&tables[t], {}};
        for (size_t c = 0; c < tables[t].columns.size(); ++c) {
          int column = static_cast<int>(c);
          if (s->IsNull(column)) {
            row.values.emplace_back(std::monostate{});
            continue;
          }
          switch (tables[t].columns[c].kind) {
            case DumpKind::kInt:
              row.values.emplace_back(s->Int(column));
              break;
            case DumpKind::kText:
              row.values.emplace_back(s->Text(column));
              break;
            case DumpKind::kBytes:
              row.values.emplace_back(DumpBytes{s->Blob(column)});
              break;
          }
        }
        sink(row);
      }
    }
    return true;
  });
  if (!done) return done.error();
  return Ok{};
}

Status SqliteStore::ImportRows(const std::vector<DumpRow>& rows) {
  return Write([&](SqliteDb& db) -> Status {
    const auto tables = DumpTables();
    for (size_t t = 0; t < tables.size(); ++t) {
      if (db.Prepare(Statements()[t].any_row.c_str())->Step()) {
        return Error(Errc::kConflict, "The database is not empty");
      }
    }
    for (const DumpRow& row : rows) {
      size_t t = static_cast<size_t>(row.table - tables.data());
      auto s = db.Prepare(Statements()[t].insert.c_str());
      for (size_t c = 0; c < row.values.size(); ++c) {
        int index = static_cast<int>(c) + 1;
        const DumpValue& value = row.values[c];
        if (const auto* i = std::get_if<int64_t>(&value)) {
          s->Bind(index, *i);
        } else if (const auto* text = std::get_if<std::string>(&value)) {
          s->Bind(index, *text);
        } else if (const auto* bytes = std::get_if<DumpBytes>(&value)) {
          s->BindBlob(index, bytes->bytes);
        } else {
          s->BindNull(index);
        }
      }
      s->Run();
    }
    return Ok{};
  });
}

}  // namespace tr
