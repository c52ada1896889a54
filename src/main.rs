fn main() -> std::process::ExitCode {
    netkpi::cli::main()
}
