//! A broker child for the crash scenarios of `tests/reliability_*.rs`: runs a name server
//! and one broker on the store and ports given in `ROCKETMQ_RELIABILITY_CHILD` until killed.

fn main() {
    rocketmq_suite::reliability::run_child_if_requested();
    // Without the variable there is nothing to do.
    std::process::exit(2);
}
