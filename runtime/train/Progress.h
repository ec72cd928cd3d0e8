// Training progress on stderr: on a terminal, one bar redrawn in place (steps
// done, epoch, loss, throughput, ETA) with epoch lines scrolling above it;
// elsewhere (a pipe, a log, CI) the epoch lines alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace exprt {

class Progress {
public:
  // `bar`: draw the in-place bar (a terminal); `samplesPerStep`: rows per
  // optimiser step, for throughput; `firstStep`: where a resumed run starts.
  Progress(bool enabled, bool bar, int64_t totalSteps, int64_t firstStep, int64_t samplesPerStep);
  ~Progress();
  // A permanent line (no trailing newline needed).
  void line(const std::string &text);
  // After optimiser step `step` (1-based) of epoch `epoch`; redraws at most
  // ten times a second.
  void step(int64_t step, int64_t epoch, int64_t epochs, double loss);
  // Seconds since this process began training (when the Progress was made).
  double elapsed() const;

private:
  void draw();
  bool enabled_, bar_;
  int64_t total_, first_, samples_;
  int64_t step_ = 0, epoch_ = 0, epochs_ = 0;
  double loss_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, lastDraw_;
};

// Whether stderr is a terminal that understands carriage returns.
bool stderrIsTerminal();

} // namespace exprt
