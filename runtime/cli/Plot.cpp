// `PROGRAM plot RUN.jsonl [MORE.jsonl ...] -o curves.svg|.html`
// (docs/runtime.md, "Looking at a run"): every numeric metric of the runs'
// metrics files drawn against the rounds, one panel per metric, the runs
// overlaid in each (one polyline per metric per run) with a legend. The
// SVG is written by hand: a few hundred lines of markup need no library,
// and the file opens in any browser or editor.
#include "Options.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>

namespace fedrt::cli {

namespace {

using json = nlohmann::ordered_json;

// One run: its name (the file's stem) and, per metric, (round, value).
struct Run {
  std::string name;
  std::map<std::string, std::vector<std::pair<double, double>>> series;
};

// Colour-blind-safe (Okabe and Ito, 2008), cycled.
constexpr const char *kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#000000", "#F0E442"};
constexpr double kPanelW = 440, kPanelH = 260, kMargin = 50, kLegendH = 30;

std::string escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

// A number for an axis label: short, as a person would write it.
std::string label(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

// Reads one metrics file; every numeric field but `round` is a metric.
bool readRun(const std::string &path, Run &run, std::vector<std::string> &order,
             std::string &error) {
  std::ifstream in(path);
  if (!in) {
    error = path + ": cannot read the metrics file";
    return false;
  }
  run.name = std::filesystem::path(path).stem().string();
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("round") ||
        !j["round"].is_number()) {
      error = path + ":" + std::to_string(number) +
              ": not a metrics line (a JSON object with a \"round\")";
      return false;
    }
    double round = j["round"].get<double>();
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "round" || !it.value().is_number())
        continue;
      double v = it.value().get<double>();
      if (!std::isfinite(v))
        continue;
      if (std::find(order.begin(), order.end(), it.key()) == order.end())
        order.push_back(it.key());
      run.series[it.key()].emplace_back(round, v);
    }
  }
  return true;
}

// The range of one axis, widened when it is a single value.
std::pair<double, double> padded(double lo, double hi) {
  if (lo < hi)
    return {lo, hi};
  double pad = lo == 0 ? 1 : std::abs(lo) * 0.05;
  return {lo - pad, hi + pad};
}

// One panel: frame, title, axis labels, a polyline (and markers when
// sparse) per run that has the metric.
void panel(std::ostream &svg, const std::string &metric,
           const std::vector<Run> &runs, double x0, double y0) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double xlo = kInf, xhi = -kInf, ylo = kInf, yhi = -kInf;
  for (const Run &r : runs)
    if (auto it = r.series.find(metric); it != r.series.end())
      for (auto [x, y] : it->second) {
        xlo = std::min(xlo, x), xhi = std::max(xhi, x);
        ylo = std::min(ylo, y), yhi = std::max(yhi, y);
      }
  std::tie(xlo, xhi) = padded(xlo, xhi);
  std::tie(ylo, yhi) = padded(ylo, yhi);
  double w = kPanelW - kMargin - 20, h = kPanelH - kMargin - 30;
  double left = x0 + kMargin, top = y0 + 30;
  auto px = [&](double x) { return left + (x - xlo) / (xhi - xlo) * w; };
  auto py = [&](double y) { return top + h - (y - ylo) / (yhi - ylo) * h; };
  svg << "<g class=\"panel\" data-metric=\"" << escape(metric) << "\">\n"
      << "<text x=\"" << left + w / 2 << "\" y=\"" << y0 + 18
      << "\" text-anchor=\"middle\" font-weight=\"bold\">" << escape(metric)
      << "</text>\n"
      << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << w
      << "\" height=\"" << h << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (double f : {0.0, 0.5, 1.0}) {
    double yv = ylo + f * (yhi - ylo), xv = xlo + f * (xhi - xlo);
    svg << "<text x=\"" << left - 4 << "\" y=\"" << py(yv) + 4
        << "\" text-anchor=\"end\" font-size=\"10\">" << label(yv)
        << "</text>\n"
        << "<text x=\"" << px(xv) << "\" y=\"" << top + h + 14
        << "\" text-anchor=\"middle\" font-size=\"10\">" << label(xv)
        << "</text>\n";
  }
  svg << "<text x=\"" << left + w / 2 << "\" y=\"" << top + h + 28
      << "\" text-anchor=\"middle\" font-size=\"10\">round</text>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    auto it = runs[i].series.find(metric);
    if (it == runs[i].series.end())
      continue;
    const char *colour = kColours[i % std::size(kColours)];
    svg << "<polyline class=\"series\" data-metric=\"" << escape(metric)
        << "\" data-run=\"" << escape(runs[i].name) << "\" fill=\"none\" "
        << "stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
    for (size_t k = 0; k < it->second.size(); ++k)
      svg << (k ? " " : "") << px(it->second[k].first) << ","
          << py(it->second[k].second);
    svg << "\"/>\n";
    if (it->second.size() <= 30)
      for (auto [x, y] : it->second)
        svg << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y)
            << "\" r=\"2.5\" fill=\"" << colour << "\"/>\n";
  }
  svg << "</g>\n";
}

