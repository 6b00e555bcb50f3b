//! Only one fizzflow may use a state dir; a second gets exit 3 and a clear
//! message, and the first is undisturbed. `stats` still works meanwhile.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn a_second_run_on_a_held_dir_exits_3() {
    let dir = state_dir();
    let first = fizzflow(&["--rate", "1", "--beats", "1500", "--json"])
        .arg("--state-dir")
        .arg(dir.path())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(400));
    let second = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "10"],
        Duration::from_secs(30),
    );
    assert_eq!(second.status.code(), Some(3), "{}", second.stderr);
    assert!(
        second.stderr.contains("in use by another fizzflow process"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains(dir.path().to_str().unwrap()),
        "names the dir: {}",
        second.stderr
    );

    // stats reads a copy, so it works while the dir is held.
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30));
    assert!(stats.status.success(), "{}", stats.stderr);
    assert_closed_form(&stats.json());

    let first = wait_with_deadline(first, Duration::from_secs(60));
    assert!(first.status.success(), "{}", first.stderr);
    let v = first.json();
    assert_eq!(field(&v, "beats"), 1500);
    assert_closed_form(&v);
}
