// Sampling, checkpoints, JSON Lines and client directories, the plan
// table parser and value printing of libfedrt.
#include "fedrt/Checkpoint.h"
#include "fedrt/ClientData.h"
#include "fedrt/Context.h"
#include "fedrt/Sampling.h"
#include "fedrt/Value.h"
#include "plan.pb.h"

#include "StatusHelpers.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace fedrt {
namespace {

using testing::ok;

namespace fs = std::filesystem;

// A fresh directory per test.
std::string scratch(const std::string &name) {
  fs::path dir = fs::temp_directory_path() /
                 ("fedrt_rt_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return testing::removeAtExit(dir.string());
}

std::string write(const std::string &dir, const std::string &name,
                  const std::string &text) {
  std::string path = (fs::path(dir) / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TypeDesc type(const std::string &text) {
  absl::StatusOr<TypeDesc> t = parseType(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : TypeDesc();
}

// --- sampling ---------------------------------------------------------------

TEST(SamplingTest, DistinctAscendingDeterministicPerRound) {
  std::vector<int64_t> population;
  for (int i = 0; i < 100; ++i)
    population.push_back(i * 2); // not 0..n-1: members are returned
  std::vector<int64_t> a = sampleCohort(population, 10, 42, 3);
  ASSERT_EQ(a.size(), 10u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 10u);
  for (int64_t x : a)
    EXPECT_EQ(x % 2, 0);
  EXPECT_EQ(a, sampleCohort(population, 10, 42, 3));
  EXPECT_NE(a, sampleCohort(population, 10, 42, 4));
  EXPECT_NE(a, sampleCohort(population, 10, 43, 3));
  EXPECT_EQ(sampleCohort(population, 100, 1, 1), population);
  EXPECT_EQ(sampleCohort(population, 1000, 1, 1), population);
  EXPECT_EQ(sampleCohort(population, -1, 1, 1), population);
  EXPECT_TRUE(sampleCohort(population, 0, 1, 1).empty());
}

TEST(SamplingTest, EveryClientIsSampledAboutEquallyOften) {
  std::vector<int64_t> population(50);
  for (int i = 0; i < 50; ++i)
    population[i] = i;
  std::vector<int> counts(50, 0);
  for (int round = 1; round <= 5000; ++round)
    for (int64_t c : sampleCohort(population, 10, 9, round))
      ++counts[static_cast<size_t>(c)];
  // Expected 1000 each; binomial sd ~28.
  for (int c : counts) {
    EXPECT_GT(c, 880);
    EXPECT_LT(c, 1120);
  }
}

// --- checkpoints
// --------------------------------------------------------------

// Reads a checkpoint as a resumed run of program `fingerprint` with
// sample()'s settings would.
bool resumeFrom(const std::string &dir, const TypeDesc &t, uint64_t fingerprint,
                Checkpoint &back, std::string &error) {
  if (!testing::ok(readCheckpoint(dir, t, fingerprint), back, error))
    return false;
  RunIdentity now = back.run;
  now.fingerprint = fingerprint;
  std::vector<std::string> warnings;
  return testing::ok(checkResume(back.run, now, dir, false, warnings), error);
}

Checkpoint sample(const TypeDesc &t) {
  Checkpoint c;
  c.run.fingerprint = 0xfeedULL;
  c.run.seed = 5;
  c.run.data = 0xda7a;
  c.run.partition = "dirichlet:0.5";
  c.run.population = 100;
  c.run.clientsPerRound = 10;
  c.round = 17;
  c.state = HostValue::zeros(t);
  for (int64_t k = 0; k < c.state.leaves[0].count; ++k)
    c.state.leaves[0].as<float>()[k] = static_cast<float>(k) * 0.5f;
  c.state.leaves[1].as<int32_t>()[0] = -3;
  return c;
}

TEST(CheckpointTest, RoundTripsAndLeavesNoTemporaryFile) {
  std::string dir = scratch("ckpt_roundtrip") + "/nested/dir";
  TypeDesc t = type("S{w:f32[3,2],n:i32}");
  std::string error;
  ASSERT_TRUE(ok(writeCheckpoint(dir, sample(t)), error)) << error;
  ASSERT_TRUE(ok(writeCheckpoint(dir, sample(t)), error)) << error; // replaces
  EXPECT_FALSE(fs::exists(checkpointPath(dir) + ".tmp"));
  Checkpoint back;
  ASSERT_TRUE(resumeFrom(dir, t, 0xfeed, back, error)) << error;
  EXPECT_EQ(back.round, 17);
  EXPECT_EQ(back.run.seed, 5u);
  EXPECT_EQ(back.run.data, 0xda7au);
  EXPECT_EQ(back.run.partition, "dirichlet:0.5");
  EXPECT_EQ(back.run.population, 100);
  EXPECT_EQ(back.run.clientsPerRound, 10);
  EXPECT_EQ(back.state.leaves[0].as<float>()[5], 2.5f);
  EXPECT_EQ(back.state.leaves[1].as<int32_t>()[0], -3);
}

TEST(CheckpointTest, RefusesOtherProgramsCorruptionAndOtherLayouts) {
  std::string dir = scratch("ckpt_refuse");
  TypeDesc t = type("S{w:f32[3,2],n:i32}");
  std::string error;
  Checkpoint back;
  EXPECT_FALSE(resumeFrom(dir, t, 0xfeed, back, error));
  EXPECT_NE(error.find("no checkpoint to resume from"), std::string::npos);
  ASSERT_TRUE(ok(writeCheckpoint(dir, sample(t)), error));
  EXPECT_FALSE(resumeFrom(dir, t, 0xbeef, back, error));
  EXPECT_NE(error.find("written by another program (plan fingerprint "
                       "000000000000feed, this program's is "
                       "000000000000beef)"),
            std::string::npos)
      << error;
  EXPECT_FALSE(
      resumeFrom(dir, type("S{w:f32[2,3],n:i32}"), 0xfeed, back, error));
  EXPECT_NE(error.find("does not have the layout"), std::string::npos);
  // Flip one byte of the state: the checksum catches it.
  std::string path = checkpointPath(dir);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(40);
  f.put('\x7f');
  f.close();
  EXPECT_FALSE(resumeFrom(dir, t, 0xfeed, back, error));
  EXPECT_NE(error.find("corrupt"), std::string::npos);
  write(dir, "state.ckpt", "hello");
  EXPECT_FALSE(resumeFrom(dir, t, 0xfeed, back, error));
  EXPECT_NE(error.find("not a fedc checkpoint"), std::string::npos);
}

// A resumed run refuses other data and settings, naming each difference;
// --force-resume turns them into warnings. Another program never resumes.
TEST(CheckpointTest, ResumeRefusesAnotherRunNamingWhatDiffers) {
  RunIdentity saved = sample(type("S{w:f32[3,2],n:i32}")).run, now = saved;
  std::vector<std::string> warnings;
  EXPECT_TRUE(checkResume(saved, now, "d", false, warnings).ok());
  now.data = 0xbad;
  now.clientsPerRound = 20;
  absl::Status s = checkResume(saved, now, "d", false, warnings);
  EXPECT_EQ(s.message(),
            "the checkpoint in d was written with other client data (data "
            "fingerprint 000000000000da7a, this run's is 0000000000000bad); "
            "--clients-per-round 10, not 20 (--force-resume resumes anyway)");
  EXPECT_TRUE(checkResume(saved, now, "d", true, warnings).ok());
  EXPECT_EQ(warnings.size(), 2u);
  now.fingerprint = 1;
  EXPECT_FALSE(checkResume(saved, now, "d", true, warnings).ok());
  for (auto change : {+[](RunIdentity &r) { r.seed = 6; },
                      +[](RunIdentity &r) { r.partition = "iid"; },
                      +[](RunIdentity &r) { r.population = 99; }}) {
    RunIdentity other = saved;
    change(other);
    EXPECT_FALSE(checkResume(saved, other, "d", false, warnings).ok());
  }
}

TEST(CheckpointTest, UnwritableDirectoryIsAnError) {
  std::string dir = scratch("ckpt_unwritable");
  std::string file = write(dir, "file", "x");
  std::string error;
  EXPECT_FALSE(
      ok(writeCheckpoint(file + "/sub", sample(type("S{w:f32[3,2],n:i32}"))),
         error));
  EXPECT_NE(error.find("cannot create the checkpoint directory"),
            std::string::npos);
}

// --- JSON Lines
// ---------------------------------------------------------------

RecordLayout exampleLayout() {
  return recordLayout(type("E{x:f32[2,2],y:i32}"));
}

TEST(JsonLinesTest, ObjectsBindByNameNestedArraysRowMajor) {
  std::string dir = scratch("jsonl_ok");
  std::string path =
      write(dir, "c.jsonl",
            "{\"y\": 3, \"x\": [[1, 2], [3.5, -4e1]], \"id\": \"a\"}\n"
            "\n"
            "[5, 6, 7, 8, 9]\n");
  Columns c;
  std::string error;
  ASSERT_TRUE(ok(loadJsonLines(path, exampleLayout(), c), error)) << error;
  ASSERT_EQ(c.records, 2);
  const auto *x = reinterpret_cast<const float *>(c.columns[0].data());
  const auto *y = reinterpret_cast<const int32_t *>(c.columns[1].data());
  EXPECT_EQ(x[2], 3.5f);
  EXPECT_EQ(x[3], -40.0f);
  EXPECT_EQ(y[0], 3);
  EXPECT_EQ(x[7], 8.0f);
  EXPECT_EQ(y[1], 9);
}

TEST(JsonLinesTest, NestedObjectsBindToNestedStructs) {
  std::string dir = scratch("jsonl_nested");
  std::string path = write(dir, "c.jsonl", "{\"p\": {\"a\": 1.5, \"b\": 2}}\n");
  Columns c;
  std::string error;
  ASSERT_TRUE(ok(
      loadJsonLines(path, recordLayout(type("R{p:P{a:f32,b:i64}}")), c), error))
      << error;
  EXPECT_EQ(reinterpret_cast<const float *>(c.columns[0].data())[0], 1.5f);
  EXPECT_EQ(reinterpret_cast<const int64_t *>(c.columns[1].data())[0], 2);
}

std::string jsonlError(const std::string &line) {
  std::string dir = scratch("jsonl_err");
  std::string path =
      write(dir, "bad.jsonl", "{\"x\": [1,2,3,4], \"y\": 0}\n" + line + "\n");
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadJsonLines(path, exampleLayout(), c), error));
  return error.substr(error.find("bad.jsonl"));
}

TEST(JsonLinesTest, EveryErrorNamesFileLineAndField) {
  EXPECT_EQ(jsonlError("{\"x\": [1,2,3,4]}"), "bad.jsonl:2: missing field 'y'");
  EXPECT_EQ(jsonlError("{\"x\": [1,2,3], \"y\": 1}"),
            "bad.jsonl:2: expected 4 values for field 'x', found 3");
  EXPECT_EQ(jsonlError("{\"x\": [1,2,3,4], \"y\": 1.5}"),
            "bad.jsonl:2: field 'y': expected i32, found 1.5");
  EXPECT_EQ(jsonlError("{\"x\": [1,2,\"3\",4], \"y\": 1}"),
            "bad.jsonl:2: field 'x' element 2: expected f32, found '3'");
  EXPECT_EQ(jsonlError("[1, 2, 3]"), "bad.jsonl:2: expected 5 values, found 3");
  EXPECT_EQ(jsonlError("{\"x\": [1,2,3,4], \"y\": 1, \"y\": 2}"),
            "bad.jsonl:2: duplicate key 'y'");
  // Lines that do not parse name the byte where JSON stops making sense.
  EXPECT_EQ(jsonlError("{\"x\": [1,2,3,4] \"y\": 1}").substr(0, 34),
            "bad.jsonl:2:19: invalid JSON: synt");
  EXPECT_EQ(jsonlError("{\"x\": [1,2,3,4], \"y\": 1} trailing").substr(0, 30),
            "bad.jsonl:2:28: invalid JSON: ");
  EXPECT_EQ(jsonlError(std::string(40, '[')).substr(0, 30),
            "bad.jsonl:2:41: invalid JSON: ");
  // A number beyond f64 is an error of its own kind in the JSON library.
  EXPECT_EQ(jsonlError("{\"x\": [1,2,3,-53e0493e0], \"y\": 1}").substr(0, 50),
            "bad.jsonl:2: invalid JSON: number overflow parsing");
}

// What spreadsheets and other tools write: a byte-order mark, escaped
// keys, keys this record does not bind whatever their values, CR line ends.
TEST(JsonLinesTest, ReadsWhatOtherToolsWrite) {
  std::string dir = scratch("jsonl_tools");
  std::string path = write(dir, "c.jsonl",
                           "\xEF\xBB\xBF{\"\\u0079\": 3, \"x\": [1, 2, 3, 4], "
                           "\"meta\": [{\"a\": 1}, {\"b\": [2]}]}\r{\"x\": [5, "
                           "6, 7, 8], \"y\": 4}\r");
  Columns c;
  std::string error;
  ASSERT_TRUE(ok(loadJsonLines(path, exampleLayout(), c), error)) << error;
  ASSERT_EQ(c.records, 2);
  EXPECT_EQ(reinterpret_cast<const int32_t *>(c.columns[1].data())[0], 3);
  EXPECT_EQ(reinterpret_cast<const float *>(c.columns[0].data())[7], 8.0f);
}

// --- client directories and partitions
// -------------------------------------------

TEST(ClientDataTest, DirectoryIsOneClientPerFileSortedByName) {
  std::string dir = scratch("clients_dir");
  write(dir, "b.csv", "v\n1\n2\n");
  write(dir, "a.jsonl", "{\"v\": 5}\n");
  write(dir, ".hidden", "ignored");
  ClientDataset d;
  std::string error;
  ASSERT_TRUE(
      ok(loadClients(type("seq<f32>"), DataSource{dir, "", 0, 0}, d), error))
      << error;
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.names[0], "a.jsonl");
  EXPECT_EQ(d.clients[0].records, 1);
  EXPECT_EQ(d.clients[1].records, 2);
  std::vector<uint64_t> slots;
  d.slots(1, slots);
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[0], 2u);
  EXPECT_EQ(reinterpret_cast<const float *>(slots[1])[1], 2.0f);
}

// Which files are clients (docs/runtime.md, "Data"): .csv, .jsonl and
// .ndjson, each optionally .gz; hidden files are ignored silently, others
// (a README, an editor backup) are ignored with a note naming them.
TEST(ClientDataTest, OnlyDataFilesAreClients) {
  std::string dir = scratch("clients_rule");
  write(dir, "a.csv", "v\n1\n");
  write(dir, "a.csv~", "v\n99\n");
  write(dir, "README.txt", "about the data");
  write(dir, "b.ndjson", "{\"v\": 2}\n");
  write(dir, ".c.csv", "v\n5\n");
  ClientDataset d;
  std::vector<std::string> notes;
  std::string error;
  ASSERT_TRUE(
      ok(loadClients(type("seq<f32>"), DataSource{dir, "", 0, 0}, d, &notes),
         error))
      << error;
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.names[0], "a.csv");
  EXPECT_EQ(d.names[1], "b.ndjson");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("README.txt"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("a.csv~"), std::string::npos) << notes[0];
  EXPECT_TRUE(isClientFile("x.jsonl.gz"));
  EXPECT_FALSE(isClientFile("x.csv.bak"));
  EXPECT_FALSE(isClientFile(".x.csv"));
}

