#include "train/Schedule.h"

#include <algorithm>
#include <cmath>

namespace exprt {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Cosine interpolation from `from` (pct = 0) to `to` (pct = 1).
double cosineBetween(double from, double to, double pct) {
  return to + (from - to) * 0.5 * (1 + std::cos(kPi * pct));
}

class Constant final : public Schedule {
public:
  explicit Constant(double lr) : lr_(lr) {}
  double lr(int64_t) const override { return lr_; }

private:
  double lr_;
};

// Linear warm-up from lr/W to lr over W steps, then cosine decay to `min_lr`
// over the remaining steps, or over each `restart_every` steps (SGDR without
// period growth).
class WarmupCosine final : public Schedule {
public:
  WarmupCosine(double base, double minLr, int64_t warmup, int64_t restartEvery, int64_t total)
      : base_(base), min_(minLr), warmup_(warmup), restart_(restartEvery), total_(total) {}
  double lr(int64_t step) const override {
    if (step < warmup_)
      return base_ * double(step + 1) / double(warmup_);
    int64_t t = step - warmup_;
    int64_t period = restart_ > 0 ? restart_ : std::max<int64_t>(1, total_ - warmup_);
    if (restart_ > 0)
      t %= restart_;
    return cosineBetween(base_, min_, std::min(1.0, double(t) / double(period)));
  }

private:
  double base_, min_;
  int64_t warmup_, restart_, total_;
};

// PyTorch's OneCycleLR (two phases, cosine annealing, no momentum cycling):
// from max_lr/25 up to max_lr over pct_start of the steps, then down to
// max_lr/25/1e4.
class OneCycle final : public Schedule {
public:
  OneCycle(double maxLr, double pctStart, int64_t total)
      : max_(maxLr), initial_(maxLr / 25), final_(maxLr / 25 / 1e4),
        upEnd_(pctStart * double(total) - 1), end_(double(total) - 1) {}
  double lr(int64_t step) const override {
    double s = double(step);
    if (s <= upEnd_)
      return cosineBetween(initial_, max_, upEnd_ > 0 ? s / upEnd_ : 1.0);
    double span = end_ - upEnd_;
    return cosineBetween(max_, final_, span > 0 ? std::min(1.0, (s - upEnd_) / span) : 1.0);
  }

private:
  double max_, initial_, final_, upEnd_, end_;
};

// PyTorch's ReduceLROnPlateau (mode min, relative threshold 1e-4, no
// cooldown) over the training loss of each optimiser step.
class ReduceOnPlateau final : public Schedule {
public:
  ReduceOnPlateau(double base, int64_t patience, double factor, double minLr)
      : lr_(base), patience_(patience), factor_(factor), min_(minLr) {}
  double lr(int64_t) const override { return lr_; }
  void observe(double loss) override {
    if (loss < best_ * (1 - kThreshold)) {
      best_ = loss;
      bad_ = 0;
    } else if (++bad_ > patience_) {
      lr_ = std::max(lr_ * factor_, min_);
      bad_ = 0;
    }
  }
  nlohmann::json state() const override {
    return {{"lr", lr_}, {"best", std::isfinite(best_) ? nlohmann::json(best_) : nullptr},
            {"bad_steps", bad_}};
  }
  Status restore(const nlohmann::json &s) override {
    if (!s.is_object() || !s.contains("lr") || !s["lr"].is_number() || !s.contains("bad_steps") ||
        !s["bad_steps"].is_number_integer() || !s.contains("best"))
      return Status::error(ErrorKind::CheckpointInvalid, "the reduce_on_plateau state needs `lr`, `best` and `bad_steps`");
    lr_ = s["lr"].get<double>();
    best_ = s["best"].is_number() ? s["best"].get<double>() : HUGE_VAL;
    bad_ = s["bad_steps"].get<int64_t>();
    return Status::ok();
  }

private:
  static constexpr double kThreshold = 1e-4;
  double lr_;
  int64_t patience_;
  double factor_, min_;
  double best_ = HUGE_VAL;
  int64_t bad_ = 0;
};

} // namespace

Status Schedule::create(const TrainSpec &spec, double baseLr, int64_t totalSteps,
                        std::unique_ptr<Schedule> &out) {
  const nlohmann::json &p = spec.scheduleParams;
  const std::string &kind = spec.schedule;
  if (kind == "constant_lr") {
    out = std::make_unique<Constant>(baseLr);
  } else if (kind == "warmup_cosine") {
    int64_t warmup = static_cast<int64_t>(numberOr(p, "warmup_steps", 0));
    if (warmup == 0)
      warmup = static_cast<int64_t>(std::llround(numberOr(p, "warmup_fraction", 0) * double(totalSteps)));
    out = std::make_unique<WarmupCosine>(baseLr, numberOr(p, "min_lr", 0), warmup,
                                         static_cast<int64_t>(numberOr(p, "restart_every", 0)),
                                         totalSteps);
  } else if (kind == "one_cycle") {
    double pct = numberOr(p, "pct_start", 0.3);
    if (!(pct > 0 && pct < 1))
      return Status::error(ErrorKind::PlanInvalid, "schedule one_cycle needs 0 < pct_start < 1");
    out = std::make_unique<OneCycle>(numberOr(p, "max_lr", baseLr), pct, totalSteps);
  } else if (kind == "reduce_on_plateau") {
    double factor = numberOr(p, "factor", 0.9);
    if (!(factor > 0 && factor < 1))
      return Status::error(ErrorKind::PlanInvalid, "schedule reduce_on_plateau needs 0 < factor < 1");
    out = std::make_unique<ReduceOnPlateau>(baseLr, static_cast<int64_t>(numberOr(p, "patience", 500)),
                                            factor, numberOr(p, "min_lr", 1e-6));
  } else {
    return Status::error(ErrorKind::PlanUnsupported, "unknown schedule `" + kind + "`");
  }
  return Status::ok();
}

} // namespace exprt