void writeSvg(std::ostream &svg, const std::vector<Run> &runs,
              const std::vector<std::string> &metrics) {
  size_t columns = metrics.size() < 2 ? 1 : 2;
  size_t rows = (metrics.size() + columns - 1) / columns;
  double width = kPanelW * static_cast<double>(columns);
  double height = kLegendH + kPanelH * static_cast<double>(rows);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
      << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " "
      << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<g class=\"legend\">\n";
  double x = 10;
  for (size_t i = 0; i < runs.size(); ++i) {
    const char *colour = kColours[i % std::size(kColours)];
    svg << "<rect x=\"" << x << "\" y=\"10\" width=\"14\" height=\"4\" fill=\""
        << colour << "\"/><text x=\"" << x + 18 << "\" y=\"16\">"
        << escape(runs[i].name) << "</text>\n";
    x += 30 + 7.0 * static_cast<double>(runs[i].name.size());
  }
  svg << "</g>\n";
  for (size_t m = 0; m < metrics.size(); ++m) {
    size_t row = m / columns; // panels fill the rows left to right
    panel(svg, metrics[m], runs, kPanelW * static_cast<double>(m % columns),
          kLegendH + kPanelH * static_cast<double>(row));
  }
  svg << "</svg>\n";
}

} // namespace

int plotCommand(const Options &o) {
  std::string ext = std::filesystem::path(o.plotOutput).extension().string();
  if (ext != ".svg" && ext != ".html") {
    reportError("plot: -o " + o.plotOutput +
                ": the picture is FILE.svg or FILE.html");
    return 2;
  }
  std::vector<Run> runs(o.plotInputs.size());
  std::vector<std::string> metrics;
  std::string error;
  for (size_t i = 0; i < runs.size(); ++i)
    if (!readRun(o.plotInputs[i], runs[i], metrics, error)) {
      reportError("plot: " + error);
      return 1;
    }
  if (!o.plotOnly.empty()) {
    for (const std::string &m : o.plotOnly)
      if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) {
        reportError("plot: --only " + m +
                    ": no such numeric metric in the "
                    "metrics files");
        return 1;
      }
    metrics = o.plotOnly;
  }
  if (metrics.empty()) {
    reportError("plot: no numeric metric in the metrics files");
    return 1;
  }
  std::ostringstream svg;
  writeSvg(svg, runs, metrics);
  std::ofstream out(o.plotOutput, std::ios::trunc);
  if (ext == ".html")
    out << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        << "<title>metrics</title></head><body>\n"
        << svg.str() << "</body></html>\n";
  else
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" << svg.str();
  out.close();
  if (!out) {
    reportError("plot: " + o.plotOutput + ": cannot write the picture");
    return 1;
  }
  return 0;
}

} // namespace fedrt::cli