TEST(ClientDataTest, SingleRecordClientsPassTheirValue) {
  std::string dir = scratch("clients_single");
  write(dir, "a.csv", "t\n-7\n");
  write(dir, "b.csv", "t\n1\n2\n");
  ClientDataset d;
  std::string error;
  EXPECT_FALSE(
      ok(loadClients(type("i32"), DataSource{dir, "", 0, 0}, d), error));
  // The file's path, not just its name, in every error.
  EXPECT_EQ(error, dir + "/b.csv: a client value of type i32 is one record, "
                         "found 2");
  fs::remove(fs::path(dir) / "b.csv");
  ASSERT_TRUE(
      ok(loadClients(type("i32"), DataSource{dir, "", 0, 0}, d), error));
  std::vector<uint64_t> slots;
  d.slots(0, slots);
  EXPECT_EQ(static_cast<int64_t>(slots[0]), -7); // sign-extended (abi.h)
}

TEST(ClientDataTest, PartitionErrorsAreClear) {
  std::string dir = scratch("clients_partition");
  std::string file = write(dir, "all.csv", "x,y\n1,0\n2,1\n3,0\n4,1\n");
  ClientDataset d;
  std::string error;
  TypeDesc t = type("seq<E{x:f32,y:i32}>");
  ASSERT_TRUE(ok(loadClients(t, DataSource{file, "iid", 2, 1}, d), error))
      << error;
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.clients[0].records + d.clients[1].records, 4);
  ASSERT_TRUE(ok(loadClients(t, DataSource{file, "by:y", 0, 1}, d), error))
      << error;
  EXPECT_EQ(d.size(), 2u);
  EXPECT_FALSE(ok(loadClients(t, DataSource{file, "iid", 0, 1}, d), error));
  EXPECT_EQ(error, "--partition iid needs --clients N (N >= 1)");
  EXPECT_FALSE(ok(loadClients(t, DataSource{file, "by:z", 0, 1}, d), error));
  EXPECT_EQ(error, "--partition by:z: the record has no scalar field 'z'");
  EXPECT_FALSE(ok(loadClients(type("seq<E{x:f32,w:f32}>"),
                              DataSource{write(dir, "w.csv", "x,w\n1,2\n"),
                                         "dirichlet:0.5", 2, 1},
                              d),
                  error));
  EXPECT_NE(error.find("needs an integer label field ('y' or 'label')"),
            std::string::npos);
  EXPECT_FALSE(ok(loadClients(t, DataSource{file, "zipf", 2, 1}, d), error));
  EXPECT_FALSE(
      ok(loadClients(t, DataSource{dir + "/nope", "", 0, 1}, d), error));
  EXPECT_NE(error.find("nope: no such file or directory"), std::string::npos);
  EXPECT_FALSE(ok(loadClients(t, DataSource{dir, "iid", 2, 1}, d), error));
  EXPECT_NE(error.find("--partition splits one file, not a directory"),
            std::string::npos);
  std::string empty = scratch("clients_empty_dir");
  EXPECT_FALSE(ok(loadClients(t, DataSource{empty, "", 0, 1}, d), error));
  EXPECT_NE(error.find("no client files"), std::string::npos);
}

