// toolregistry: the server and its admin tool in one binary. See README.md.
#include "cli/cli.h"

int main(int argc, char** argv) { return tr::cli::Main(argc, argv); }
