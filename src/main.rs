fn main() {
    std::process::exit(fizzflow::cli::main());
}
