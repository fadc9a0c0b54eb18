#!/usr/bin/env python3
"""The editor files against the compiler's tables, without Node: the
grammar's intrinsics, builtins and element types are exactly those of
Intrinsics.def, Builtins.def and Elements.def; every keyword of
grammar/Fed.g4 is highlighted and never taken for a declared name; the VS
Code extension's manifest, language configuration and grammar are valid
JSON and point at each other.

usage: check_vocabulary.py SOURCE_DIR
"""
import json
import pathlib
import re
import sys

src = pathlib.Path(sys.argv[1])
vscode = src / "editors" / "vscode"
problems = []


def table(path, macro):
    text = (src / path).read_text()
    return set(re.findall(r"^" + macro + r'\(\w+, "(\w+)"', text, re.M))


def words(pattern):
    """The alternatives of the first `(?:a|b|c)` group of a regex."""
    m = re.search(r"\(\?:([\w|]+)\)", pattern)
    return set(m.group(1).split("|")) if m else set()


def repo_words(grammar, key, name_prefix):
    found = set()
    for p in grammar["repository"][key]["patterns"]:
        if p.get("name", "").startswith(name_prefix):
            found |= words(p["match"])
    return found


def compare(what, have, want):
    if have != want:
        problems.append(f"{what}: grammar lacks {sorted(want - have)}, "
                        f"has extra {sorted(have - want)}")


grammar = json.loads((vscode / "syntaxes" / "fed.tmLanguage.json").read_text())
compare("intrinsics", repo_words(grammar, "intrinsics", "support.function"),
        table("compiler/sema/Intrinsics.def", "INTRINSIC"))
compare("builtins", repo_words(grammar, "builtins", "support.function"),
        table("compiler/sema/Builtins.def", "BUILTIN"))
compare("element types", repo_words(grammar, "types", "storage.type.primitive"),
        table("runtime/include/fedrt/Elements.def", "ELEMENT"))

g4 = (src / "grammar" / "Fed.g4").read_text()
keywords = set(re.findall(r"^KW_\w+\s*:\s*'(\w+)'", g4, re.M))
scalars = set(re.findall(r"'(\w+)'", re.search(r"^SCALAR_TYPE\s*:(.*);", g4, re.M).group(1)))
highlighted = set()
for key in ("keywords", "types", "placements"):
    for p in grammar["repository"][key]["patterns"]:
        # The words a pattern spells out (escapes like \b removed).
        text = re.sub(r"\\[a-zA-Z]", " ", p.get("match", ""))
        highlighted |= set(re.findall(r"[A-Za-z_]\w*", text))
missing = (keywords | scalars) - highlighted
if missing:
    problems.append(f"keywords not highlighted: {sorted(missing)}")
for p in grammar["repository"]["declarations"]["patterns"]:
    excluded = words(p["match"].split("(?!", 1)[1]) if "(?!" in p["match"] else set()
    if (keywords | scalars) - excluded:
        problems.append(f"declaration {p['match'][:30]}... may take keywords "
                        f"{sorted((keywords | scalars) - excluded)} for names")

manifest = json.loads((vscode / "package.json").read_text())
config = json.loads((vscode / "language-configuration.json").read_text())
lang = manifest["contributes"]["languages"][0]
gram = manifest["contributes"]["grammars"][0]
if ".fed" not in lang["extensions"] or gram["language"] != lang["id"]:
    problems.append("package.json: the language and its grammar disagree")
if gram["scopeName"] != grammar["scopeName"]:
    problems.append("package.json names another scope than the grammar")
for rel in (lang["configuration"], gram["path"], manifest["main"]):
    if not (vscode / rel).is_file():
        problems.append(f"package.json points at missing {rel}")
if config["comments"] != {"lineComment": "//", "blockComment": ["/*", "*/"]}:
    problems.append("language-configuration.json: comments are // and /* */")
if sorted(map(tuple, config["brackets"])) != [("(", ")"), ("[", "]"), ("{", "}")]:
    problems.append("language-configuration.json: brackets are (), [] and {}")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"editor vocabulary: ok ({len(keywords)} keywords, {len(scalars)} element types)")
