#!/usr/bin/env python3
"""Parse Kotlin sources (and Gradle Kotlin scripts) with tree-sitter-kotlin; fail on any
syntax error.

The Android app's screens module and its platform-free glue compile on a desktop JVM
(tests/screens). The rest of android/ (the Activity, CameraX, Android Keystore, biometrics,
notifications, the Gradle build) needs the Android SDK, which this Linux machine does not
have, so it is parsed instead: an ERROR or MISSING node is Kotlin that Android Studio would
reject.

Usage: python3 tests/parse_kotlin.py PATH...   (files, or directories searched for *.kt, *.kts)
Needs the PyPI packages tree-sitter (0.25+), tree-sitter-kotlin (1.1+) and, for the shared
error walk, tree-sitter-swift (see parse_swift.py beside this file).
"""

import sys
from pathlib import Path

import tree_sitter
import tree_sitter_kotlin

from parse_swift import problems


def kotlin_files(paths):
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".kt", ".kts") and "build" not in p.parts)
        elif path.is_file():
            yield path
        else:
            raise SystemExit(f"parse_kotlin: no such file or directory: {path}")


def main(argv):
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_kotlin.language()))
    passed = failed = 0
    for path in kotlin_files(argv):
        source = path.read_bytes()
        found = problems(parser.parse(source), source.decode("utf-8", "replace").splitlines())
        if found:
            failed += 1
            print(f"{path}: {len(found)} problem(s)")
            for text in found[:20]:
                print(f"  {path}:{text}")
        else:
            passed += 1
    if passed + failed == 0:
        print("parse_kotlin: no Kotlin files found", file=sys.stderr)
        return 1
    print(f"kotlin: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
