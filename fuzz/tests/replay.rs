//! Replays, without libFuzzer, what the targets must always pass: the inputs the fuzzer once
//! crashed on (`regressions/<target>/`), the hand-written seeds (`seeds/<target>/`) and the
//! recorded fixtures the corpus is seeded from. Runs on stable: `cargo test` in `fuzz/`.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .filter(|path| path.file_name().is_some_and(|n| n != "README.md"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The recorded fixture requests, logs exports or trace exports.
fn fixtures(logs: bool) -> Vec<PathBuf> {
    let root = fuzz_dir().join("../collector/tests/fixtures");
    [
        "celery",
        "celery-worker",
        "taskiq",
        "taskiq-worker",
        "bullmq",
    ]
    .iter()
    .flat_map(|system| files(&root.join(system)))
    .filter(|path| {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        name.is_some_and(|n| n.contains("-logs-") == logs)
    })
    .collect()
}

fn replay(target: &str, check: fn(&[u8]), extra: Vec<PathBuf>) -> usize {
    let mut inputs = files(&fuzz_dir().join("regressions").join(target));
    inputs.extend(files(&fuzz_dir().join("seeds").join(target)));
    inputs.extend(extra);
    for input in &inputs {
        let bytes = std::fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        // A panic names the input it came from.
        eprintln!("replaying {}", input.display());
        check(&bytes);
    }
    inputs.len()
}

#[test]
fn trace_inputs_pass_the_checks() {
    let replayed = replay("otlp_traces", tasklens_fuzz::traces, fixtures(false));
    assert!(replayed > 50, "found only {replayed} trace inputs");
}

#[test]
fn log_inputs_pass_the_checks() {
    let replayed = replay("otlp_logs", tasklens_fuzz::logs, fixtures(true));
    assert!(replayed >= 2, "found only {replayed} log inputs");
}

/// Each hand-written seed is valid OTLP/JSON, and its `.pb` twin beside it is the same request
/// as protobuf. `TASKLENS_FUZZ_WRITE_SEEDS=1 cargo test seeds_have` (re)writes the twins.
#[test]
fn seeds_have_protobuf_twins() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    use tasklens_collector::otlp_json::decode;

    let write = std::env::var_os("TASKLENS_FUZZ_WRITE_SEEDS").is_some();
    let mut seen = 0;
    for target in ["otlp_traces", "otlp_logs"] {
        let jsons = files(&fuzz_dir().join("seeds").join(target))
            .into_iter()
            .filter(|path| path.extension().is_some_and(|e| e == "json"));
        for json in jsons {
            let bytes = std::fs::read(&json).expect("seed");
            let protobuf = match target {
                "otlp_traces" => {
                    decode::<ExportTraceServiceRequest>(&bytes).map(|r| r.encode_to_vec())
                }
                _ => decode::<ExportLogsServiceRequest>(&bytes).map(|r| r.encode_to_vec()),
            }
            .unwrap_or_else(|e| panic!("{}: not OTLP/JSON: {e}", json.display()));
            let twin = json.with_extension("pb");
            if write {
                std::fs::write(&twin, &protobuf).expect("write the twin");
            }
            let written = std::fs::read(&twin).unwrap_or_default();
            assert!(
                written == protobuf,
                "{}: stale or missing twin",
                twin.display()
            );
            seen += 1;
        }
    }
    assert!(seen > 0, "no hand-written seed found");
}
