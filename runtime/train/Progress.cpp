#include "train/Progress.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

namespace exprt {
namespace {

std::string clock(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

} // namespace

bool stderrIsTerminal() {
  const char *term = std::getenv("TERM");
  return ::isatty(STDERR_FILENO) && !(term && std::strcmp(term, "dumb") == 0);
}

Progress::Progress(bool enabled, bool bar, int64_t totalSteps, int64_t firstStep,
                   int64_t samplesPerStep)
    : enabled_(enabled), bar_(enabled && bar), total_(totalSteps), first_(firstStep),
      samples_(samplesPerStep), step_(firstStep), start_(std::chrono::steady_clock::now()),
      lastDraw_(start_) {}

Progress::~Progress() {
  if (drawn_) { // leave the terminal on a clean line
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::line(const std::string &text) {
  if (!enabled_)
    return;
  std::fprintf(stderr, "%s%s\n", bar_ ? "\r\033[K" : "", text.c_str());
  if (bar_)
    draw();
  std::fflush(stderr);
}

void Progress::step(int64_t step, int64_t epoch, int64_t epochs, double loss) {
  step_ = step;
  epoch_ = epoch;
  epochs_ = epochs;
  loss_ = loss;
  if (!bar_)
    return;
  auto now = std::chrono::steady_clock::now();
  if (step != total_ && now - lastDraw_ < std::chrono::milliseconds(100))
    return;
  lastDraw_ = now;
  draw();
  std::fflush(stderr);
}

void Progress::draw() {
  if (step_ <= first_ && !drawn_)
    return; // nothing to report yet
  constexpr int kWidth = 24;
  double done = total_ > 0 ? static_cast<double>(step_) / static_cast<double>(total_) : 1.0;
  int filled = static_cast<int>(done * kWidth);
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  double t = elapsed();
  double rate = t > 0 ? static_cast<double>(step_ - first_) / t : 0; // steps/s
  std::string eta = rate > 0 ? clock(static_cast<double>(total_ - step_) / rate) : "?";
  std::fprintf(stderr, "\r\033[K[%s] %lld/%lld steps  epoch %lld/%lld  loss %.4f  %.0f samples/s  "
                       "elapsed %s  ETA %s",
               bar.c_str(), (long long)step_, (long long)total_, (long long)epoch_,
               (long long)epochs_, loss_, rate * static_cast<double>(samples_), clock(t).c_str(),
               eta.c_str());
  drawn_ = true;
}

} // namespace exprt
