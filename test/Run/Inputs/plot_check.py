"""Parses a `plot` SVG (or the SVG inside the HTML) with xml.etree and
prints, per polyline, its metric, run and number of points; then compares
them with the metrics files: one polyline per numeric metric per run, with
a point per line that has the metric.

usage: plot_check.py PICTURE RUN.jsonl...
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def main(picture, *runs):
    text = open(picture).read()
    if picture.endswith(".html"):
        text = text[text.index("<svg"):text.index("</svg>") + 6]
    root = ET.fromstring(text)
    got = {}
    for p in root.iter(NS + "polyline"):
        key = (p.get("data-metric"), p.get("data-run"))
        if key in got:
            print(f"two polylines for {key}")
        got[key] = len(p.get("points").split())
    want = {}
    for path in runs:
        name = os.path.splitext(os.path.basename(path))[0]
        for line in open(path):
            for k, v in json.loads(line).items():
                if k != "round" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    want[(k, name)] = want.get((k, name), 0) + 1
    legend = [t.text for t in root.iter(NS + "text")
              if t.text in {os.path.splitext(os.path.basename(r))[0] for r in runs}]
    print(f"{len(got)} polylines, {len(set(legend))} runs in the legend")
    print("plot: OK" if got == want else f"plot: MISMATCH {sorted(set(got.items()) ^ set(want.items()))}")


if __name__ == "__main__":
    main(*sys.argv[1:])
