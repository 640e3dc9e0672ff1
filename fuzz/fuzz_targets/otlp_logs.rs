//! OTLP log exports: decoding (protobuf and JSON), recognition of exception reports and their
//! joins with run spans. See `src/logs.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| tasklens_fuzz::logs(bytes));
