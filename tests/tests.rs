//! End-to-end tests: the crates driven together, against servers on 127.0.0.1 that the tests
//! start themselves.

mod analyst;
mod crawler;
mod end_to_end;
mod resume;
mod scheduler;
mod tokens;
mod util;
mod workers;