// --- plan table and values
// ---------------------------------------------------------

TEST(PlanTableTest, TypesRoundTripAndMalformedOnesAreRefused) {
  for (const char *text :
       {"f32", "i64[?,3]", "M{w:f32[64,10],b:f32[10]}", "(f32,(i32,bool[2]))",
        "seq<E{x:f32[64],y:i32}>", "E{}"}) {
    EXPECT_EQ(type(text).str(), text);
  }
  EXPECT_EQ(type("M{w:f32[64,10],b:f32[10]}").slots(), 5u);
  EXPECT_EQ(type("seq<E{x:f32[64],y:i32}>").slots(), 3u);
  for (const char *bad : {"", "f32[", "f32[x]", "M{w f32}", "(f32", "seq<f32",
                          "f32 junk", "f32[1234567890123]"})
    EXPECT_FALSE(parseType(bad).ok()) << bad;
  // Every type survives plan.proto unchanged.
  for (const char *text : {"f32", "i64[?,3]", "M{w:f32[64,10],b:(f64,bool)}",
                           "seq<E{x:f32[64],y:i32}>"}) {
    proto::Type p;
    type(text).toProto(p);
    absl::StatusOr<TypeDesc> back = TypeDesc::fromProto(p);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->str(), text);
    EXPECT_TRUE(*back == type(text));
  }
  proto::Type unset;
  EXPECT_FALSE(TypeDesc::fromProto(unset).ok());
  proto::Type badElement;
  badElement.mutable_tensor()->set_element(static_cast<proto::Element>(99));
  EXPECT_FALSE(TypeDesc::fromProto(badElement).ok());

  // Plans that are not this version's, or whose indices point nowhere, or
  // that lack their entry computation, are refused with a reason.
  PlanTable plan;
  StageFn none[1] = {nullptr};
  auto loadText = [&](proto::Plan p) {
    std::string bytes;
    p.SerializeToString(&bytes);
    return loadPlan(bytes.data(), bytes.size(), none, 1, plan);
  };
  proto::Plan p;
  EXPECT_NE(loadText(p).message().find("plan version 0"), std::string::npos);
  p.set_version(proto::PLAN_VERSION_CURRENT);
  p.set_main("m");
  EXPECT_EQ(loadText(p).message(), "computation 'm' is missing");
  proto::Computation *c = p.add_computations();
  c->set_name("m");
  c->set_update_fn(7);
  EXPECT_EQ(loadText(p).message(),
            "computation 'm': function index 7 is out of range");
  c->set_update_fn(0);
  EXPECT_TRUE(loadText(p).ok());
  EXPECT_FALSE(loadPlan("\xff\xff", 2, none, 1, plan).ok());
}

