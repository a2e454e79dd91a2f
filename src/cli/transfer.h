// `toolregistry export` and `import`: a whole database as a file of JSON lines, to move it
// between SQLite and PostgreSQL (either way) or to keep a backend-neutral backup.
//
// The file: a first line {"format": "toolregistry-export", "version": 1}, then one line per
// row, {"table": NAME, "row": [values in the column order of store/dump.h]}, bytes (sealed
// values, still encrypted) as {"base64": …}. Read it with the same master key(s) as the
// source database. Called by cli.cpp on the command's thread.
#pragma once

#include <string>

#include "cli/admin_commands.h"
#include "store/store.h"

namespace tr::cli {

// Writes every row of `store` to `file` (created mode 0600, replaced if it exists).
// {"rows": N, "file": FILE}.
CommandResult ExportDatabase(Store& store, const std::string& file);
// Loads `file` into `store` in one transaction (the rows are read into memory first);
// refused (nothing written) when the database is not empty or the file is not an export.
// {"rows": N}.
CommandResult ImportDatabase(Store& store, const std::string& file);

}  // namespace tr::cli
