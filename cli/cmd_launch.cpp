// genforge launch --nproc N -- VERB ...: the ranks of a distributed job on this machine (docs/distributed.md).
#include <cstring>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/error.h"
#include "genforge/core/launch.h"

namespace gf::cli {

int run_launch(int argc, char** argv) {
  CLI::App app("runs a genforge command as N processes of one distributed job on this machine (Gloo over "
               "loopback), with the environment torchrun gives (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, "
               "MASTER_PORT); rank 0 writes the files and prints the results",
               "launch");
  dist::LaunchOptions o;
  bool all_output = false;
  CommonFlags common;
  app.add_option("--nproc", o.nproc, "number of processes (ranks)")->capture_default_str();
  app.add_option("--master-port", o.master_port, "TCP port of rank 0's rendezvous (0: a free one)");
  app.add_option("--grace", o.grace_seconds,
                 "seconds the other ranks get to stop by themselves after one failed, before they are terminated")
      ->capture_default_str();
  app.add_flag("--all-output", all_output, "let every rank write to standard output (default: rank 0 only)");
  app.footer("usage: genforge launch --nproc 2 -- train vae --data fashion-mnist --out vae.gf\n"
             "Each rank gets cores / nproc threads (GENFORGE_THREADS and OMP_NUM_THREADS) unless GENFORGE_THREADS or "
             "OMP_NUM_THREADS is set.");
  add_common_flags(app, common);
  int split = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      split = i;
      break;
    }
  }
  if (!parse_or_help(app, split, argv)) return 0;
  apply_common_flags(common);
  GF_CHECK_AS(InvalidArgument, split + 1 < argc, "e.g. genforge launch --nproc 2 -- train gmm --data t.csv --out m.gf",
              "give the genforge command to run after --");
  GF_CHECK_AS(InvalidArgument, std::strcmp(argv[split + 1], "launch") != 0, "launch the verb itself",
              "a launched command cannot be another launch");
  o.quiet_other_ranks = !all_output;
  std::vector<std::string> command(argv + split + 1, argv + argc);
  return dist::launch(command, o);
}

}  // namespace gf::cli
