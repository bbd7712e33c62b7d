#!/usr/bin/env python3
"""Check the iOS app's Xcode project without Xcode: it parses, it hangs together, and it builds
every Swift file there is.

Xcode cannot run on this Linux machine, but project.pbxproj is an OpenStep property list, so
what Xcode would refuse or silently leave out can be found here:
  - the file parses, and every object it refers to by id exists;
  - every file reference inside the repository points at a file or folder that exists
    (the xcframework is the one exception: bindings/build-ios.sh builds it on a Mac);
  - every Swift file under ios/Chiiki, and the generated bindings, is in the app's Sources
    phase, and no Swift file is in it twice;
  - the settings the app depends on hold (iOS 13 deployment, its Info.plist, the bundle id).

Usage: python3 tests/check_xcodeproj.py ios/Chiiki.xcodeproj
Needs the PyPI package openstep-parser (2.0+).
"""

import re
import sys
from pathlib import Path

import openstep_parser

ID = re.compile(r"^[0-9A-F]{24}$")
BUILT_ON_A_MAC = {"ChiikiFFI.xcframework"}


def referenced_ids(value):
    """Every 24-hex-digit id inside an object's fields."""
    if isinstance(value, str):
        if ID.match(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from referenced_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from referenced_ids(item)


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    project_dir = Path(argv[0])
    source_root = project_dir.parent
    with open(project_dir / "project.pbxproj", encoding="utf-8") as file:
        project = openstep_parser.OpenStepDecoder.ParseFromFile(file)
    objects = project["objects"]
    problems = []

    for oid, obj in objects.items():
        for ref in referenced_ids({k: v for k, v in obj.items() if k != "isa"}):
            if ref not in objects:
                problems.append(f"{oid} ({obj.get('isa')}) refers to missing object {ref}")
    if project["rootObject"] not in objects:
        problems.append("rootObject is missing")

    # Where each file reference lies: walk the groups from the main group.
    root = objects[project["rootObject"]]
    paths = {}

    def walk(group_id, base):
        group = objects[group_id]
        here = base / group["path"] if "path" in group else base
        for child_id in group.get("children", []):
            child = objects[child_id]
            if child["isa"] == "PBXGroup":
                walk(child_id, here)
            elif child["isa"] == "PBXFileReference":
                tree = child.get("sourceTree")
                if tree == "<group>":
                    paths[child_id] = here / child["path"]
                elif tree == "SOURCE_ROOT":
                    paths[child_id] = source_root / child["path"]

    walk(root["mainGroup"], source_root)
    for ref_id, path in paths.items():
        if not path.exists() and path.name not in BUILT_ON_A_MAC:
            problems.append(f"file reference {path} does not exist")

    targets = [objects[t] for t in root["targets"]]
    app = next((t for t in targets if t["productType"] == "com.apple.product-type.application"), None)
    if app is None:
        problems.append("no application target")
    else:
        phases = [objects[p] for p in app["buildPhases"]]
        sources = next(p for p in phases if p["isa"] == "PBXSourcesBuildPhase")
        built = [paths.get(objects[f]["fileRef"]) for f in sources["files"]]
        built_resolved = [p.resolve() for p in built if p is not None]
        if len(built_resolved) != len(set(built_resolved)):
            problems.append("a Swift file is in the Sources phase twice")
        expected = sorted((source_root / "Chiiki").rglob("*.swift"))
        expected.append(source_root / ".." / "bindings" / "generated" / "swift" / "ChiikiFFI.swift")
        for swift in expected:
            if swift.resolve() not in built_resolved:
                problems.append(f"{swift} is not in the app's Sources phase")
        for config_id in objects[app["buildConfigurationList"]]["buildConfigurations"]:
            config = objects[config_id]
            settings = config["buildSettings"]
            for key, wanted in [
                ("INFOPLIST_FILE", "Chiiki/Info.plist"),
                ("PRODUCT_BUNDLE_IDENTIFIER", "jp.chiiki.midori"),
            ]:
                if settings.get(key) != wanted:
                    problems.append(f"{config['name']}: {key} is {settings.get(key)!r}, not {wanted!r}")
    for config_id in objects[root["buildConfigurationList"]]["buildConfigurations"]:
        config = objects[config_id]
        if config["buildSettings"].get("IPHONEOS_DEPLOYMENT_TARGET") != "13.0":
            problems.append(f"{config['name']}: the deployment target is not iOS 13.0")

    for problem in problems:
        print(f"  {project_dir}: {problem}")
    verdict = f"{len(problems)} problem(s)" if problems else "consistent"
    print(f"xcodeproj: {project_dir} {verdict} ({len(objects)} objects, {len(paths)} file references)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
