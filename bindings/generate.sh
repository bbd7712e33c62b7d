#!/usr/bin/env bash
# Regenerates the committed Swift and Kotlin bindings of chiiki-ffi into bindings/generated/:
#   kotlin-jvm/      Kotlin for a desktop JVM (tests/kotlin)
#   kotlin-android/  Kotlin for the Android app (android = true)
#   swift/           Swift, C header and modulemap for the iOS app
# It builds the cdylib and the in-tree uniffi-bindgen (the same uniffi version as the
# scaffolding), then runs uniffi-bindgen in library mode with one config per flavour
# (bindings/uniffi/*.toml).
#
# Usage: bindings/generate.sh [OUT_DIR]
#   OUT_DIR defaults to bindings/generated. The drift test (tests/generated_up_to_date.rs)
#   generates into a temporary OUT_DIR and compares; it passes CHIIKI_FFI_LIBRARY and
#   UNIFFI_BINDGEN to skip the build step.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$here/generated}

library=${CHIIKI_FFI_LIBRARY:-}
bindgen=${UNIFFI_BINDGEN:-}
if [ -z "$library" ] || [ -z "$bindgen" ]; then
  target_dir=${CARGO_TARGET_DIR:-$root/target}
  (cd "$root" && cargo build --quiet -p chiiki-ffi --lib --bin uniffi-bindgen)
  case "$(uname -s)" in
    Darwin) library="$target_dir/debug/libchiiki_ffi.dylib" ;;
    *) library="$target_dir/debug/libchiiki_ffi.so" ;;
  esac
  bindgen="$target_dir/debug/uniffi-bindgen"
fi

mkdir -p "$out"
for flavour in kotlin-jvm kotlin-android swift; do
  rm -rf "${out:?}/$flavour"
  case "$flavour" in
    swift) language=swift ;;
    *) language=kotlin ;;
  esac
  # --no-format: the output must not depend on whether ktlint or swiftformat is installed.
  # --metadata-no-deps: the only crate with uniffi items is ours; its config comes from --config.
  (cd "$root" && "$bindgen" generate \
    --library \
    --crate chiiki_ffi \
    --language "$language" \
    --config "$here/uniffi/$flavour.toml" \
    --no-format \
    --metadata-no-deps \
    --out-dir "$out/$flavour" \
    "$library")
done

# Two spellings in uniffi's Swift that the Swift compiler accepts but tree-sitter-swift (which
# tests/parse_swift.py uses, since Swift cannot be compiled here) cannot parse. Both are
# rewritten to the same meaning:
# - `#if swift(>=5.8)` / `#endif` around `@_documentation(visibility: private)`: the attribute
#   is kept bare. Xcode has shipped Swift 5.8 or later since 14.3; the iOS 13 deployment target
#   is unaffected (it is about the OS, not the compiler).
# - `let writeReturn = { () }`, a closure with no parameters returning Void, becomes
#   `{ () in }`, the same closure with its empty parameter list spelled out.
perl -0pi -e '
  s/^[ \t]*#if swift\(>=5\.8\)\n([ \t]*\@_documentation\(visibility: private\)\n)[ \t]*#endif\n/$1/mg;
  s/let writeReturn = \{ \(\) \}/let writeReturn = { () in }/g;
' "$out"/swift/*.swift
