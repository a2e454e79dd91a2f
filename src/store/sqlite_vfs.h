// Our SQLite VFS, over SQLite's default ("unix"). It does two things:
// - it serves the reader connections' page reads from one read-only mapping of the database
//   file, shared by every connection of the process that opens the file through it;
// - it writes the WAL frames of a commit with one pwrite, where SQLite makes two per frame
//   (its header, then its page). The writer connection opens the database through it.
//
// The WAL writes: SQLite appends a commit's frames one after the other and, after the
// last one, publishes the commit in the WAL index. This VFS keeps a WAL file's writes while
// each one appends to the last, and writes them all when the page of a frame whose header
// marks the end of a transaction arrives (or 1 MiB has gathered, or anything else is asked
// of the file: a read, a sync, its size, a truncation; a frame header rewritten right after
// it was read, as SQLite does for checksums after a spill, goes out at once). So the commit
// is in the file before SQLite publishes it, and a failed write fails the commit, as before.
// The held bytes are written in parts of at most 120 KiB: the unix VFS writes at most
// 128 KiB - 1 per call.
// Under (c) of docs/performance.md that was 2.6 pwrite calls per request; it is one per
// group commit.
//
// The mapping:
//
// Why: a point read in a large database (scenario (b) of docs/performance.md) misses the
// reader's page cache and costs a pread() system call, which on a virtual machine is most of
// the difference between 1,000 and 1,000,000 users. SQLite's own memory mapping avoids it,
// but maps the file once per connection, and the kernel counts a page again in every
// mapping that touched it: with five readers, the process's RSS was over three times the
// file. Here the file is mapped once per process, so its pages count once.
//
// How: every call goes to SQLite's default VFS ("unix"), except xFetch and xUnfetch of a
// main database file. xFetch hands out a pointer into the shared mapping when the page lies
// within the file's size as last seen, or nullptr (SQLite then reads the page as usual).
// SQLite calls xUnfetch(0, nullptr) whenever the database changed since the connection last
// read, and the size is looked at again then, so pages a checkpoint appended are soon served
// from the mapping too. Pages that are in the WAL are read from the WAL by SQLite itself; the
// mapping serves only what the database file holds, as SQLite's own mapping does. Why a
// page handed out is always inside the file: SQLite asks for a page only when the
// connection's snapshot holds it and no WAL frame of that snapshot does, and a checkpoint
// truncates the file (after a VACUUM) only once no reader's snapshot holds the pages cut
// off. Writes never go through the mapping: it is read-only, and the writer connection sets
// no mmap_size.
//
// The descriptor to map is read from the unix VFS's file structure (checked against the
// file's name first; nothing is mapped when they differ). The mapping reserves 16 GiB of
// address space (not memory), so that the file grows into it: the process's VIRT shows it.
// Used with `PRAGMA mmap_size` > 0 on the connection, which makes SQLite ask for pages
// through xFetch.
#pragma once

#include <optional>
#include <string>

namespace tr {

// Registers the VFS once (not as the default); its name, for sqlite3_open_v2. nullptr when
// SQLite's default VFS is not "unix" (the only one this VFS knows how to wrap).
const char* TrVfs();

// The start-up check of what this VFS relies on beyond SQLite's documented interface: the
// head of the unix VFS's file structure (the descriptor it maps; UnixFileHead). Opens the
// database at `path` through the VFS and checks that the descriptor read from the file
// structure is the file's own, as Attach does at every open. nullopt when the VFS can be
// used; else why not, for the log line of the fall-back to plain SQLite (SqliteStore::Io).
// A file that cannot be opened at all is not the VFS's fault: nullopt, and the store's own
// open reports it.
std::optional<std::string> CheckTrVfs(const std::string& path);

}  // namespace tr
