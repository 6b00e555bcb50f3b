//! The bounds a probe sets on itself before it reads a copy: an address
//! space and a CPU time sized from the copy's length, so that a damaged
//! file cannot make a check use more than any healthy file of its size
//! needs (see probe.rs).

use crate::durable::probe::OVER_CPU;

/// What one check may use, from the length of the copy it checks.
///
/// Measured (debug build, which is the slower; `fizzflow probe-checkpoint`
/// on copies of real files, peak VmPeak from /proc and CPU from rusage):
///
/// | file                                        | address space | CPU     |
/// |---------------------------------------------|---------------|---------|
/// | 69 KB (two launches)                        | 15 MiB        | 0.05 s  |
/// | 8.5 MB (41,200 checkpoints)                 | 65 MiB        | 0.8 s   |
/// | 135 MB (1,000,000, the most history kept)   | 1,317 MiB     | 17.8 s  |
///
/// About 10× the file in address space (redb's cache, the decoded
/// history and its JSON report, ~4× the file, and the doublings of their
/// growth) and 0.13 s of CPU per MiB. The limits leave 2.4× that in
/// address space and 7× in CPU time, and far more for small files (the
/// bases): a damaged 100 KB file cannot make a check take more than
/// ~260 MiB or 10 s of CPU, where the byte 0xb02f of issue 21 asked for
/// 4 GiB. (The 60 s wall-clock `LIMIT` still ends the check of a file that
/// would need longer: "could not check".)
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limits {
    pub address_space: u64,
    pub cpu_secs: u64,
}

const AS_BASE: u64 = 256 << 20;
const AS_PER_FILE_BYTE: u64 = 24;
const CPU_BASE_SECS: u64 = 10;
const CPU_SECS_PER_MIB: u64 = 1;
/// Past the soft CPU limit (SIGXCPU, which the probe answers with
/// OVER_CPU) the kernel kills at the hard one: this much later.
const CPU_GRACE_SECS: u64 = 5;

impl Limits {
    pub(crate) fn for_len(len: u64) -> Limits {
        Limits {
            address_space: AS_BASE.saturating_add(len.saturating_mul(AS_PER_FILE_BYTE)),
            cpu_secs: CPU_BASE_SECS + (len >> 20).saturating_mul(CPU_SECS_PER_MIB),
        }
    }
}

/// Sets the probe's own limits. A limit the probe was started with that is
/// already tighter stays (it cannot be raised, nor should it be): running
/// into that one is the machine's business, and is reported as such.
pub(crate) fn impose(limits: Limits) {
    let own_memory = lower(libc::RLIMIT_AS, limits.address_space, limits.address_space);
    crate::util::alloc::mark_failures(own_memory);
    let own_cpu = lower(
        libc::RLIMIT_CPU,
        limits.cpu_secs,
        limits.cpu_secs + CPU_GRACE_SECS,
    );
    if own_cpu {
        // SAFETY: a handler that only calls async-signal-safe functions,
        // installed before the probe starts any thread.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = over_cpu as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGXCPU, &action, std::ptr::null_mut());
        }
    }
}

/// Lowers `resource` to `soft` (and its hard limit to at most `hard`);
/// false, changing nothing, if its soft limit is already below `soft`.
fn lower(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> bool {
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(resource, &mut now) } != 0 || now.rlim_cur < soft {
        return false;
    }
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard.min(now.rlim_max).max(soft),
    };
    // SAFETY: setrlimit reads the struct it is given.
    unsafe { libc::setrlimit(resource, &new) == 0 }
}

/// SIGXCPU: from the kernel, the probe's own CPU limit (the verdict
/// "damaged"); sent by someone else, it ends the probe as that signal
/// would have (which says nothing about the file).
extern "C" fn over_cpu(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler;
    // _exit, signal and raise are async-signal-safe.
    unsafe {
        if (*info).si_code == libc::SI_KERNEL {
            libc::_exit(OVER_CPU);
        }
        libc::signal(libc::SIGXCPU, libc::SIG_DFL);
        libc::raise(libc::SIGXCPU);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_may_use_more_for_a_larger_file() {
        let small = Limits::for_len(100_000);
        assert_eq!(small.address_space, (256 << 20) + 2_400_000);
        assert_eq!(small.cpu_secs, 10);
        // The largest file measured (1,000,000 checkpoints): 1,317 MiB and
        // 17.8 s of CPU in a debug build.
        let big = Limits::for_len(135_532_544);
        assert!(big.address_space > 2 * (1317 << 20), "{big:?}");
        assert!(big.cpu_secs > 2 * 18, "{big:?}");
        // A damaged page reference asks for a page of order 20: 4 GiB.
        assert!(small.address_space < 4 << 30);
    }
}
