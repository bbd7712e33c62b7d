#!/usr/bin/env python3
"""Parse Swift sources with tree-sitter-swift and fail on any syntax error.

The generated Swift bindings (bindings/generated/swift) cannot be compiled on this Linux
machine, but they can be parsed: a parse with an ERROR or MISSING node means the generator (or
a doc comment we wrote) produced Swift that Xcode would reject.

Usage: python3 tests/parse_swift.py PATH...   (files, or directories searched for *.swift)
Needs the PyPI packages tree-sitter (0.25+) and tree-sitter-swift (0.7+).
"""

import sys
from pathlib import Path

import tree_sitter
import tree_sitter_swift


def swift_files(paths):
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(path.rglob("*.swift"))
        elif path.is_file():
            yield path
        else:
            raise SystemExit(f"parse_swift: no such file or directory: {path}")


def problems(tree, source_lines):
    """Every ERROR and MISSING node, as 'line:column: what' (1-based), in source order."""
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        # Subtrees without errors need no visit: tree-sitter marks every ancestor of one.
        if not (node.has_error or node.is_missing):
            continue
        if node.is_error or node.is_missing:
            row, column = node.start_point
            kind = f"missing {node.type!r}" if node.is_missing else "syntax error"
            line = source_lines[row] if row < len(source_lines) else ""
            found.append((row, column, f"{row + 1}:{column + 1}: {kind}: {line.strip()[:120]}"))
        stack.extend(reversed(node.children))
    return [text for _, _, text in sorted(found)]


def main(argv):
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
    passed = failed = 0
    for path in swift_files(argv):
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
        print("parse_swift: no Swift files found", file=sys.stderr)
        return 1
    print(f"swift: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
