//! The ABI probe in Rust: a module calling every host function through the weft-plugin
//! crate, so that plugins_test checks each import's name and type against libs/plugin's
//! abi::signature_of. Never run.
use weft_plugin::{Args, Failure, Level};

fn run(args: Args) -> Result<String, Failure> {
    weft_plugin::log(Level::Info, "probe")?;
    let data = weft_plugin::file_read("data/a")?;
    weft_plugin::file_write("out/a", &data, true)?;
    let r = weft_plugin::http_fetch("GET", "https://api.example.com/", "", b"", 4096)?;
    let v = weft_plugin::kv_get(b"k")?.unwrap_or_default();
    weft_plugin::kv_put(b"k", &v)?;
    Ok(format!("{} {} {}", r.status, weft_plugin::clock_ms(), args.raw().len()))
}

weft_plugin::tool!("run", run);
