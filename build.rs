//! Embeds the default rule pack (`seeds/rules/*.toml`) in the binary, so `patroli` works from any
//! directory; a `--rules DIR` given at run time replaces it.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new("seeds/rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("seeds/rules exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// The default rule pack: (file name, contents).\npub const EMBEDDED_RULES: &[(&str, &str)] = &[\n",
    );
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        let abs = std::fs::canonicalize(&f).expect("rule file path");
        let name = f.file_name().expect("file name").to_string_lossy();
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .expect("write to string");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"))
        .join("embedded_rules.rs");
    std::fs::write(dest, out).expect("write embedded_rules.rs");
}
