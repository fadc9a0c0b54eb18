#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "basic/TextDiagnosticPrinter.h"

#include <gtest/gtest.h>

#include <sstream>

namespace fedc {
namespace {

struct Rendered {
  SourceManager sm;
  std::ostringstream out;
  TextDiagnosticPrinter printer{out, sm, /*useColor=*/false};
  DiagnosticEngine diags{printer};
};

TEST(DiagnosticRenderingTest, ClangStyleWithCaretAndRange) {
  Rendered r;
  FileId f = r.sm.addBuffer("m.fed", "fn f() {\n  let x = a + b\n}\n");
  SourceLoc at = r.sm.locFor(f, 19); // 'a'
  r.diags.report(SourceRange(at, at.advanced(5)), DiagId::ExpectedToken)
      .arg("';'");
  EXPECT_EQ(r.out.str(), "m.fed:2:11: error: expected ';' [ExpectedToken]\n"
                         "    2 |   let x = a + b\n"
                         "      |           ^~~~~\n");
  EXPECT_EQ(r.diags.errorCount(), 1u);
}

TEST(DiagnosticRenderingTest, FixItIsPrintedUnderTheCaret) {
  Rendered r;
  FileId f = r.sm.addBuffer("m.fed", "let x = 1\n");
  SourceLoc end = r.sm.locFor(f, 9);
  r.diags.report(end, DiagId::ExpectedToken).arg("';'").fixInsert(end, ";");
  EXPECT_EQ(r.out.str(), "m.fed:1:10: error: expected ';' [ExpectedToken]\n"
                         "    1 | let x = 1\n"
                         "      |          ^\n"
                         "      |          ;\n");
}

TEST(DiagnosticRenderingTest, NotesFollowTheirError) {
  Rendered r;
  FileId f = r.sm.addBuffer("m.fed", "(a\n");
  r.diags.report(r.sm.locFor(f, 2), DiagId::ExpectedToken).arg("')'");
  r.diags.report(r.sm.locFor(f, 0), DiagId::NoteToMatchThis).arg("'('");
  std::string s = r.out.str();
  EXPECT_NE(s.find("m.fed:1:3: error: expected ')'"), std::string::npos);
  EXPECT_NE(s.find("m.fed:1:1: note: to match this '(' [NoteToMatchThis]"),
            std::string::npos);
  EXPECT_EQ(r.diags.errorCount(), 1u) << "notes are not errors";
}

TEST(DiagnosticRenderingTest, TabsAndControlBytesKeepTheCaretAligned) {
  Rendered r;
  FileId f = r.sm.addBuffer("m.fed", std::string("\tx\0y", 4));
  r.diags.report(r.sm.locFor(f, 3), DiagId::UnexpectedCharacter).arg("'y'");
  EXPECT_EQ(r.out.str(),
            "m.fed:1:4: error: unexpected character 'y' [UnexpectedCharacter]\n"
            "    1 |     x<00>y\n"
            "      |          ^\n");
}

TEST(DiagnosticRenderingTest, LongLinesAreCutAroundTheCaret) {
  Rendered r;
  std::string line(5000, '(');
  FileId f = r.sm.addBuffer("m.fed", line);
  r.diags.report(r.sm.locFor(f, 4000), DiagId::BracketNestingTooDeep).arg(256);
  std::string s = r.out.str();
  EXPECT_LT(s.size(), 600u);
  EXPECT_NE(s.find("..."), std::string::npos);
  EXPECT_NE(s.find('^'), std::string::npos);
}

TEST(DiagnosticRenderingTest, ErrorLimitStopsTheFlood) {
  Rendered r;
  FileId f = r.sm.addBuffer("m.fed", "x");
  r.diags.setErrorLimit(3);
  for (int i = 0; i < 10; ++i) {
    r.diags.report(r.sm.locFor(f, 0), DiagId::UnexpectedCharacter).arg("'x'");
    r.diags.report(r.sm.locFor(f, 0), DiagId::NoteToMatchThis).arg("'('");
  }
  std::string s = r.out.str();
  size_t errors = 0;
  for (size_t p = 0; (p = s.find("error:", p)) != std::string::npos; ++p)
    ++errors;
  EXPECT_EQ(errors, 4u) << "three errors, then TooManyErrors";
  EXPECT_NE(s.find("[TooManyErrors]"), std::string::npos);
  size_t notes = 0;
  for (size_t p = 0; (p = s.find("note:", p)) != std::string::npos; ++p)
    ++notes;
  EXPECT_EQ(notes, 3u) << "notes of dropped errors are dropped too";
  EXPECT_TRUE(r.diags.limitReached());
}

TEST(DiagnosticRenderingTest, DiagnosticWithoutLocation) {
  Rendered r;
  r.diags.report(SourceLoc(), DiagId::CannotOpenFile).arg("x.fed").arg("nope");
  EXPECT_EQ(r.out.str(),
            "fedc: error: cannot open 'x.fed': nope [CannotOpenFile]\n");
}

TEST(DiagnosticRenderingTest, ColourOnlyWhenAsked) {
  SourceManager sm;
  std::ostringstream out;
  TextDiagnosticPrinter printer(out, sm, /*useColor=*/true);
  DiagnosticEngine diags(printer);
  diags.report(SourceLoc(), DiagId::CannotOpenFile).arg("x").arg("y");
  EXPECT_NE(out.str().find("\033["), std::string::npos);
}

} // namespace
} // namespace fedc
