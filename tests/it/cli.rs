//! The command-line tool: convert and inspect, their errors, and that failures leave no file.

use crate::common::{baler, data, read_parquet, stderr};

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn convert_writes_lossless_parquet_and_names_dropped_columns() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("z.parquet");
    let run = baler(&[
        "convert",
        data("cms_zmumu_2010.root").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run)
            .contains("dropped 1 non-numeric or non-jet columns: Type (`char*` is not a number)")
    );
    let table = read_parquet(&out);
    assert_eq!(table.num_rows(), 2304);
    // Floats use BYTE_STREAM_SPLIT and zstd.
    let file = std::fs::File::open(&out).unwrap();
    let meta = parquet::file::reader::FileReader::metadata(
        &parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap(),
    )
    .clone();
    let m = meta
        .row_group(0)
        .columns()
        .iter()
        .find(|c| c.column_path().string() == "M")
        .unwrap();
    assert_eq!(
        m.compression(),
        parquet::basic::Compression::ZSTD(Default::default())
    );
    assert!(
        m.encodings()
            .any(|e| e == parquet::basic::Encoding::BYTE_STREAM_SPLIT)
    );
}

#[test]
fn convert_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("jets.parquet");
    std::fs::write(&out, b"keep me").unwrap();
    let input = data("cms_nanoaod_small_dy.root");
    let run = baler(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        stderr(&run),
        format!(
            "error: failed to convert `{}`\n  caused by: output `{}` already exists (pass `--force` to overwrite it)\n",
            input.display(),
            out.display()
        )
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let forced = baler(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(read_parquet(&out).num_rows(), 2165);
}

#[test]
fn convert_never_overwrites_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("jets.parquet");
    std::fs::copy(
        data("cms_nanoaod_small_dy.root"),
        dir.path().join("dy.root"),
    )
    .unwrap();
    let first = baler(&["convert", dir.path().join("dy.root").to_str().unwrap()]);
    assert!(first.status.success(), "{}", stderr(&first));
    std::fs::rename(dir.path().join("dy.parquet"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let run = baler(&["convert", input.to_str().unwrap(), "--force"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).ends_with(&format!(
            "caused by: output `{}` is the input file; choose another path with `-o`\n",
            input.display()
        )),
        "{}",
        stderr(&run)
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn failed_conversions_leave_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["truncated.root", "not_root.root", "missing.root"] {
        let out = dir.path().join("out.parquet");
        let run = baler(&[
            "convert",
            data(name).to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(1), "{name}: {}", stderr(&run));
        let err = stderr(&run);
        assert!(
            err.starts_with(&format!(
                "error: failed to convert `{}`\n  caused by: ",
                data(name).display()
            )),
            "{err}"
        );
        assert_eq!(
            err.lines().count(),
            2 + usize::from(name == "missing.root"),
            "{err}"
        );
        assert!(
            files_in(dir.path()).is_empty(),
            "{name} left {:?}",
            files_in(dir.path())
        );
    }
}

#[test]
fn convert_defaults_to_a_parquet_file_beside_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ttbar.root");
    std::fs::copy(data("cms_nanoaod_2015_ttbar.root"), &input).unwrap();
    let run = baler(&["convert", input.to_str().unwrap(), "-q"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(files_in(dir.path()), ["ttbar.parquet", "ttbar.root"]);
    assert_eq!(
        read_parquet(&dir.path().join("ttbar.parquet")).num_rows(),
        537
    );
}

#[test]
fn inspect_shows_trees_collections_and_the_plan() {
    let run = baler(&[
        "inspect",
        data("cms_hzz_2012_tutorial.root").to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let out = String::from_utf8(run.stdout).unwrap();
    assert!(
        out.contains("  events: 2421 entries, 51 branches\n"),
        "{out}"
    );
    assert!(
        out.contains("    collection `Jet`: counter `NJet`, 6 arrays\n"),
        "{out}"
    );
    assert!(
        out.contains("would read 2773 rows of 7 columns:\n"),
        "{out}"
    );
    assert!(
        out.contains("  ID                               Boolean\n"),
        "{out}"
    );
}

#[test]
fn inspect_explains_why_it_would_not_read() {
    let run = baler(&[
        "inspect",
        data("two_trees.root").to_str().unwrap(),
        "--branches",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let out = String::from_utf8(run.stdout).unwrap();
    assert!(
        out.contains("    x                                double\n"),
        "{out}"
    );
    assert!(
        out.contains("would not read: several trees; choose one with `--tree`"),
        "{out}"
    );
}

#[test]
fn compress_json_and_inspect_describe_the_compressed_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dy.baler.parquet");
    let input = data("cms_nanoaod_small_dy.root");
    let run = baler(&[
        "compress",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--latent",
        "1",
        "--epochs",
        "2",
        "--no-fallback",
        "--json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["rows"], 2165);
    assert_eq!(report["latent"], 1);
    assert_eq!(report["decoded_columns"], 2);
    assert_eq!(report["training"]["epochs"], 2);
    assert_eq!(
        report["sizes"]["output_bytes"],
        std::fs::metadata(&out).unwrap().len()
    );
    let names: Vec<_> = report["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["jetId", "pt"]);

    let run = baler(&["inspect", out.to_str().unwrap()]);
    let text = String::from_utf8(run.stdout).unwrap();
    assert!(
        text.contains("    baler-compressed (format 3, method `ae`): 1 latents decode 2 of 3 columns; trained 2 epochs on 2165 rows\n"),
        "{text}"
    );
}

#[cfg(not(feature = "cuda"))]
#[test]
fn device_cuda_without_the_feature_is_an_error_and_auto_falls_back_to_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dy.parquet");
    let input = data("cms_nanoaod_small_dy.root");
    let args = |device: &'static str| {
        vec![
            "compress".to_owned(),
            input.display().to_string(),
            "-o".into(),
            out.display().to_string(),
            "--epochs".into(),
            "1".into(),
            "--latent".into(),
            "1".into(),
            "--device".into(),
            device.into(),
            "--json".into(),
        ]
    };
    let run = |a: Vec<String>| baler(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let cuda = run(args("cuda"));
    assert_eq!(cuda.status.code(), Some(1));
    assert_eq!(
        stderr(&cuda),
        format!(
            "error: failed to compress `{}`\n  caused by: this binary was built without CUDA support; rebuild with `cargo build --release --features cuda`, or pass `--device cpu`\n",
            input.display()
        )
    );
    assert!(!out.exists());
    let auto = run(args("auto"));
    assert!(auto.status.success(), "{}", stderr(&auto));
    assert!(stderr(&auto).starts_with(
        "note: training on the CPU: this binary was built without the `cuda` feature\n"
    ));
    let report: serde_json::Value = serde_json::from_slice(&auto.stdout).unwrap();
    assert_eq!(report["training"]["device"], "cpu");
}
