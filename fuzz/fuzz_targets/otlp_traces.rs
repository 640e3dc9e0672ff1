//! OTLP trace exports: decoding (protobuf and JSON) and recognition. See `src/traces.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| tasklens_fuzz::traces(bytes));