TEST(ValueTest, JsonIsShortestRoundTripAndShaped) {
  TypeDesc t = type("S{a:f32[2,2],b:(i32,bool),c:f64}");
  HostValue v = HostValue::zeros(t);
  float a[4] = {0.1f, 1e-8f, -2.5f, 3};
  std::memcpy(v.leaves[0].data.get(), a, sizeof a);
  v.leaves[1].as<int32_t>()[0] = -7;
  v.leaves[2].as<uint8_t>()[0] = 1;
  v.leaves[3].as<double>()[0] = 0.1;
  EXPECT_EQ(
      toJson(t, v),
      "{\"a\": [[0.1, 1e-08], [-2.5, 3]], \"b\": [-7, true], \"c\": 0.1}");
  std::string bytes;
  serialize(v, bytes);
  HostValue back;
  size_t pos = 0;
  std::string error;
  ASSERT_TRUE(deserialize(t, bytes, pos, back, error));
  EXPECT_EQ(toJson(t, back), toJson(t, v));
  EXPECT_EQ(pos, bytes.size());
}

} // namespace
} // namespace fedrt

namespace fedrt {
namespace {

// --- hostile files and values (found by review)
// ---------------------------------

TEST(HostileDataTest, TruncatedGzipNulBytesAndNonFiniteValuesAreErrors) {
  std::string dir = scratch("hostile");
  RecordLayout layout = recordLayout(type("f64"));
  // A gzip stream cut in half.
  std::string text = "v\n";
  for (int i = 0; i < 20000; ++i)
    text += std::to_string(i) + "\n";
  std::string gz = (fs::path(dir) / "whole.csv.gz").string();
  gzFile w = gzopen(gz.c_str(), "wb");
  gzwrite(w, text.data(), static_cast<unsigned>(text.size()));
  gzclose(w);
  std::ifstream whole(gz, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(whole)), {});
  std::string cut = write(dir, "cut.csv.gz", bytes.substr(0, bytes.size() / 2));
  Columns c;
  std::string error;
  EXPECT_FALSE(ok(loadCsv(cut, layout, c), error));
  EXPECT_NE(error.find("cut.csv.gz: read error: unexpected end of file"),
            std::string::npos)
      << error;
  // The same for JSON Lines ([value] per line).
  std::string json;
  for (int i = 0; i < 20000; ++i)
    json += "[" + std::to_string(i) + "]\n";
  std::string jgz = (fs::path(dir) / "whole.jsonl.gz").string();
  w = gzopen(jgz.c_str(), "wb");
  gzwrite(w, json.data(), static_cast<unsigned>(json.size()));
  gzclose(w);
  std::ifstream wholeJson(jgz, std::ios::binary);
  std::string jbytes((std::istreambuf_iterator<char>(wholeJson)), {});
  std::string cutJson =
      write(dir, "cut.jsonl.gz", jbytes.substr(0, jbytes.size() / 2));
  EXPECT_FALSE(ok(loadJsonLines(cutJson, layout, c), error));
  EXPECT_NE(error.find("read error: unexpected end of file"), std::string::npos)
      << error;
  std::string nul = write(dir, "nul.csv", std::string("v\n1\0junk\n2\n", 11));
  EXPECT_FALSE(ok(loadCsv(nul, layout, c), error));
  EXPECT_NE(error.find("nul.csv:2: a NUL byte"), std::string::npos) << error;
  EXPECT_TRUE(
      ok(loadCsv(write(dir, "sub.csv", "v\n1e-310\n"), layout, c), error))
      << error;
  for (const char *bad : {"inf", "-inf", "nan", "1e999"}) {
    EXPECT_FALSE(
        ok(loadCsv(write(dir, "bad.csv", std::string("v\n") + bad + "\n"),
                   layout, c),
           error))
        << bad;
    EXPECT_NE(error.find("expected f64"), std::string::npos) << error;
  }
}

TEST(HostileDataTest, PartitionByFloatKeysKeepsDistinctValues) {
  std::string dir = scratch("byfloat");
  std::string file =
      write(dir, "d.csv", "k,v\n0.2,1\n0.7,2\n1e30,3\n-1e30,4\n0.2,5\n");
  ClientDataset d;
  std::string error;
  ASSERT_TRUE(ok(loadClients(type("seq<R{k:f32,v:f32}>"),
                             DataSource{file, "by:k", 0, 1}, d),
                 error))
      << error;
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d.sourceRecords[0], (std::vector<int64_t>{0, 4}));
}

