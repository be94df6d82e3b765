// Re-embed the migrations when a migration folder is added, not only when a file changes.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
