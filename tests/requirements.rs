//! Every requirement id cited in the repository (`HE-5.4` in a comment, `he_5_4_...` in a test
//! name) is defined as a row of the requirement table in `src/requirements.md`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

fn table_ids() -> BTreeSet<String> {
    let table =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/requirements.md"))
            .expect("src/requirements.md");
    table
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|rest| rest.split(" |").next())
        .filter(|id| id.starts_with("HE-"))
        .map(str::to_string)
        .collect()
}

/// Every `HE-x.y` and `he_x_y` in `text`, as `HE-x.y`.
fn cited(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (i, _) in text.match_indices(['H', 'h']) {
        let rest = &bytes[i..];
        let sep = match rest.get(..3) {
            Some(b"HE-") => b'.',
            Some(b"he_") => b'_',
            _ => continue,
        };
        // Not in the middle of a word.
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            continue;
        }
        let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
        let a = digits(&rest[3..]);
        if a == 0 || rest.get(3 + a) != Some(&sep) {
            continue;
        }
        let b = digits(&rest[4 + a..]);
        if b == 0 {
            continue;
        }
        let major = &text[i + 3..i + 3 + a];
        let minor = &text[i + 4 + a..i + 4 + a + b];
        out.push(format!("HE-{major}.{minor}"));
    }
    out
}

/// Every `.rs` file under `dir` but this one (whose examples are not citations).
fn walk(dir: &Path, found: &mut Vec<(String, String)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != "corpus" && name != "artifacts" {
                walk(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.ends_with("tests/requirements.rs")
        {
            let text = fs::read_to_string(&path).unwrap();
            for id in cited(&text) {
                found.push((id, path.display().to_string()));
            }
        }
    }
}

#[test]
fn every_cited_requirement_id_is_in_the_table() {
    let table = table_ids();
    assert!(table.len() >= 20, "the table lost rows: {table:?}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in ["src", "tests", "benches", "fuzz", "examples"] {
        walk(&root.join(dir), &mut found);
    }
    assert!(
        found.len() > 50,
        "too few citations found: the scan is broken"
    );
    let missing: BTreeSet<String> = found
        .iter()
        .filter(|(id, _)| !table.contains(id))
        .map(|(id, file)| format!("{id} (cited in {file})"))
        .collect();
    assert!(
        missing.is_empty(),
        "requirement ids cited but not defined in src/requirements.md: {missing:?}"
    );
}

#[test]
fn the_scanner_reads_both_spellings() {
    assert_eq!(
        cited("// HE-5.4 and he_5_10_x but not xhe_1_2 nor HE-5 or HE-5."),
        vec!["HE-5.4".to_string(), "HE-5.10".to_string()]
    );
}
