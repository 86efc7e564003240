//! `cargo run -p api-doc` writes the API's OpenAPI document where it is checked in
//! (`api_doc::CHECKED_IN`); `cargo run -p api-doc -- -` prints it instead.

fn main() -> std::io::Result<()> {
    let json = api_doc::render();
    if std::env::args().nth(1).as_deref() == Some("-") {
        print!("{json}");
        return Ok(());
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(api_doc::CHECKED_IN);
    std::fs::write(&path, json)?;
    eprintln!("wrote {}", api_doc::CHECKED_IN);
    Ok(())
}
