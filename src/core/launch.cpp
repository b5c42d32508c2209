#include "genforge/core/launch.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "genforge/core/error.h"
#include "genforge/core/log.h"

extern char** environ;

namespace gf::dist {
namespace {

std::atomic<int> g_forward_signal{0};
extern "C" void remember_signal(int sig) { g_forward_signal.store(sig); }

// A port nobody listens on now (the kernel's choice for port 0); rank 0's store binds it moments later.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  GF_CHECK_AS(DistributedError, fd >= 0, "", "cannot open a socket to find a free port: ", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  GF_CHECK_AS(DistributedError, ok, "give --master-port", "cannot find a free TCP port on 127.0.0.1");
  return ntohs(addr.sin_port);
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int launch(const std::vector<std::string>& arguments, const LaunchOptions& o) {
  GF_CHECK_AS(InvalidArgument, o.nproc >= 1 && o.nproc <= 1024, "e.g. --nproc 2", "--nproc must be 1 to 1024, got ",
              o.nproc);
  GF_CHECK_AS(InvalidArgument, !arguments.empty(), "e.g. genforge launch --nproc 2 -- train vae --data fashion-mnist",
              "give the command to run after --");
  GF_CHECK_AS(InvalidArgument, o.master_port >= 0 && o.master_port <= 65535, "a TCP port is 1 to 65535",
              "--master-port ", o.master_port, " is not a port number");
  const int port = o.master_port > 0 ? o.master_port : free_port();
  // Threads per rank: the cores shared out (as torchrun advises), unless the user set GENFORGE_THREADS or
  // OMP_NUM_THREADS (genforge reads the first; BLAS and OpenMP the second: both are set).
  const char* user_threads = std::getenv("GENFORGE_THREADS");
  if (user_threads == nullptr || *user_threads == '\0') user_threads = std::getenv("OMP_NUM_THREADS");
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string threads = user_threads != nullptr && *user_threads != '\0'
                                  ? std::string(user_threads)
                                  : std::to_string(std::max(1u, cores / static_cast<unsigned>(o.nproc)));

  std::vector<std::string> env_base;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (key == "RANK" || key == "WORLD_SIZE" || key == "LOCAL_RANK" || key == "LOCAL_WORLD_SIZE" ||
        key == "MASTER_ADDR" || key == "MASTER_PORT" || key == "OMP_NUM_THREADS" || key == "GENFORGE_THREADS") {
      continue;
    }
    env_base.push_back(kv);
  }
  struct sigaction forward{}, old_int{}, old_term{};
  forward.sa_handler = remember_signal;
  sigemptyset(&forward.sa_mask);
  g_forward_signal.store(0);
  sigaction(SIGINT, &forward, &old_int);
  sigaction(SIGTERM, &forward, &old_term);

  std::vector<pid_t> pids;
  for (int rank = 0; rank < o.nproc; ++rank) {
    std::vector<std::string> env = env_base;
    env.push_back("RANK=" + std::to_string(rank));
    env.push_back("LOCAL_RANK=" + std::to_string(rank));
    env.push_back("WORLD_SIZE=" + std::to_string(o.nproc));
    env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(o.nproc));
    env.push_back("MASTER_ADDR=" + o.master_addr);
    env.push_back("MASTER_PORT=" + std::to_string(port));
    env.push_back("OMP_NUM_THREADS=" + threads);
    env.push_back("GENFORGE_THREADS=" + threads);
    std::vector<char*> argv{const_cast<char*>(o.program.c_str())}, envp;
    for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (pid_t p : pids) ::kill(p, SIGKILL);
      throw DistributedError(msg("cannot start rank ", rank, ": ", std::strerror(errno)), "");
    }
    if (pid == 0) {
      sigaction(SIGINT, &old_int, nullptr);
      sigaction(SIGTERM, &old_term, nullptr);
      if (rank != 0 && o.quiet_other_ranks) {
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) ::dup2(null, STDOUT_FILENO);
      }
      ::execve(o.program.c_str(), argv.data(), envp.data());
      std::fprintf(stderr, "error: cannot run '%s': %s\n", o.program.c_str(), std::strerror(errno));
      ::_exit(127);
    }
    pids.push_back(pid);
  }

  // Wait for every rank; after the first failure the others get grace_seconds to stop by themselves (a peer's
  // death fails their next collective), then SIGTERM (they checkpoint), then SIGKILL.
  int first_failure = 0, running = o.nproc, forwarded = 0;
  std::vector<bool> done(pids.size(), false);
  std::chrono::steady_clock::time_point failed_at{}, terminated_at{};
  bool terminated = false, killed = false;
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (size_t r = 0; r < pids.size(); ++r) {
        if (pids[r] != pid || done[r]) continue;
        done[r] = true;
        --running;
        const int code = status_code(status);
        if (code != 0 && first_failure == 0) {
          first_failure = code;
          failed_at = std::chrono::steady_clock::now();
          if (running > 0) log::warn(msg("launch: rank ", r, " exited with status ", code, "; stopping the others"));
        }
      }
      continue;
    }
    const int sig = g_forward_signal.exchange(0);
    if (sig != 0) {
      ++forwarded;
      for (size_t r = 0; r < pids.size(); ++r) {
        if (!done[r]) ::kill(pids[r], forwarded > 1 ? SIGKILL : sig);
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (first_failure != 0 && !terminated &&
        std::chrono::duration<double>(now - failed_at).count() > o.grace_seconds) {
      for (size_t r = 0; r < pids.size(); ++r) {
        if (!done[r]) ::kill(pids[r], SIGTERM);
      }
      terminated = true;
      terminated_at = now;
    }
    if (terminated && !killed && std::chrono::duration<double>(now - terminated_at).count() > 10) {
      for (size_t r = 0; r < pids.size(); ++r) {
        if (!done[r]) ::kill(pids[r], SIGKILL);
      }
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return first_failure;
}

}  // namespace gf::dist
