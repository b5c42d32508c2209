#include "commands.h"

int main(int argc, char** argv) { return gf::cli::main_entry(argc, argv); }
