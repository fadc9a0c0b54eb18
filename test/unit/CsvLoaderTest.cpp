#include "fedrt/Data.h"

#include "data/TextInput.h"

#include "StatusHelpers.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace fedrt {
namespace {

using detail::parseValue;
using testing::ok;

// Example { x: f32[2], y: i32 }
RecordLayout example() {
  return RecordLayout{
      {Leaf{"x", Element::F32, 2, true}, Leaf{"y", Element::I32, 1, false}}};
}

std::string writeFile(const std::string &name, const std::string &text) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("fedrt_csv_" + std::to_string(::getpid()) + "_" + name))
                         .string();
  std::ofstream(path, std::ios::binary) << text;
  return testing::removeAtExit(path);
}

float f32At(const Columns &c, size_t column, size_t i) {
  float v;
  std::memcpy(&v, c.columns[column].data() + 4 * i, 4);
  return v;
}

int32_t i32At(const Columns &c, size_t column, size_t i) {
  int32_t v;
  std::memcpy(&v, c.columns[column].data() + 4 * i, 4);
  return v;
}

TEST(CsvLoaderTest, HeaderBindsByNameInAnyOrderAndIgnoresExtraColumns) {
  std::string path =
      writeFile("header.csv", "id,y,x1,x0\n7,3,0.5,1.5\r\n8,4,2.5,3.5\n\n");
  Columns c;
  std::string error;
  ASSERT_TRUE(ok(loadCsv(path, example(), c), error)) << error;
  EXPECT_EQ(c.records, 2);
  EXPECT_EQ(f32At(c, 0, 0), 1.5f); // x0
  EXPECT_EQ(f32At(c, 0, 1), 0.5f); // x1
  EXPECT_EQ(f32At(c, 0, 2), 3.5f);
  EXPECT_EQ(i32At(c, 1, 0), 3);
  EXPECT_EQ(i32At(c, 1, 1), 4);
}

TEST(CsvLoaderTest, WithoutHeaderBindsPositionally) {
  std::string path = writeFile("plain.csv", "1,2,3\n4,5,6\n");
  Columns c;
  std::string error;
  ASSERT_TRUE(ok(loadCsv(path, example(), c), error)) << error;
  EXPECT_EQ(c.records, 2);
  EXPECT_EQ(f32At(c, 0, 3), 5.0f);
  EXPECT_EQ(i32At(c, 1, 1), 6);
}

TEST(CsvLoaderTest, ReadsGzip) {
  std::string path = writeFile("data.csv.gz", "");
  gzFile f = gzopen(path.c_str(), "wb");
  gzputs(f, "x0,x1,y\n1,2,3\n");
  gzclose(f);
  Columns c;
  std::string error;
  ASSERT_TRUE(ok(loadCsv(path, example(), c), error)) << error;
  EXPECT_EQ(c.records, 1);
  EXPECT_EQ(i32At(c, 1, 0), 3);
}

TEST(CsvLoaderTest, BadValueNamesFileLineColumnAndType) {
  std::string path = writeFile("bad.csv", "x0,x1,y\n1,2,3\n1,2,three\n");
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadCsv(path, example(), c), error));
  EXPECT_EQ(error, path + ":3:3: expected i32 for field 'y', found 'three'");
}

// Line numbers count every line of the file: blank lines (and CRLF ends)
// before the bad row move it down.
TEST(CsvLoaderTest, LineNumbersCountBlankLines) {
  std::string path =
      writeFile("blank.csv", "x0,x1,y\r\n\n1,2,3\n\n\r\n\n1,2,x\n");
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadCsv(path, example(), c), error));
  EXPECT_EQ(error, path + ":7:3: expected i32 for field 'y', found 'x'");
  path = writeFile("blank-noheader.csv", "\n\n1,2,3\n\n1,2\n");
  EXPECT_FALSE(ok(loadCsv(path, example(), c), error));
  EXPECT_EQ(error, path + ":5: expected 3 values, found 2");
}

// Bytes: u8 holds 0..255, i8 -128..127; anything else names the cell.
// What spreadsheet programs write: RFC 4180 quoting (a comma and a doubled
// quote inside a cell), a UTF-8 byte-order mark before the header, and
// CRLF or CR-only line ends all read as the plain file does.
TEST(CsvLoaderTest, ReadsWhatSpreadsheetsWrite) {
  for (const char *eol : {"\n", "\r\n", "\r"}) {
    std::string text = std::string("\xEF\xBB\xBF") + "city,x0,x1,y" + eol +
                       "\"Lyon, FR\",1.5,2.5,3" + eol +
                       "\"Quote \"\"q\"\", FR\",4,5,6" + eol;
    Columns c;
    std::vector<std::string> unbound;
    std::string error;
    ASSERT_TRUE(ok(
        loadCsv(writeFile("sheet.csv", text), example(), c, &unbound), error))
        << error;
    ASSERT_EQ(c.records, 2);
    EXPECT_EQ(f32At(c, 0, 0), 1.5f);
    EXPECT_EQ(f32At(c, 0, 1), 2.5f);
    EXPECT_EQ(i32At(c, 1, 0), 3);
    EXPECT_EQ(f32At(c, 0, 2), 4.0f);
    EXPECT_EQ(i32At(c, 1, 1), 6);
    EXPECT_EQ(unbound, std::vector<std::string>{"city"});
  }
}

