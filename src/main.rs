/// The system allocator, which inside a checkpoint probe reports a failed
/// allocation before the abort (see `fizzflow::util::alloc`).
#[global_allocator]
static ALLOC: fizzflow::util::alloc::ProbeAlloc = fizzflow::util::alloc::ProbeAlloc;

fn main() {
    std::process::exit(fizzflow::cli::main());
}
