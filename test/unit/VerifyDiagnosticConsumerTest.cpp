#include "basic/VerifyDiagnosticConsumer.h"
#include "basic/DiagnosticEngine.h"
#include "basic/TextDiagnosticPrinter.h"

#include <gtest/gtest.h>

#include <sstream>

namespace fedc {
namespace {

// Verifies `source` against diagnostics reported at the given offsets.
struct VerifyRun {
  SourceManager sm;
  std::ostringstream out;
  TextDiagnosticPrinter printer{out, sm, false};
  DiagnosticEngine report{printer};
  VerifyDiagnosticConsumer collected{sm};
  DiagnosticEngine diags{collected};
  FileId file = 0;

  explicit VerifyRun(std::string source) {
    file = sm.addBuffer("v.fed", std::move(source));
  }
  void error(uint32_t offset, const char *what) {
    diags.report(sm.locFor(file, offset), DiagId::ExpectedToken).arg(what);
  }
  bool verify() { return collected.verify({file}, report); }
};

TEST(VerifyTest, MatchesSameLineAndRelativeLines) {
  VerifyRun v("x // expected-error {{expected ';'}}\n"
              "// expected-error@+1 {{[ExpectedToken]}}\n"
              "y\n");
  v.error(0, "';'");
  v.error(static_cast<uint32_t>(v.sm.text(v.file).find('y')), "'y'");
  EXPECT_TRUE(v.verify()) << v.out.str();
}

TEST(VerifyTest, ReportsMissingAndUnexpected) {
  VerifyRun v("x // expected-error {{never emitted}}\ny\n");
  v.error(static_cast<uint32_t>(v.sm.text(v.file).find('y')), "'y'");
  EXPECT_FALSE(v.verify());
  EXPECT_NE(v.out.str().find("[VerifyNotSeen]"), std::string::npos);
  EXPECT_NE(v.out.str().find("[VerifyUnexpected]"), std::string::npos);
}

TEST(VerifyTest, CountsAndWildcardLines) {
  VerifyRun v("// expected-error@* 2 {{expected}}\n");
  v.error(0, "a");
  v.error(3, "b");
  EXPECT_TRUE(v.verify()) << v.out.str();
}

TEST(VerifyTest, NoDirectivesIsAnError) {
  VerifyRun v("fn f() {}\n");
  EXPECT_FALSE(v.verify());
  EXPECT_NE(v.out.str().find("[VerifyNoDirectives]"), std::string::npos);
}

TEST(VerifyTest, ExpectNoDiagnostics) {
  VerifyRun ok("// expected-no-diagnostics\n");
  EXPECT_TRUE(ok.verify());
  VerifyRun bad("// expected-no-diagnostics\n");
  bad.error(0, "x");
  EXPECT_FALSE(bad.verify());
}

TEST(VerifyTest, MalformedDirective) {
  VerifyRun v("// expected-error missing braces\n");
  EXPECT_FALSE(v.verify());
  EXPECT_NE(v.out.str().find("[VerifyMalformedDirective]"), std::string::npos);
}

} // namespace
} // namespace fedc
