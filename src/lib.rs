//! The `patroli` binary's library half: the glue that wires the crates into jobs. It loads the
//! seeds (rule pack, gazetteer, sources), runs the pipeline (crawl → store → classify → index),
//! renders verdicts for terminals, and hosts the bundled sample web used by `patroli demo` and the
//! end-to-end tests. The jobs themselves are the subcommands in `main.rs`.

pub mod analyst;
pub mod bench;
pub mod explain;
pub mod pipeline;
pub mod sampleweb;
pub mod scheduler;
pub mod seeds;
pub mod workers;