TEST(HostileDataTest, CheckpointRoundsAndTrailingBytesAreValidated) {
  std::string dir = scratch("ckpt_hostile");
  TypeDesc t = type("S{w:f32[3,2],n:i32}");
  std::string error;
  Checkpoint c = sample(t);
  c.round = int64_t(1) << 41;
  ASSERT_TRUE(ok(writeCheckpoint(dir, c), error));
  Checkpoint back;
  EXPECT_FALSE(resumeFrom(dir, t, 0xfeed, back, error));
  EXPECT_NE(error.find("corrupt (round"), std::string::npos) << error;
  // Bytes after the state, with a checksum that matches them: refused.
  c = sample(t);
  ASSERT_TRUE(ok(writeCheckpoint(dir, c), error));
  std::ifstream in(checkpointPath(dir), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  in.close();
  bytes.resize(bytes.size() - 8); // drop the checksum
  bytes += "extra";
  uint64_t h = 0xcbf29ce484222325ull; // FNV-1a, as Checkpoint.cpp
  for (unsigned char ch : bytes) {
    h ^= ch;
    h *= 0x100000001b3ull;
  }
  bytes.append(reinterpret_cast<const char *>(&h), 8);
  write(dir, "state.ckpt", bytes);
  EXPECT_FALSE(resumeFrom(dir, t, 0xfeed, back, error));
  EXPECT_NE(error.find("corrupt (data after the state)"), std::string::npos)
      << error;
}

TEST(HostileDataTest, ArenaLimitDoesNotDependOnEarlierInvocations) {
  Context ctx;
  ctx.limit = uint64_t(64) << 20;
  // An earlier invocation leaves chunks behind.
  fedrt_arena_alloc(&ctx, uint64_t(40) << 20);
  fedrt_arena_alloc(&ctx, uint64_t(20) << 20);
  ASSERT_EQ(ctx.failed, 0);
  reset(ctx);
  // This one needs 10 + 50 MiB of the 64 MiB limit: fine whatever came
  // before (chunks it skips over do not count).
  fedrt_arena_alloc(&ctx, uint64_t(10) << 20);
  fedrt_arena_alloc(&ctx, uint64_t(50) << 20);
  EXPECT_EQ(ctx.failed, 0) << ctx.what;
  fedrt_arena_alloc(&ctx, uint64_t(10) << 20);
  EXPECT_EQ(ctx.failed, 1);
  trim(ctx, uint64_t(1) << 20);
  EXPECT_LE(arenaCapacity(ctx), uint64_t(1) << 20);
}

} // namespace
} // namespace fedrt
