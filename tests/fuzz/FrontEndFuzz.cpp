// libFuzzer target over the whole front end: parse, imports (the real stdlib),
// overrides-free sema with every sweep point, and `exp fmt`. Properties checked
// beyond "no crash, hang or sanitizer report":
//   - a file that fails to check produced at least one error (never silent);
//   - formatting a file that parses is idempotent.
#include "driver/FrontEnd.h"
#include "format/Formatter.h"
#include "parse/Parser.h"

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 64 * 1024)
    return -1; // beyond any real experiment file; keeps runs fast
  std::string text(reinterpret_cast<const char *>(data), size);
  {
    std::ostringstream out;
    expc::FrontEnd fe;
    bool ok = expc::runFrontEnd(EXP_FUZZ_DIR "/input.exp", expc::FrontEndOptions{}, fe, out, &text);
    if (!ok && fe.diags->errorCount() == 0)
      std::abort(); // failed silently
  }
  {
    expc::SourceManager sources;
    std::ostringstream out;
    expc::DiagnosticEngine diags(sources, out);
    expc::FileId file = sources.addBuffer("input.exp", text);
    if (!expc::parseFile(file, sources, diags))
      return 0;
    std::string once = expc::formatSource(file, sources);
    expc::FileId again = sources.addBuffer("input.exp", once);
    if (!expc::parseFile(again, sources, diags))
      std::abort(); // formatting broke the file
    if (expc::formatSource(again, sources) != once)
      std::abort(); // not idempotent
  }
  return 0;
}
