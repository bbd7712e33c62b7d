#!/usr/bin/env bash
# Builds ChiikiFFI.xcframework for the iOS app (iOS 13+) from chiiki-ffi's static library:
#   ios-arm64                  aarch64-apple-ios        (devices)
#   ios-arm64_x86_64-simulator aarch64-apple-ios-sim + x86_64-apple-ios (simulators, one fat lib)
# each with the generated C header and its module map, so that the committed
# bindings/generated/swift/ChiikiFFI.swift (add it to the app target) can `import chiiki_ffiFFI`.
#
# Needs macOS with Xcode (xcodebuild, lipo) and the Rust targets:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
# Usage: bindings/build-ios.sh [OUT_DIR]   (default: target/ios)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/target/ios}
target_dir=${CARGO_TARGET_DIR:-$root/target}
generated="$here/generated/swift"

# The deployment target reaches rustc and every C file built by build scripts (ring, SQLite).
export IPHONEOS_DEPLOYMENT_TARGET=13.0

for tool in cargo xcodebuild lipo; do
  command -v "$tool" >/dev/null || { echo "build-ios.sh: $tool not found (run on macOS with Xcode)" >&2; exit 1; }
done

targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
for target in "${targets[@]}"; do
  # No default features: the phone library carries neither the bindings generator nor the
  # terminal wallet's dependencies.
  (cd "$root" && cargo build --release --locked -p chiiki-ffi --lib --no-default-features --target "$target")
done

work="$out/work"
rm -rf "$work" "$out/ChiikiFFI.xcframework"
mkdir -p "$work/headers" "$work/device" "$work/simulator"

# One headers directory for both slices: the C header and a module map named module.modulemap,
# which is the name Xcode looks for inside an xcframework.
cp "$generated/chiiki_ffiFFI.h" "$work/headers/"
cp "$generated/chiiki_ffiFFI.modulemap" "$work/headers/module.modulemap"

cp "$target_dir/aarch64-apple-ios/release/libchiiki_ffi.a" "$work/device/libchiiki_ffi.a"
lipo -create \
  "$target_dir/aarch64-apple-ios-sim/release/libchiiki_ffi.a" \
  "$target_dir/x86_64-apple-ios/release/libchiiki_ffi.a" \
  -output "$work/simulator/libchiiki_ffi.a"

xcodebuild -create-xcframework \
  -library "$work/device/libchiiki_ffi.a" -headers "$work/headers" \
  -library "$work/simulator/libchiiki_ffi.a" -headers "$work/headers" \
  -output "$out/ChiikiFFI.xcframework"

rm -rf "$work"
echo "built $out/ChiikiFFI.xcframework; add it and $generated/ChiikiFFI.swift to the app target"
