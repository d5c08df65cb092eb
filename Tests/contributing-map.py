#!/usr/bin/env python3
"""Keeps CONTRIBUTING.md's map of the code true, file by file.

Fails (exit 1, listing every problem) when
  - a source file under Sources/ (*.swift, *.c, *.h, module maps) is not named in
    CONTRIBUTING.md: by its file name when that name is unique under Sources/, else by a
    path long enough to tell it apart (`CZstd/shim.h`);
  - CONTRIBUTING.md names a `*.swift` file (bare, with a path, or a `Name*.swift` pattern)
    that exists nowhere in the repository;
  - CONTRIBUTING.md names a path under `Sources/` that does not exist.

`./dev test` runs it first. No dependencies beyond python3; run it from anywhere:
    python3 Tests/contributing-map.py
"""
import fnmatch
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = "CONTRIBUTING.md"
SOURCE_SUFFIXES = (".swift", ".c", ".h", ".modulemap")
NAME_CHARS = r"A-Za-z0-9_+\-"


def repository_files():
    """Every file of the working tree, relative to ROOT, skipping hidden and build folders."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "dist"]
        for name in files:
            found.append(os.path.relpath(os.path.join(folder, name), ROOT).replace(os.sep, "/"))
    return found


def mentions(text, suffix_pattern):
    """Path-like tokens in `text` that end in one of the suffixes (`a/b/C.swift`, `C.swift`)."""
    token = re.compile(
        r"(?<![" + NAME_CHARS + r"./*])((?:[" + NAME_CHARS + r".*]+/)*[" + NAME_CHARS + r"*.]*?"
        r"[" + NAME_CHARS + r"*]" + suffix_pattern + r")(?![" + NAME_CHARS + r"])")
    return {m.group(1) for m in token.finditer(text)}


def ends_with_path(path, mention):
    """Whether `mention` names `path`: equal, or a suffix starting at a folder boundary."""
    return path == mention or path.endswith("/" + mention)


def main():
    doc_path = os.path.join(ROOT, DOC)
    try:
        text = open(doc_path, encoding="utf-8").read()
    except OSError as error:
        print(f"contributing-map: cannot read {DOC}: {error}", file=sys.stderr)
        return 1

    files = repository_files()
    sources = sorted(f for f in files if f.startswith("Sources/") and f.endswith(SOURCE_SUFFIXES))
    by_name = {}
    for path in sources:
        by_name.setdefault(os.path.basename(path), []).append(path)

    named = mentions(text, r"\.(?:swift|c|h|modulemap)")
    problems = []

    # 1. Every source file is named.
    for path in sources:
        base = os.path.basename(path)
        unique = len(by_name[base]) == 1
        ok = any(
            (unique and mention == base) or ("/" in mention and ends_with_path(path, mention))
            for mention in named
            if "*" not in mention
        )
        if not ok:
            how = "" if unique else f" (its name is shared: write it with its folder, e.g. `{'/'.join(path.split('/')[-2:])}`)"
            problems.append(f"{path}: not named in {DOC}{how}")

    # 2. Every named .swift file exists somewhere in the repository.
    for mention in sorted(m for m in named if m.endswith(".swift")):
        if "*" in mention:
            exists = any(fnmatch.fnmatchcase(f, "*" + mention) or fnmatch.fnmatchcase(os.path.basename(f), mention)
                         for f in files)
        elif "/" in mention:
            exists = any(ends_with_path(f, mention) for f in files)
        else:
            exists = any(os.path.basename(f) == mention for f in files)
        if not exists:
            problems.append(f"{DOC} names {mention}, which exists nowhere in the repository")

    # 3. Every other Sources/ path it names exists (a folder, a catalog, a C file).
    for m in sorted(set(re.findall(r"(?<![" + NAME_CHARS + r"./])(Sources/[" + NAME_CHARS + r"./]*[" + NAME_CHARS + r"])", text))):
        if not m.endswith(".swift") and not os.path.exists(os.path.join(ROOT, m)):
            problems.append(f"{DOC} names {m}, which does not exist")

    if problems:
        print(f"contributing-map: {DOC}'s map of the code is out of date ({len(problems)}):", file=sys.stderr)
        for line in problems:
            print("  " + line, file=sys.stderr)
        print(f"contributing-map: name each file in its module's table in {DOC} (\"Inside each module\"), "
              "or drop the stale name.", file=sys.stderr)
        return 1
    print(f"contributing-map: {DOC} names all {len(sources)} source files under Sources/, "
          f"and each of the {len([m for m in named if m.endswith('.swift')])} .swift names it uses exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
