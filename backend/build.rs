// `sqlx::migrate!` embeds the migrations when the crate compiles: a migration added or
// changed must rebuild it, which cargo does not know by itself.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
