#include "basic/SourceManager.h"

#include <gtest/gtest.h>

namespace fedc {
namespace {

TEST(SourceManagerTest, MapsOffsetsToLinesAndColumns) {
  SourceManager sm;
  FileId f = sm.addBuffer("a.fed", "ab\ncd\n\nxyz");
  PresumedLoc p = sm.presumed(sm.locFor(f, 0));
  EXPECT_EQ(p.filename, "a.fed");
  EXPECT_EQ(p.line, 1u);
  EXPECT_EQ(p.column, 1u);
  p = sm.presumed(sm.locFor(f, 4)); // 'd'
  EXPECT_EQ(p.line, 2u);
  EXPECT_EQ(p.column, 2u);
  p = sm.presumed(sm.locFor(f, 7)); // 'x' after an empty line
  EXPECT_EQ(p.line, 4u);
  EXPECT_EQ(p.column, 1u);
}

TEST(SourceManagerTest, EndOfFileIsAValidLocation) {
  SourceManager sm;
  FileId f = sm.addBuffer("a.fed", "ab");
  SourceLoc end = sm.locFor(f, 2);
  EXPECT_TRUE(end.isValid());
  EXPECT_EQ(sm.fileOf(end), f);
  EXPECT_EQ(sm.presumed(end).column, 3u);
}

TEST(SourceManagerTest, KeepsBuffersApart) {
  SourceManager sm;
  FileId a = sm.addBuffer("a.fed", "one\n");
  FileId b = sm.addBuffer("b.fed", "two\nthree\n");
  EXPECT_NE(a, b);
  SourceLoc inB = sm.locFor(b, 4);
  EXPECT_EQ(sm.fileOf(inB), b);
  EXPECT_EQ(sm.presumed(inB).filename, "b.fed");
  EXPECT_EQ(sm.presumed(inB).line, 2u);
  EXPECT_EQ(sm.fileOf(sm.locFor(a, 3)), a);
  EXPECT_EQ(sm.fileOf(SourceLoc()), 0u);
}

TEST(SourceManagerTest, LineTextDropsLineBreaks) {
  SourceManager sm;
  FileId f = sm.addBuffer("a.fed", "first\r\nsecond\nlast");
  EXPECT_EQ(sm.lineText(f, 1), "first");
  EXPECT_EQ(sm.lineText(f, 2), "second");
  EXPECT_EQ(sm.lineText(f, 3), "last");
  EXPECT_EQ(sm.lineText(f, 4), "");
  EXPECT_EQ(sm.lineCount(f), 3u);
}

TEST(SourceManagerTest, ReportsMissingFiles) {
  SourceManager sm;
  std::string error;
  EXPECT_EQ(sm.loadFile("/nonexistent/dir/x.fed", error), 0u);
  EXPECT_FALSE(error.empty());
}

} // namespace
} // namespace fedc
