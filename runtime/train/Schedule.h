// Learning-rate schedules: the learning rate of each optimiser step, as a
// function of the step (and, for reduce-on-plateau, of the losses seen).
// Formulas follow PyTorch's schedulers so results transfer (docs/runtime.md).
#pragma once

#include "plan/Plan.h"

#include <memory>

namespace exprt {

class Schedule {
public:
  // `baseLr` is the optimiser's `lr`; `totalSteps` the run's optimiser steps.
  static Status create(const TrainSpec &spec, double baseLr, int64_t totalSteps,
                       std::unique_ptr<Schedule> &out);
  virtual ~Schedule() = default;

  // The learning rate for optimiser step `step` (0-based).
  virtual double lr(int64_t step) const = 0;
  // Called after each optimiser step with its loss (reduce-on-plateau).
  virtual void observe(double loss) {}

  // State a checkpoint keeps (empty for schedules that are pure functions).
  virtual nlohmann::json state() const { return nlohmann::json::object(); }
  virtual Status restore(const nlohmann::json &state) { return Status::ok(); }
};

} // namespace exprt
