#include "diagnostics/Diagnostics.h"

#include <doctest/doctest.h>

#include <set>
#include <sstream>

using namespace expc;

TEST_CASE("every diagnostic kind has a unique, well-formed code") {
  std::set<std::string> codes;
  for (const KindInfo &k : allDiagnosticKinds()) {
    std::string code = k.code;
    CHECK(codes.insert(code).second);
    REQUIRE(code.size() == 5);
    CHECK((code[0] == 'E' || code[0] == 'N'));
    CHECK((code[0] == 'N') == (k.severity == Severity::Note));
  }
}

TEST_CASE("a diagnostic renders location, source line, caret, fix-it and help") {
  SourceManager sm;
  FileId f = sm.addBuffer("a.exp", "first line\nobjective x = clip(imge, b)\n");
  std::ostringstream out;
  DiagnosticEngine diags(sm, out);
  diags.emit(diag::UnknownName, SourceRange{f, 2, 20, 2, 24}, std::string("imge"))
      .help("did you mean `img`?")
      .fixit(SourceRange{f, 2, 20, 2, 24}, "img");
  CHECK(diags.errorCount() == 1);
  CHECK(out.str() == "a.exp:2:20: error: unknown name `imge` [E0200]\n"
                     " 2 | objective x = clip(imge, b)\n"
                     "   |                    ^~~~\n"
                     "   |                    img\n"
                     "   = help: did you mean `img`?\n");
}

TEST_CASE("tabs in the source keep the caret aligned") {
  SourceManager sm;
  FileId f = sm.addBuffer("t.exp", "\tx = y\n");
  std::ostringstream out;
  DiagnosticEngine diags(sm, out);
  diags.emit(diag::UnknownName, SourceRange{f, 1, 6, 1, 7}, std::string("y"));
  CHECK(out.str().find(" 1 | \tx = y\n   | \t    ^\n") != std::string::npos);
}

TEST_CASE("the error limit stops a flood with one final error") {
  SourceManager sm;
  FileId f = sm.addBuffer("f.exp", "x\n");
  std::ostringstream out;
  DiagnosticEngine diags(sm, out);
  diags.setErrorLimit(3);
  for (int i = 0; i < 10; ++i)
    diags.emit(diag::UnknownName, SourceRange{f, 1, 1, 1, 2}, std::string("x"));
  CHECK(diags.errorCount() == 3);
  CHECK(out.str().find("too many errors; stopping after 3 [E0101]") != std::string::npos);
}

TEST_CASE("did-you-mean picks plausible typos only") {
  CHECK(closestMatch("imge", {"img", "screen", "perts"}) == "img");
  CHECK(closestMatch("epoch", {"epochs", "batch", "seed"}) == "epochs");
  CHECK(closestMatch("zzzzzz", {"epochs", "batch", "seed"}).empty());
  CHECK(closestMatch("x", {"x"}).empty());
}
