// The command line of the one binary: `serve` and the admin commands (CONTRACT section 6).
#pragma once

namespace tr::cli {

// Parses the arguments, runs the command; the process exit code (0 success, 1 a failed
// command, 2 a usage error).
int Main(int argc, char** argv);

}  // namespace tr::cli