TEST(CsvLoaderTest, DuplicateHeaderColumnIsAnError) {
  std::string path = writeFile("dup.csv", "x0,x1,y,x0\n1,2,3,4\n");
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadCsv(path, example(), c), error));
  EXPECT_EQ(error, path + ":1:4: column 'x0' appears twice in the header");
}

// A ';' or tab separated file names the separator instead of reporting a
// missing column.
TEST(CsvLoaderTest, OtherSeparatorsAreNamed) {
  std::string path = writeFile("semi.csv", "x0;x1;y\n1;2;3\n");
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadCsv(path, example(), c), error));
  EXPECT_NE(error.find("';'"), std::string::npos) << error;
  EXPECT_NE(error.find("separat"), std::string::npos) << error;
}

// One number grammar for every element type: a sign, decimal digits, a
// fraction and exponent for floats; no hex, no '+' only for some types.
TEST(CsvLoaderTest, OneNumberGrammarForEveryElement) {
  for (const char *good : {"5", "-5", "+5"}) {
    for (Element e : {Element::F32, Element::F64, Element::I32, Element::I64}) {
      unsigned char out[8] = {};
      EXPECT_TRUE(parseValue(good, e, out)) << good;
      EXPECT_EQ(loadReal(e, out), good[0] == '-' ? -5.0 : 5.0) << good;
    }
  }
  for (const char *bad :
       {"0x10", "1e", "--1", "1_000", "5 5", "inf", "nan", ""}) {
    for (Element e : {Element::F32, Element::F64, Element::I32, Element::I64,
                      Element::U8}) {
      unsigned char out[8] = {};
      EXPECT_FALSE(parseValue(bad, e, out)) << "'" << bad << "'";
    }
  }
  unsigned char out[8] = {};
  EXPECT_FALSE(parseValue("1.5", Element::I32, out)); // integers are integral
  EXPECT_TRUE(parseValue("1.5e3", Element::F32, out));
}

// Plain integer cells take a one-pass path; it must store the bits the
// general grammar does (from_chars to double, then to float), keep the sign
// of "-0" and hand long, signed or spaced cells to the general path.
TEST(CsvLoaderTest, IntegerCellsStoreTheBitsOfTheGeneralPath) {
  auto viaDecimal = [](const std::string &text, Element e) {
    // The same value spelled with a fraction: the general path only.
    unsigned char out[8] = {};
    EXPECT_TRUE(parseValue(text + ".0", e, out)) << text;
    uint64_t bits = 0;
    std::memcpy(&bits, out, elementSize(e));
    return bits;
  };
  for (const std::string text :
       {"0", "7", "-7", "16777217", "-16777217", "123456789012345678",
        "-123456789012345678", "9007199254740993", "999999999999999999",
        "1234567890123456789", "9999999999999999999", "-9999999999999999999",
        "00000000000000000000000001", "-0"}) {
    for (Element e : {Element::F32, Element::F64}) {
      unsigned char out[8] = {};
      ASSERT_TRUE(parseValue(text, e, out)) << text;
      uint64_t bits = 0;
      std::memcpy(&bits, out, elementSize(e));
      EXPECT_EQ(bits, viaDecimal(text, e)) << text << " as " << elementName(e);
    }
  }
  unsigned char out[8] = {};
  ASSERT_TRUE(parseValue("-0", Element::F64, out));
  double d;
  std::memcpy(&d, out, 8);
  EXPECT_TRUE(std::signbit(d)); // "-0" is negative zero
  ASSERT_TRUE(parseValue("-0", Element::I32, out));
  EXPECT_EQ(loadReal(Element::I32, out), 0.0);
  ASSERT_TRUE(parseValue(" 42\t", Element::I64, out));
  EXPECT_EQ(loadReal(Element::I64, out), 42.0);
  EXPECT_FALSE(parseValue("-", Element::I32, out));
  EXPECT_FALSE(parseValue("4-2", Element::I32, out));
  EXPECT_FALSE(parseValue("2147483648", Element::I32, out));
  ASSERT_TRUE(parseValue("-2147483648", Element::I32, out));
  EXPECT_EQ(loadReal(Element::I32, out), -2147483648.0);
  ASSERT_TRUE(parseValue("-9223372036854775808", Element::I64, out));
  EXPECT_FALSE(parseValue("9223372036854775808", Element::I64, out));
}

