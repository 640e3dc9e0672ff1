//! A real WebSocket client (tokio-tungstenite) for the live-feed tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Generous: a wait ends as soon as the message arrives.
pub const WAIT: Duration = Duration::from_secs(20);

pub async fn connect(
    url: &str,
    bearer: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut request = url.into_client_request()?;
    if let Some(token) = bearer {
        request.headers_mut().insert(
            "Authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

/// The next JSON message (pings and pongs skipped); panics on close or after [`WAIT`].
pub async fn next_json(ws: &mut Ws) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a message within the wait")
            .expect("the connection is open")
            .expect("a frame");
        match frame {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("json"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The next `task_status_changed` message, passing over `error_group_created` ones (a first
/// failure announces its group; `websocket.rs` checks those messages on their own).
pub async fn next_change(ws: &mut Ws) -> Value {
    loop {
        let message = next_json(ws).await;
        if message["type"] != "error_group_created" {
            assert_eq!(message["type"], "task_status_changed", "{message}");
            return message;
        }
    }
}

/// Sends a filter and waits for its acknowledgement.
pub async fn subscribe(ws: &mut Ws, task_names: Value, statuses: Value) -> Value {
    let message = json!({"type": "subscribe", "task_names": task_names, "statuses": statuses});
    ws.send(Message::Text(message.to_string().into()))
        .await
        .expect("send");
    loop {
        let ack = next_json(ws).await;
        if ack["type"] != "error_group_created" {
            assert_eq!(ack["type"], "subscribed", "{ack}");
            return ack;
        }
    }
}
