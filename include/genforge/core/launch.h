// `genforge launch --nproc N -- VERB ...`: starts N copies of a command on this machine as the ranks of one job,
// with the environment torchrun would give them, and returns when they are all done (docs/distributed.md).
#pragma once
#include <string>
#include <vector>

namespace gf::dist {

struct LaunchOptions {
  int nproc = 2;
  int master_port = 0;             // 0: a free port
  std::string master_addr = "127.0.0.1";
  // Seconds the others get to stop on their own after one rank failed, before they are terminated.
  double grace_seconds = 30;
  bool quiet_other_ranks = true;   // ranks other than 0 write no standard output (their errors still show)
  std::string program = "/proc/self/exe";
};

// Runs `arguments` (argv[1...] of `program`) as options.nproc ranks. Returns 0 when every rank succeeded, else the
// exit status of the first rank that failed (128 + signal for a rank killed by a signal). SIGINT and SIGTERM
// received meanwhile are passed on to every rank (each saves a checkpoint and stops).
int launch(const std::vector<std::string>& arguments, const LaunchOptions& options);

}  // namespace gf::dist
