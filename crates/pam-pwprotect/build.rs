//! Links libpam by its run-time name (`libpam.so.0`, which every PAM system has), so that the
//! module and its unit tests link without the `-dev` package's `libpam.so`.
fn main() {
    println!("cargo:rustc-link-lib=dylib:+verbatim=libpam.so.0");
}