// The buffer is sized from a gzip file's trailer; a trailer that is short
// (several members) or absurd (larger than deflate can expand to) must still
// give the whole content.
TEST(CsvLoaderTest, GzipTrailerIsOnlyAHint) {
  std::string text;
  for (int i = 0; i < 50000; ++i)
    text += std::to_string(i) + "," + std::to_string(i % 7) + ",1\n";
  auto gzip = [](const std::string &plain) {
    std::string path = writeFile("hint.csv.gz", "");
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, plain.data(), static_cast<unsigned>(plain.size()));
    gzclose(f);
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::string one = gzip(text.substr(0, 1000)), two = gzip(text.substr(1000));
  // Two members: the trailer gives only the second's length.
  std::string path = writeFile("hint.csv.gz", one + two);
  absl::StatusOr<FileBytes> read = detail::readBytes(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(std::string_view(*read), text);
  // A trailer that lies (short, or 4 GiB for a small file) is a data error
  // zlib reports, not a wrong or truncated content.
  for (uint32_t trailer : {7u, 0xFFFFFFFFu}) {
    std::string bytes = one;
    std::memcpy(bytes.data() + bytes.size() - 4, &trailer, 4);
    path = writeFile("hint.csv.gz", bytes);
    read = detail::readBytes(path);
    ASSERT_FALSE(read.ok()) << trailer;
    EXPECT_NE(std::string(read.status().message()).find("read error"),
              std::string::npos)
        << read.status();
  }
}

TEST(CsvLoaderTest, BytesAreRangeChecked) {
  RecordLayout bytes{
      {Leaf{"p", Element::U8, 2, true}, Leaf{"q", Element::I8, 1, false}}};
  std::string path = writeFile("bytes.csv", "p0,p1,q\n0,255,-128\n7,8,127\n");
  Columns c;
  std::string error;
  ASSERT_TRUE(ok(loadCsv(path, bytes, c), error)) << error;
  EXPECT_EQ(c.records, 2);
  EXPECT_EQ(c.columns[0].size(), 4u); // one byte per pixel
  EXPECT_EQ(c.columns[0][1], 255);
  EXPECT_EQ(static_cast<int8_t>(c.columns[1][0]), -128);
  for (auto [text, where] :
       {std::pair{"p0,p1,q\n0,256,1\n",
                  ":2:2: expected u8 for field 'p', found '256'"},
        std::pair{"p0,p1,q\n-1,0,1\n",
                  ":2:1: expected u8 for field 'p', found '-1'"},
        std::pair{"p0,p1,q\n0,0,-129\n",
                  ":2:3: expected i8 for field 'q', found '-129'"}}) {
    path = writeFile("bytes-bad.csv", text);
    EXPECT_FALSE(ok(loadCsv(path, bytes, c), error));
    EXPECT_EQ(error, path + where);
  }
}

TEST(CsvLoaderTest, OutOfRangeIntegerIsAnError) {
  std::string path = writeFile("range.csv", "1,2,99999999999\n");
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadCsv(path, example(), c), error));
  EXPECT_NE(error.find(":1:3: expected i32"), std::string::npos) << error;
}

TEST(CsvLoaderTest, WrongNumberOfValues) {
  std::string path = writeFile("short.csv", "1,2,3\n1,2\n");
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadCsv(path, example(), c), error));
  EXPECT_EQ(error, path + ":2: expected 3 values, found 2");
}

TEST(CsvLoaderTest, MissingHeaderColumn) {
  std::string path = writeFile("missing.csv", "x0,y\n1,2\n");
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadCsv(path, example(), c), error));
  EXPECT_EQ(error, path + ":1: missing column 'x1' for field 'x'");
}

TEST(CsvLoaderTest, EmptyFileHasNoRecords) {
  std::string path = writeFile("empty.csv", "");
  Columns c;
  std::string error;
  ASSERT_TRUE(ok(loadCsv(path, example(), c), error)) << error;
  EXPECT_EQ(c.records, 0);
}

TEST(CsvLoaderTest, MissingFile) {
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadCsv("/nonexistent/client.csv", example(), c), error));
  EXPECT_NE(error.find("cannot open"), std::string::npos);
}

TEST(CsvLoaderTest, ReadsTheDigitsData) {
  // 64 pixels then the label, no header (examples/data/README.md).
  RecordLayout digits{
      {Leaf{"x", Element::F32, 64, true}, Leaf{"y", Element::I32, 1, false}}};
  Columns c;
  std::string error;
  ASSERT_TRUE(
      ok(loadCsv(FEDC_SOURCE_DIR "/examples/data/digits.csv.gz", digits, c),
         error))
      << error;
  EXPECT_EQ(c.records, 1797);
  EXPECT_EQ(i32At(c, 1, 0), 0); // the first image is a 0
}

} // namespace
} // namespace fedrt
