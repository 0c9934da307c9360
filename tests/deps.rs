//! The `vendor/regex` patch (regex-lite in the place of regex, for binary size) must
//! not stop applying unnoticed: a `[patch]` that no longer matches (say oci-spec asks
//! for a regex newer than 1.13.99) is only a cargo warning, and the full engine comes
//! back. This fails then, as `cargo tree -i regex-automata` would find it.

use std::process::Command;

#[test]
fn the_regex_patch_applies_and_the_full_engine_is_not_in_the_graph() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let resolved: Vec<&str> = v["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    let package = |id: &str| {
        v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };
    let mut regexes = vec![];
    for id in resolved {
        let p = package(id);
        let name = p["name"].as_str().unwrap();
        assert!(
            name != "regex-automata" && name != "regex-syntax",
            "the full regex engine is back in the graph ({id}): the vendor/regex patch no longer applies"
        );
        if name == "regex" {
            regexes.push(p["manifest_path"].as_str().unwrap().to_string());
        }
    }
    let vendored = concat!(env!("CARGO_MANIFEST_DIR"), "/vendor/regex/Cargo.toml");
    assert_eq!(regexes, [vendored], "regex must be vendor/regex only");
}
