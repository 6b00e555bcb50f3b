//! Unit tests of the driver's dir checks.

use super::*;

#[test]
fn a_moving_heartbeat_is_live_a_stale_or_stopped_one_dead() {
    let t = 3000;
    assert_eq!(verdict(1_000, 2_000, 2_100, t), Verdict::Live);
    assert_eq!(verdict(1_000, 1_000, 2_100, t), Verdict::LookAgain);
    assert_eq!(verdict(1_000, 1_000, 4_001, t), Verdict::Dead);
    assert_eq!(verdict(1_000, -1, 1_100, t), Verdict::Dead);
    assert_eq!(verdict(-1, -1, 1_100, t), Verdict::Dead);
    assert_eq!(verdict(0, 0, 1_100, t), Verdict::Dead);
}

#[test]
fn only_a_drivers_files_may_be_cleared() {
    let dir = tempfile::tempdir().unwrap();
    assert!(foreign_entry(dir.path()).is_ok());
    std::fs::create_dir(dir.path().join("publications")).unwrap();
    std::fs::write(dir.path().join("cnc.dat"), b"").unwrap();
    assert!(foreign_entry(dir.path()).is_ok());
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    assert!(matches!(
        foreign_entry(dir.path()),
        Err(Unusable::Foreign(name)) if name == "notes.txt"
    ));
}

#[test]
fn symlinks_files_and_missing_parents_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path(), &link).unwrap();
    assert!(matches!(check_dir(&file), Err(Unusable::NotADirectory)));
    assert!(matches!(check_dir(&link), Err(Unusable::Symlink)));
    assert!(matches!(
        check_dir(&dir.path().join("no/such")),
        Err(Unusable::NoParent)
    ));
    assert!(matches!(check_dir(&dir.path().join("new")), Ok(false)));
    assert!(matches!(check_dir(dir.path()), Ok(true)));
}

#[test]
fn a_locked_parent_is_waited_for_then_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let held = lock_dir(dir.path(), Duration::ZERO).unwrap();
    assert!(held.is_some());
    let start = Instant::now();
    assert!(
        lock_dir(dir.path(), Duration::from_millis(100))
            .unwrap()
            .is_none()
    );
    assert!(start.elapsed() >= Duration::from_millis(100));
    drop(held);
    assert!(lock_dir(dir.path(), Duration::ZERO).unwrap().is_some());
}
