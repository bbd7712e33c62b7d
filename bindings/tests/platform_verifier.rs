//! The Android start-up (src/android.rs) initialises the `rustls-platform-verifier` that this
//! crate names; reqwest verifies with the one it names. Two versions in the lockfile would be
//! two copies with two globals: the init would reach one, reqwest would panic in the other
//! ("Expect rustls-platform-verifier to be initialized") on the first HTTPS request. When
//! reqwest moves to a new major of the verifier, move the workspace dependency with it.

#[test]
fn one_platform_verifier_in_the_lockfile() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .expect("the workspace's Cargo.lock");
    let copies = lock
        .lines()
        .filter(|line| line.trim() == r#"name = "rustls-platform-verifier""#)
        .count();
    assert_eq!(
        copies, 1,
        "rustls-platform-verifier appears {copies} times in Cargo.lock"
    );
}
