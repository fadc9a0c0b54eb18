#!/usr/bin/env python3
"""Checks a Debian package's Depends against what fedc and the programs it
links need, derived independently of how the build computed the field:

  needed = the packages owning the shared libraries fedc and a compiled
           program load (their DT_NEEDED entries, resolved by ldd)
         + the packages owning what each -l of libfedrt.link links
           (as the C++ driver resolves it; -l:NAME is the file NAME)
         + the package of the linker libfedrt.link picks (-fuse-ld=lld
           with -BDIR: DIR/ld.lld)
         + the package of the C++ driver fedc links with.

Depends is exact when every package it names is needed (nothing extra) and
every needed package is named or brought in by a named one (following the
Depends of the installed packages).

usage: deb_depends.py DEB_FILE FEDC PROGRAM LINK_LIST LINKER
"""
import os
import re
import subprocess
import sys


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout


def owner(path):
    """The package owning `path` (through merged-/usr and symlinks)."""
    candidates = [os.path.normpath(path)]
    for p in list(candidates):
        for a, b in (("/usr/lib/", "/lib/"), ("/lib/", "/usr/lib/")):
            if p.startswith(a):
                candidates.append(b + p[len(a):])
    candidates.append(os.path.realpath(path))
    for p in candidates:
        out = run("dpkg-query", "-S", p)
        if out:
            return out.split(":")[0].strip()
    return None


def shared_library_packages(binary):
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                            run("readelf", "-d", binary)))
    ldd = run("ldd", binary)
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    # The dynamic loader has no `=>`: "\t/lib64/ld-linux-x86-64.so.2 (0x..)".
    for path in re.findall(r"^\s*(/\S+) \(", ldd, re.M):
        paths.setdefault(os.path.basename(path), path)
    packages = set()
    for lib in sorted(needed):
        if lib not in paths:
            sys.exit(f"{binary}: {lib} not found by ldd")
        pkg = owner(paths[lib])
        if not pkg:
            sys.exit(f"no package owns {paths[lib]} ({lib} of {binary})")
        packages.add(pkg)
    return packages


def link_packages(link_list, linker):
    packages = set()
    lines = open(link_list).read().split()
    prefixes = [line[2:] for line in lines if line.startswith("-B")]
    for line in lines:
        if line.startswith("-fuse-ld="):
            tool = "ld." + line[len("-fuse-ld="):]
            found = [os.path.join(d, tool) for d in prefixes
                     if os.path.exists(os.path.join(d, tool))]
            if not found:
                sys.exit(f"{line}: no {tool} in {prefixes}")
            packages.add(owner(found[0]) or sys.exit(f"no package owns {found[0]}"))
        if not line.startswith("-l"):
            continue
        name = line[2:]
        names = [name[1:]] if name.startswith(":") else [f"lib{name}.so", f"lib{name}.a"]
        for candidate in names:
            found = run(linker, f"-print-file-name={candidate}").strip()
            if os.path.isabs(found):
                break
        else:
            sys.exit(f"{linker} finds no library for {line}")
        pkg = owner(found)
        if not pkg:
            sys.exit(f"no package owns {found} ({line})")
        packages.add(pkg)
    return packages


def driver_package(linker):
    # /usr/bin/c++ -> /etc/alternatives/c++ -> /usr/bin/g++ (package g++):
    # the first link of the chain a package owns.
    path = linker
    for _ in range(10):
        out = run("dpkg-query", "-S", path)
        if out:
            return out.split(":")[0].strip()
        if not os.path.islink(path):
            break
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    sys.exit(f"no package owns the C++ driver {linker}")


def installed_depends():
    """Installed package -> the packages its Depends/Pre-Depends can use."""
    fmt = "${Package}\\t${Status}\\t${Depends}, ${Pre-Depends}\\t${Provides}\\n"
    providers, graph = {}, {}
    for line in run("dpkg-query", "-W", "-f=" + fmt).splitlines():
        pkg, status, deps, provides = line.split("\t")
        if not status.endswith(" installed"):
            continue
        graph[pkg] = {re.sub(r"[\s(:].*", "", alt.strip())
                      for dep in deps.split(",") for alt in dep.split("|")
                      if alt.strip()}
        for p in provides.split(","):
            if p.strip():
                providers.setdefault(re.sub(r"[\s(].*", "", p.strip()),
                                     set()).add(pkg)
    return graph, providers


def closure(names, graph, providers):
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        for pkg in {name} | providers.get(name, set()):
            if pkg in seen or pkg not in graph:
                continue
            seen.add(pkg)
            todo.extend(graph[pkg])
    return seen


def main():
    deb, fedc, program, link_list, linker = sys.argv[1:]
    field = run("dpkg-deb", "-f", deb, "Depends").strip()
    named = {re.sub(r"[\s(:].*", "", alt.strip())
             for dep in field.split(",") for alt in dep.split("|")}
    runtime = shared_library_packages(fedc) | shared_library_packages(program)
    link = link_packages(link_list, linker)
    driver = driver_package(linker)
    needed = runtime | link | {driver}
    print(f"Depends: {field}")
    print(f"needed at run time: {' '.join(sorted(runtime))}")
    print(f"needed to link: {driver} {' '.join(sorted(link))}")
    extra = named - needed
    graph, providers = installed_depends()
    missing = needed - closure(named, graph, providers)
    if extra:
        sys.exit(f"Depends names packages nothing needs: {sorted(extra)}")
    if missing:
        sys.exit(f"Depends does not bring: {sorted(missing)}")
    if driver not in named:
        sys.exit(f"Depends does not name the C++ driver's package {driver}")
    print("Depends: exact")


if __name__ == "__main__":
    main()
