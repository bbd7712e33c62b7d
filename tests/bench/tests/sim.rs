//! The simulation binary end to end, small: a short seeded run on SQLite agrees with its
//! model, and the same seed replays the same run. (CI also runs the full 10^5-operation
//! simulation and the crash harness through this binary; see scripts/test-all.)

use std::process::Command;

fn sim(seed: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_chiiki-bench"))
        .args(["--sim", "--sqlite", "--ops", "2000", "--seed", seed])
        .env_remove("CHIIKI_BENCH_LONG")
        .output()
        .expect("run chiiki-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "simulation failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_seeded_simulation_agrees_with_its_model_and_replays() {
    let first = sim("42");
    assert!(first.contains("2000 operations"), "{first}");
    assert!(first.contains("seed 42"), "{first}");
    let faults = |s: &str| {
        s.split(", ")
            .find(|p| p.ends_with("with injected faults"))
            .map(str::to_string)
    };
    assert_eq!(
        faults(&first),
        faults(&sim("42")),
        "the same seed, the same faults"
    );
}
