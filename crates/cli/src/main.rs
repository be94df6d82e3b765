/// mimalloc instead of the system allocator: the projection and ingest writers allocate and
/// free for every statement (diesel builds SQL text and bind buffers per call), and glibc's
/// malloc was a tenth of the projector's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    switchboard_cli::main()
}
