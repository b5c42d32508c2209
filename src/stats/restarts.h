// The restart loop of the iterative mixtures (EM for the GMM, variational Bayes for the Bayesian GMM): n_init
// starts, each iterated until its objective changes by less than tol or max_iter is reached, and the run with the
// highest final objective kept (scikit-learn's BaseMixture.fit).
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/model.h"

namespace gf::stats {

template <class State>
struct BestRun {
  State state;                          // the kept run's final state
  int64_t best_init = 0;                // which start it was
  std::vector<double> history;          // its objective per iteration
  int64_t n_iter = 0;
  bool converged = false;
  double objective = std::nan("");      // its final objective
  std::vector<double> init_objectives;  // every start's final objective

  // The kept run as a fit report (converged, n_iter, history, objective, extra.best_init).
  FitReport report() const {
    FitReport r;
    r.converged = converged;
    r.n_iter = n_iter;
    r.history = history;
    r.objective = objective;
    r.extra["best_init"] = best_init;
    return r;
  }
};

// `start(init)` gives the first state of start `init`; `step(state)` runs one iteration on it (in place) and
// returns the objective it computed. `bar` (may be null) counts iterations, labelled with `objective_name`.
template <class State>
BestRun<State> best_of_restarts(int64_t n_init, int64_t max_iter, double tol,
                                const std::function<State(int64_t)>& start,
                                const std::function<double(State&)>& step, Progress* bar,
                                const std::string& objective_name) {
  std::optional<BestRun<State>> best;
  std::vector<double> objectives;
  int64_t done = 0;
  for (int64_t init = 0; init < n_init; ++init) {
    BestRun<State> run{start(init)};
    run.best_init = init;
    double objective = -std::numeric_limits<double>::infinity();
    for (int64_t it = 1; it <= max_iter; ++it) {
      const double prev = objective;
      objective = step(run.state);
      run.history.push_back(objective);
      run.n_iter = it;
      if (bar) bar->update(++done, msg("init ", init + 1, "/", n_init, "  ", objective_name, " ", objective));
      if (std::abs(objective - prev) < tol) {
        run.converged = true;
        break;
      }
    }
    done = (init + 1) * max_iter;
    run.objective = objective;
    objectives.push_back(objective);
    if (!best || objective > best->objective) best = std::move(run);
  }
  if (bar) bar->finish(msg(objective_name, " ", best->objective));
  best->init_objectives = std::move(objectives);
  return std::move(*best);
}

// scikit-learn's warm_start as an update (gf::Updatable): the mixture must be fitted and `more` must have its `d`
// columns; `fit` then runs with `warm_start` set -- from the current parameters, one start -- and the option is put
// back as it was, also when fit throws.
inline FitReport warm_start_update(bool fitted, int64_t d, const std::string& kind, bool& warm_start,
                                   const Dataset& more, const std::function<FitReport()>& fit) {
  GF_CHECK_AS(NotFitted, fitted, "fit the model first (`genforge train " + kind + " ...`)", "this ", kind,
              " model is not fitted yet, so it cannot be updated");
  GF_CHECK_AS(DataError, more.x.defined() && more.x.dim() == 2 && more.x.size(1) == d,
              "give the columns the model was fitted on", "the new data has ",
              more.x.defined() && more.x.dim() == 2 ? more.x.size(1) : 0, " columns, the model was fitted on ", d);
  const bool was = warm_start;
  warm_start = true;
  try {
    FitReport report = fit();
    warm_start = was;
    return report;
  } catch (...) {
    warm_start = was;
    throw;
  }
}

}  // namespace gf::stats
