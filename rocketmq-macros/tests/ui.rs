//! Compile-time behaviour of the macros: misuses fail with the pinned messages
//! (`tests/ui/fail/*.stderr`), the supported forms compile (`tests/ui/pass`).
//! Refresh the pins after an intended change with `TRYBUILD=overwrite cargo test -p rocketmq-sdk-macros --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
