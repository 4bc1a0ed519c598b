//! Black-box tests of `keel statetest` against the shared ethereum/tests fixtures.
#![allow(clippy::unwrap_used)]

use std::{path::PathBuf, process::Command};

fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/state");
    assert!(dir.is_dir(), "state fixtures must exist at {} (shared/ beside the repo)", dir.display());
    dir
}

fn summary(stdout: &str) -> (usize, usize, usize) {
    let last = stdout.lines().last().unwrap_or_default();
    let nums: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(
        last.ends_with(" skipped") && nums.len() == 3,
        "last line must be `N passed, M failed, K skipped`, got {last:?}"
    );
    (nums[0], nums[1], nums[2])
}

#[test]
fn every_supported_state_test_passes() {
    let out = Command::new(env!("CARGO_BIN_EXE_keel")).arg("statetest").arg(fixtures()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failures: Vec<&str> = stdout.lines().filter(|l| l.contains(" FAIL")).take(20).collect();
    let (passed, failed, skipped) = summary(&stdout);
    assert_eq!(failed, 0, "failures:\n{}", failures.join("\n"));
    assert!(out.status.success());
    // 10,372 subtests in the fixture set; the skips are listed (with reasons) in README.md.
    assert!(passed >= 10_300, "only {passed} passed");
    assert!(skipped <= 43, "{skipped} skipped");
}

#[test]
fn fork_and_name_filters_select_subtests() {
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["statetest", "--fork", "Osaka", "--run", "clz_gas_cost", "--json"])
        .arg(fixtures())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (passed, failed, _) = summary(&stdout);
    assert!(passed > 0 && failed == 0, "{stdout}");
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["fork"], "Osaka");
        assert!(v["name"].as_str().unwrap().contains("clz_gas_cost"));
    }
}

#[test]
fn malformed_fixture_names_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(
        &path,
        r#"{"t":{"env":{"currentCoinbase":"0x01","currentGasLimit":"0x10","currentNumber":"0x1",
        "currentTimestamp":"0x1"},"pre":{},"transaction":{},"post":{}}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keel")).arg("statetest").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("broken.json"), "{stdout}");
    assert!(stdout.contains("t.env.currentCoinbase"), "{stdout}");
    assert_eq!(summary(&stdout), (0, 1, 0));
}

#[test]
fn missing_path_is_an_error_not_a_pass() {
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["statetest", "/nonexistent/fixtures"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/fixtures"));
}

/// With a sandbox policy loaded (its opcode hooks installed), contracts without a rule behave bit for bit as
/// without one: every fixture still passes, with an empty policy and with rules (one inherited) for other
/// addresses.
#[test]
fn state_tests_pass_with_a_policy_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        "[[rule]]\nname = \"elsewhere\"\naddress = \"0x00000000000000000000000000000000000c0ffe\"\ninherit = true\n\
         deny = [\"SSTORE\", \"CALL\", \"LOG1\"]\n[rule.limits]\nmax_code_size = 10\nmax_call_gas = 1\n",
    )
    .unwrap();
    for policy in [&empty, &other] {
        let out = Command::new(env!("CARGO_BIN_EXE_keel"))
            .arg("statetest")
            .arg("--policy")
            .arg(policy)
            .arg(fixtures())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (passed, failed, skipped) = summary(&stdout);
        assert_eq!(
            failed,
            0,
            "{}",
            stdout.lines().filter(|l| l.contains(" FAIL")).take(10).collect::<Vec<_>>().join("\n")
        );
        assert!(passed >= 10_300 && skipped <= 43, "{passed} {skipped}");
    }
}
