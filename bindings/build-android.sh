#!/usr/bin/env bash
# Builds libchiiki_ffi.so for the Android app (minSdk 30) with cargo-ndk, for arm64-v8a and
# armeabi-v7a, into android/app/src/main/jniLibs/<abi>/. The app's Kotlin is the committed
# bindings/generated/kotlin-android (android = true flavour); JNA loads the library by name.
#
# Every LOAD segment is aligned for 16 KB pages (Google Play requires it for Android 15+
# devices; NDK r28+ does it by default, older NDKs need the linker flag below).
#
# Needs the Android NDK (ANDROID_NDK_HOME, r27 or later), cargo-ndk (cargo install cargo-ndk)
# and the Rust targets:
#   rustup target add aarch64-linux-android armv7-linux-androideabi
# Usage: bindings/build-android.sh [JNI_LIBS_DIR]   (default: android/app/src/main/jniLibs)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/android/app/src/main/jniLibs}
min_sdk=30

command -v cargo-ndk >/dev/null || { echo "build-android.sh: cargo-ndk not found (cargo install cargo-ndk)" >&2; exit 1; }
[ -n "${ANDROID_NDK_HOME:-}" ] || { echo "build-android.sh: set ANDROID_NDK_HOME to the NDK" >&2; exit 1; }

# cargo-ndk keeps RUSTFLAGS and adds its own (target-specific rustflags in .cargo/config.toml
# would be overridden by it), so the page-size flag goes here.
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C link-arg=-Wl,-z,max-page-size=16384"

mkdir -p "$out"
# No default features: the phone library carries neither the bindings generator nor the
# terminal wallet's dependencies.
(cd "$root" && cargo ndk \
  --target arm64-v8a \
  --target armeabi-v7a \
  --platform "$min_sdk" \
  --output-dir "$out" \
  build --release --locked -p chiiki-ffi --lib --no-default-features)

# Check the alignment when the NDK's readelf is at hand (it is not on every machine).
readelf=$(find "$ANDROID_NDK_HOME/toolchains/llvm/prebuilt" -name llvm-readelf -type f 2>/dev/null | head -n 1 || true)
if [ -n "$readelf" ]; then
  for abi in arm64-v8a armeabi-v7a; do
    if "$readelf" -lW "$out/$abi/libchiiki_ffi.so" | awk '$1 == "LOAD" && $NF != "0x4000" { bad = 1 } END { exit bad }'; then
      echo "$abi: LOAD segments aligned to 16 KB"
    else
      echo "build-android.sh: $abi/libchiiki_ffi.so is not 16 KB aligned" >&2
      exit 1
    fi
  done
fi
echo "built $out/{arm64-v8a,armeabi-v7a}/libchiiki_ffi.so"
