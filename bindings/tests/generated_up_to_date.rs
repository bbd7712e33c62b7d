//! The committed Swift and Kotlin bindings (bindings/generated/) must be exactly what
//! `bindings/generate.sh` makes from this build of the library; otherwise a shell would call
//! into a library whose interface (or checksums) differ, and fail at start-up on a phone.
//! Regenerates into a temporary directory with the uniffi-bindgen and cdylib cargo built for
//! this test, and compares file by file.

use std::{
    collections::BTreeMap,
    env::consts::{DLL_PREFIX, DLL_SUFFIX},
    fs,
    path::{Path, PathBuf},
    process::Command,
};

fn files_under(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let relative = path.strip_prefix(root).expect("under root").to_path_buf();
                files.insert(relative, fs::read(&path).expect("read a generated file"));
            }
        }
    }
    files
}

#[test]
fn committed_bindings_match_the_library() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bindgen = PathBuf::from(env!("CARGO_BIN_EXE_uniffi-bindgen"));
    let profile_dir = bindgen.parent().expect("the binary sits in a directory");
    // `cargo test` builds the library only as an rlib; the bindings are read from the cdylib,
    // so build it here, in the same target directory (fresh, and so quick, when it is there).
    let target_dir = profile_dir.parent().expect("target/<profile>");
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "-p", "chiiki-ffi", "--lib"]);
    // Cargo gives this test process variables about its own crate; build scripts (ring's)
    // watch some of them, so inherited they would make the build differ from a plain one and
    // each would rebuild after the other.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let about_this_test = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
            || matches!(
                &*name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if about_this_test {
            build.env_remove(&*name);
        }
    }
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let built = build
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(crate_dir)
        .status()
        .expect("run cargo build");
    assert!(built.success(), "building the cdylib failed: {built}");
    let library = profile_dir.join(format!("{DLL_PREFIX}chiiki_ffi{DLL_SUFFIX}"));
    assert!(library.exists(), "{} is missing", library.display());

    let fresh = tempfile::tempdir().expect("temp dir");
    let status = Command::new("bash")
        .arg(crate_dir.join("generate.sh"))
        .arg(fresh.path())
        .env("CHIIKI_FFI_LIBRARY", &library)
        .env("UNIFFI_BINDGEN", &bindgen)
        .status()
        .expect("run generate.sh");
    assert!(status.success(), "generate.sh failed: {status}");

    let committed = files_under(&crate_dir.join("generated"));
    let generated = files_under(fresh.path());
    let stale: Vec<String> = generated
        .keys()
        .chain(committed.keys())
        .filter(|path| committed.get(*path) != generated.get(*path))
        .map(|path| path.display().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        stale.is_empty(),
        "the committed bindings are stale ({}); run bindings/generate.sh and commit the result",
        stale.join(", ")
    );
}
