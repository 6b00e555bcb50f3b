//! A check of a checkpoint file is bounded, and running into its bounds is
//! a verdict, never a dead end. redb sizes some reads from numbers in the
//! file (a page reference's order), so one damaged byte can make it ask for
//! 4 GiB; the checking child limits its own address space and CPU time
//! from the file's length, and a child that runs into its own limits says
//! "damaged" (exit 4, with the way back), where it used to die of SIGABRT
//! under a memory limit and leave every command at "could not check"
//! (exit 1) for good. A limit fizzflow was started with that is tighter
//! than a check may need is the machine's: "could not check".

mod common;
use common::pages::*;
use common::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);
/// `ulimit -v 1000000`, as in issue 21.
const ISSUE_LIMIT: u64 = 1_000_000 * 1024;

/// The issue's state dir: two `--rate 0 --beats 10` launches (no periodic
/// checkpoint in either, so the file's layout does not depend on timing).
fn two_short_launches(dir: &Path) -> Vec<u8> {
    for _ in 0..2 {
        let done = run_in(
            dir,
            &["--rate", "0", "--beats", "10", "--checkpoint-interval", "0"],
            LIMIT,
        );
        assert!(done.status.success(), "{}", done.stderr);
    }
    fs::read(checkpoint_file(dir)).unwrap()
}

fn damaged_refusal(done: &Finished, bytes: &[u8], dir: &Path) {
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(
        done.stderr.contains("needed more memory than a check"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("fizzflow recover"), "{}", done.stderr);
    assert_eq!(fs::read(checkpoint_file(dir)).unwrap(), bytes);
}

#[test]
fn the_byte_of_issue_21_is_damage_under_a_memory_limit_and_recovered() {
    let dir = state_dir();
    let mut bytes = two_short_launches(dir.path());
    // In this file 0xb02f is the top byte of the first child reference of
    // a branch page (the root of redb's allocator_state table): its top 5
    // bits are the child's order, and 0xa0 makes order 20, a 4 GiB page.
    assert!(
        branch_child_order_bytes(&bytes).contains(&0xb02f),
        "the file's layout changed: {:x?}",
        branch_child_order_bytes(&bytes)
    );
    bytes[0xb02f] = 0xa0;
    fs::write(checkpoint_file(dir.path()), &bytes).unwrap();

    for args in [&["stats"][..], &["run", "--rate", "0", "--beats", "5"][..]] {
        let done = run_limited(dir.path(), args, ISSUE_LIMIT, LIMIT);
        damaged_refusal(&done, &bytes, dir.path());
    }
    // Without a limit too: the check allows itself far less than 4 GiB.
    let done = run_in(dir.path(), &["stats"], LIMIT);
    damaged_refusal(&done, &bytes, dir.path());

    let done = run_limited(dir.path(), &["recover"], ISSUE_LIMIT, LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr.contains("The file it replaced is kept as"),
        "{}",
        done.stderr
    );
    // The second launch's final cut: nothing lost.
    let back = run_limited(dir.path(), &["stats", "--json"], ISSUE_LIMIT, LIMIT);
    assert_eq!(field(&back.success_json(), "beats"), 20);

    // And forced, as the issue tried it.
    fs::write(checkpoint_file(dir.path()), &bytes).unwrap();
    let done = run_limited(dir.path(), &["recover", "--force"], ISSUE_LIMIT, LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    let back = run_limited(dir.path(), &["stats", "--json"], ISSUE_LIMIT, LIMIT);
    assert_eq!(field(&back.success_json(), "beats"), 20);
}

/// The general cause: every page reference carries its page's order in its
/// top 5 bits, and redb reads a page into a buffer of 4 KiB << order before
/// it can tell the page is not there. In the issue's file, every child
/// reference of a branch page and every table root, set to order 20, is
/// damage under the issue's limit (or harmless where the page is an old
/// copy that redb no longer reads), never "could not check".
#[test]
fn every_page_reference_of_the_largest_order_is_damage_under_a_memory_limit() {
    let dir = state_dir();
    let good = two_short_launches(dir.path());
    let children = branch_child_order_bytes(&good);
    let roots = table_root_order_bytes(&good);
    // The tables of redb's system tree and fizzflow's three at least.
    assert!(roots.len() >= 7, "{roots:x?}");
    let mut over = 0;
    for at in children.iter().chain(&roots) {
        let mut bytes = good.clone();
        bytes[*at] = 0xa0;
        fs::write(checkpoint_file(dir.path()), &bytes).unwrap();
        let done = run_limited(dir.path(), &["stats"], ISSUE_LIMIT, LIMIT);
        match done.status.code() {
            Some(0) => {}
            Some(4) => {
                over += usize::from(done.stderr.contains("needed more memory"));
                assert_eq!(fs::read(checkpoint_file(dir.path())).unwrap(), bytes);
            }
            other => panic!("{at:#x}: exit {other:?}: {}", done.stderr),
        }
    }
    // 0xb02f and 0xb037 (branch), the allocator_state table's root and
    // fizzflow's three tables' roots.
    assert!(over >= 6, "{over} over the limit");
}

#[test]
fn a_check_that_uses_up_its_cpu_time_is_damage() {
    let dir = state_dir();
    let bytes = two_short_launches(dir.path());
    // The probe spins under a 1 s CPU limit: the kernel's SIGXCPU is the
    // probe's own limit.
    let done = wait_with_deadline(
        fizzflow(&["stats"])
            .arg("--state-dir")
            .arg(dir.path())
            .env(fizzflow::durable::TEST_SPIN_ENV, "1")
            .spawn()
            .unwrap(),
        LIMIT,
    );
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(
        done.stderr.contains("took more CPU time than a check"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("fizzflow recover"), "{}", done.stderr);
    assert_eq!(fs::read(checkpoint_file(dir.path())).unwrap(), bytes);
}

#[test]
fn a_memory_limit_tighter_than_a_check_may_need_is_not_damage() {
    // 200 MiB is below the ~258 MiB a check of this file may use: the
    // damaged page makes the check fail under the limit fizzflow was
    // started with, which says nothing about the file.
    let dir = state_dir();
    let mut bytes = two_short_launches(dir.path());
    bytes[0xb02f] = 0xa0;
    fs::write(checkpoint_file(dir.path()), &bytes).unwrap();
    let done = run_limited(dir.path(), &["stats"], 200 << 20, LIMIT);
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(done.stderr.contains("could not check"), "{}", done.stderr);
    assert!(done.stderr.contains("ulimit -v"), "{}", done.stderr);
    assert!(!done.stderr.contains("is damaged"), "{}", done.stderr);
    assert_eq!(fs::read(checkpoint_file(dir.path())).unwrap(), bytes);
    // The same limit is plenty for a healthy file.
    let healthy = state_dir();
    two_short_launches(healthy.path());
    let done = run_limited(healthy.path(), &["stats", "--json"], 200 << 20, LIMIT);
    assert_eq!(field(&done.success_json(), "beats"), 20);
}
