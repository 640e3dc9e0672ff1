//! compose.yaml, otel-config.yaml and the Dockerfile must agree with what the `tasklens` binary
//! accepts: no Docker engine runs here, so this is what proves the deployment files are not
//! stale. Every TASKLENS_* variable a service sets must be a flag's environment variable of the
//! subcommand it runs (with a value the flag accepts), and the addresses and ports must line up
//! between the services.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{CommandFactory, Parser};
use serde_yaml::Value;

fn repo_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

fn yaml(name: &str) -> Value {
    serde_yaml::from_str(&repo_file(name))
        .unwrap_or_else(|err| panic!("{name} does not parse: {err}"))
}

fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    let mut current = value;
    for key in path {
        current = current
            .get(*key)
            .unwrap_or_else(|| panic!("missing key {key} in path {}", path.join(".")));
    }
    current
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("expected a list, got {value:?}"))
        .iter()
        .map(text)
        .collect()
}

/// Resolves compose's `${VAR:-default}` / `${VAR:?error}` / `${VAR}` as an operator who sets
/// every required variable would see it.
fn interpolate(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing brace") + start;
        let inner = &rest[start + 2..end];
        let value = if let Some((_, default)) = inner.split_once(":-") {
            default.to_owned()
        } else {
            // A required variable: the operator provides it.
            "set-by-operator".to_owned()
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn environment(service: &Value) -> BTreeMap<String, String> {
    get(service, &["environment"])
        .as_mapping()
        .expect("environment is a mapping")
        .iter()
        .map(|(k, v)| (text(k), interpolate(&text(v))))
        .collect()
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr}"))
}

/// Runs the service's command through the binary's own parser, with every TASKLENS_* variable
/// turned into its flag, and returns the parsed flags' env names.
fn check_tasklens_service(name: &str, service: &Value) -> BTreeMap<String, String> {
    let command = strings(get(service, &["command"]));
    let subcommand_name = command.first().expect("a subcommand").clone();
    let cli = tasklens::Cli::command();
    let subcommand = cli
        .get_subcommands()
        .find(|s| s.get_name() == subcommand_name)
        .unwrap_or_else(|| panic!("{name}: `tasklens {subcommand_name}` is not a subcommand"));
    let env = environment(service);
    let mut args = vec!["tasklens".to_owned()];
    args.extend(command.iter().cloned());
    for (var, value) in &env {
        if !var.starts_with("TASKLENS_") {
            continue;
        }
        let arg = subcommand
            .get_arguments()
            .find(|a| a.get_env().and_then(|e| e.to_str()) == Some(var.as_str()))
            .unwrap_or_else(|| {
                panic!("{name}: `tasklens {subcommand_name}` has no flag reading {var}")
            });
        let long = arg.get_long().expect("env flags have a long name");
        if value.is_empty() {
            continue; // an optional variable left unset
        }
        args.push(format!("--{long}={value}"));
    }
    if let Err(err) = tasklens::Cli::try_parse_from(&args) {
        panic!(
            "{name}: `{}` is refused by the binary: {err}",
            args.join(" ")
        );
    }
    env
}

#[test]
fn compose_services_run_commands_and_variables_the_binary_accepts() {
    let compose = yaml("compose.yaml");
    let services = get(&compose, &["services"]);
    for name in [
        "postgres",
        "tasklens-collector",
        "tasklens-api",
        "otel-collector",
    ] {
        assert!(
            services.get(name).is_some(),
            "compose.yaml lacks service {name}"
        );
    }

    let collector =
        check_tasklens_service("tasklens-collector", get(services, &["tasklens-collector"]));
    let api = check_tasklens_service("tasklens-api", get(services, &["tasklens-api"]));

    // Both tasklens services use the same database, on the postgres service.
    let db = &collector["TASKLENS_DATABASE_URL"];
    assert_eq!(db, &api["TASKLENS_DATABASE_URL"]);
    assert!(db.contains("@postgres:5432/"), "{db}");

    // The collector listens on all interfaces (other containers send to it) and exposes its ports.
    let exposed = strings(get(services, &["tasklens-collector", "expose"]));
    for var in [
        "TASKLENS_OTLP_GRPC_ADDR",
        "TASKLENS_OTLP_HTTP_ADDR",
        "TASKLENS_COLLECTOR_ADMIN_ADDR",
    ] {
        let addr = &collector[var];
        assert!(addr.starts_with("0.0.0.0:"), "{var}={addr}");
        assert!(
            exposed.contains(&port_of(addr).to_string()),
            "{var} port not exposed"
        );
    }
    assert!(
        collector.contains_key("TASKLENS_OTLP_TOKEN"),
        "ingest must require the token"
    );

    // The API's address is published.
    let api_port = port_of(&api["TASKLENS_API_HTTP_ADDR"]);
    let published = strings(get(services, &["tasklens-api", "ports"]));
    assert!(
        published
            .iter()
            .any(|p| p.ends_with(&format!(":{api_port}"))),
        "API port {api_port} not published: {published:?}"
    );

    // Both tasklens services run the image the Dockerfile builds, whose entry point is the binary.
    let dockerfile = repo_file("Dockerfile");
    assert!(dockerfile.contains(r#"ENTRYPOINT ["tasklens"]"#));
    let built = get(services, &["tasklens-collector"]);
    assert_eq!(text(get(built, &["build"])), ".");
    assert_eq!(
        text(get(built, &["image"])),
        text(get(services, &["tasklens-api", "image"]))
    );
    // Variables the Dockerfile sets are real flags too.
    let cli = tasklens::Cli::command();
    for line in dockerfile.lines().filter(|l| l.contains("TASKLENS_")) {
        for word in line.split_whitespace() {
            let Some((var, _)) = word.trim_start_matches("ENV").split_once('=') else {
                continue;
            };
            let known = cli.get_subcommands().any(|s| {
                s.get_arguments()
                    .any(|a| a.get_env().and_then(|e| e.to_str()) == Some(var))
            });
            assert!(known, "Dockerfile sets {var}, which no subcommand reads");
        }
    }
}

#[test]
fn the_opentelemetry_collector_forwards_traces_and_logs_to_tasklens_reliably() {
    let compose = yaml("compose.yaml");
    let services = get(&compose, &["services"]);
    let otel_service = get(services, &["otel-collector"]);
    let config = yaml("otel-config.yaml");

    // compose mounts otel-config.yaml where the command reads it.
    let command = strings(get(otel_service, &["command"]));
    let config_path = command
        .iter()
        .find_map(|c| c.strip_prefix("--config="))
        .expect("--config=");
    let volumes = strings(get(otel_service, &["volumes"]));
    assert!(
        volumes
            .iter()
            .any(|v| v.starts_with("./otel-config.yaml:") && v.contains(config_path)),
        "{volumes:?} does not mount otel-config.yaml at {config_path}"
    );

    // Applications reach the receivers on published ports.
    let published = strings(get(otel_service, &["ports"]));
    for protocol in ["grpc", "http"] {
        let endpoint = text(get(
            &config,
            &["receivers", "otlp", "protocols", protocol, "endpoint"],
        ));
        let port = port_of(&endpoint);
        assert!(
            published.iter().any(|p| p.ends_with(&format!(":{port}"))),
            "receiver {protocol} port {port} not published"
        );
    }

    // The exporter points at the tasklens collector's OTLP/gRPC port, with gzip, the token,
    // retries and a persistent queue.
    let exporter = get(&config, &["exporters", "otlp/tasklens"]);
    let endpoint = text(get(exporter, &["endpoint"]));
    let (host, port) = endpoint.rsplit_once(':').expect("host:port");
    assert!(
        services.get(host).is_some(),
        "exporter host {host} is not a compose service"
    );
    let collector_env = environment(get(services, &[host]));
    assert_eq!(
        port.parse::<u16>().ok(),
        Some(port_of(&collector_env["TASKLENS_OTLP_GRPC_ADDR"]))
    );
    assert_eq!(text(get(exporter, &["compression"])), "gzip");
    let auth = text(get(exporter, &["headers", "authorization"]));
    assert_eq!(auth, "Bearer ${env:TASKLENS_OTLP_TOKEN}");
    assert!(environment(otel_service).contains_key("TASKLENS_OTLP_TOKEN"));
    assert!(collector_env.contains_key("TASKLENS_OTLP_TOKEN"));
    assert_eq!(
        get(exporter, &["retry_on_failure", "enabled"]),
        &Value::Bool(true)
    );
    assert_eq!(
        get(exporter, &["sending_queue", "enabled"]),
        &Value::Bool(true)
    );
    let storage = text(get(exporter, &["sending_queue", "storage"]));
    let extensions = strings(get(&config, &["service", "extensions"]));
    assert!(
        extensions.contains(&storage),
        "queue storage {storage} is not enabled"
    );
    let directory = text(get(&config, &["extensions", storage.as_str(), "directory"]));
    assert!(
        volumes
            .iter()
            .any(|v| v.ends_with(&format!(":{directory}"))),
        "the queue directory {directory} is not a volume, so it would not survive a restart"
    );

    // Both signals flow, through components that are defined.
    for signal in ["traces", "logs"] {
        let pipeline = get(&config, &["service", "pipelines", signal]);
        for (kind, section) in [
            ("receivers", "receivers"),
            ("processors", "processors"),
            ("exporters", "exporters"),
        ] {
            for component in strings(get(pipeline, &[kind])) {
                assert!(
                    get(&config, &[section]).get(component.as_str()).is_some(),
                    "{signal} uses undefined {kind} {component}"
                );
            }
        }
        assert!(strings(get(pipeline, &["exporters"])).contains(&"otlp/tasklens".to_owned()));
    }
}
