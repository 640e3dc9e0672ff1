//! The live feed's wire protocol: the messages each side sends (one JSON object per text
//! frame), the filter a client sets and the form the hub checks it in.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tasklens_store::LiveEvent;
use utoipa::ToSchema;

use crate::wire::{RunSource, RunStatus};

/// A message from the server (one JSON object per text frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// A run changed status (one message per change).
    TaskStatusChanged {
        task_name: String,
        status: RunStatus,
        /// When the change was committed (the run's `updated_at`).
        timestamp: DateTime<Utc>,
        data: StatusChange,
    },
    /// An error group was seen for the first time (sent after the status change of the run that
    /// opened it, to clients whose filter admits that run).
    ErrorGroupCreated {
        task_name: String,
        timestamp: DateTime<Utc>,
        data: NewErrorGroupData,
    },
    /// The client must reload from the REST endpoints: events were dropped for it.
    Resync {
        timestamp: DateTime<Utc>,
        data: ResyncData,
    },
    /// Acknowledges a filter.
    Subscribed {
        timestamp: DateTime<Utc>,
        data: SubscriptionFilter,
    },
    /// The client sent something the server does not understand; the connection stays open.
    Error {
        timestamp: DateTime<Utc>,
        data: ErrorData,
    },
}

/// The run whose status changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusChange {
    pub id: i64,
    pub task_id: String,
    /// The worker's `service.name`; null until a worker reports the run, or when it did not say.
    pub service_name: Option<String>,
    /// The worker's deployment environment.
    pub environment: Option<String>,
    /// Null for a run seen for the first time.
    pub previous_status: Option<RunStatus>,
    pub source: RunSource,
    pub attempt: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub queue_wait_ms: Option<i64>,
    /// Cut to 300 bytes; the full message is in the run's detail.
    pub error_message: Option<String>,
}

/// The new group, as `GET /api/v1/monitoring/errors/{id}` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewErrorGroupData {
    pub id: i64,
    /// The group's task type: the run's service and environment (null where it does not say).
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    pub error_type: Option<String>,
    /// The opening failure's message, cut to 300 bytes.
    pub message: Option<String>,
    pub first_seen: DateTime<Utc>,
}

/// Why the client must reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    /// The client read too slowly: its queued messages were dropped.
    SlowClient,
    /// The server's listener lost events (a dropped database connection).
    MissedEvents,
}

impl ResyncReason {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::SlowClient => "slow_client",
            Self::MissedEvents => "missed_events",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResyncData {
    pub reason: ResyncReason,
}

/// Which changes a client receives; null means all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionFilter {
    pub task_names: Option<Vec<String>>,
    pub statuses: Option<Vec<RunStatus>>,
    /// Only runs of these services (the worker's `service.name`).
    #[serde(default)]
    pub services: Option<Vec<String>>,
    /// Only runs of these deployment environments.
    #[serde(default)]
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorData {
    pub message: String,
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Receive only these task names, statuses, services and environments from now on (null or
    /// absent: all).
    Subscribe {
        #[serde(default)]
        task_names: Option<Vec<String>>,
        #[serde(default)]
        statuses: Option<Vec<RunStatus>>,
        #[serde(default)]
        services: Option<Vec<String>>,
        #[serde(default)]
        environments: Option<Vec<String>>,
    },
}

impl ServerMessage {
    /// The messages for a store event: its status change, if it is one, then the error group
    /// it opened, if it opened one.
    pub fn of_event(event: &LiveEvent) -> impl Iterator<Item = Self> {
        let group = event
            .new_error_group
            .as_ref()
            .map(|group| ServerMessage::ErrorGroupCreated {
                task_name: event.task_name.clone(),
                timestamp: event.updated_at,
                data: NewErrorGroupData {
                    id: group.id,
                    service: event.service_name.clone(),
                    environment: event.environment.clone(),
                    error_type: group.error_type.clone(),
                    message: event.error_message.clone(),
                    first_seen: group.first_seen,
                },
            });
        Self::status_change(event).into_iter().chain(group)
    }

    /// The message for a store event, or `None` when the event is not a status change.
    fn status_change(event: &LiveEvent) -> Option<Self> {
        if event.previous_status == Some(event.status) {
            return None;
        }
        Some(ServerMessage::TaskStatusChanged {
            task_name: event.task_name.clone(),
            status: event.status.into(),
            timestamp: event.updated_at,
            data: StatusChange {
                id: event.id,
                task_id: event.task_id.clone(),
                service_name: event.service_name.clone(),
                environment: event.environment.clone(),
                previous_status: event.previous_status.map(RunStatus::from),
                source: event.source.into(),
                attempt: event.attempt,
                created_at: event.created_at,
                started_at: event.started_at,
                completed_at: event.completed_at,
                duration_ms: event.duration_ms,
                queue_wait_ms: event.queue_wait_ms,
                error_message: event.error_message.clone(),
            },
        })
    }

    pub(super) fn resync(reason: ResyncReason) -> Self {
        ServerMessage::Resync {
            timestamp: Utc::now(),
            data: ResyncData { reason },
        }
    }

    pub(super) fn to_text(&self) -> String {
        // Serialising these plain structs cannot fail; an empty object is a safe fallback.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// A client's filter, in the form the hub checks.
#[derive(Debug, Default)]
pub(super) struct Filter {
    task_names: Option<HashSet<String>>,
    statuses: Option<HashSet<RunStatus>>,
    services: Option<HashSet<String>>,
    environments: Option<HashSet<String>>,
}

impl Filter {
    pub(super) fn of(subscription: &SubscriptionFilter) -> Self {
        let set = |names: &Option<Vec<String>>| {
            names
                .as_ref()
                .map(|names| names.iter().cloned().collect::<HashSet<_>>())
        };
        Filter {
            task_names: set(&subscription.task_names),
            services: set(&subscription.services),
            environments: set(&subscription.environments),
            statuses: subscription
                .statuses
                .as_ref()
                .map(|statuses| statuses.iter().copied().collect()),
        }
    }

    pub(super) fn admits(&self, event: &LiveEvent) -> bool {
        fn within(set: Option<&HashSet<String>>, value: Option<&str>) -> bool {
            set.is_none_or(|set| value.is_some_and(|v| set.contains(v)))
        }
        within(self.task_names.as_ref(), Some(&event.task_name))
            && within(self.services.as_ref(), event.service_name.as_deref())
            && within(self.environments.as_ref(), event.environment.as_deref())
            && self
                .statuses
                .as_ref()
                .is_none_or(|statuses| statuses.contains(&RunStatus::from(event.status)))
    }
}

/// What the server answers to a client's frame, and the filter it sets.
pub(super) fn answer(text: &str) -> (ServerMessage, Option<SubscriptionFilter>) {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Subscribe {
            task_names,
            statuses,
            services,
            environments,
        }) => {
            let filter = SubscriptionFilter {
                task_names,
                statuses,
                services,
                environments,
            };
            let ack = ServerMessage::Subscribed {
                timestamp: Utc::now(),
                data: filter.clone(),
            };
            (ack, Some(filter))
        }
        Err(err) => (
            ServerMessage::Error {
                timestamp: Utc::now(),
                data: ErrorData {
                    message: format!(
                        "expected {{\"type\":\"subscribe\",\"task_names\":[..]|null,\
                         \"statuses\":[..]|null,\"services\":[..]|null,\
                         \"environments\":[..]|null}}: {err}"
                    ),
                },
            },
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use tasklens_model::{SourceSystem, TaskStatus};

    use super::*;

    fn event(id: i64, status: TaskStatus, previous: Option<TaskStatus>) -> LiveEvent {
        LiveEvent {
            id,
            task_id: format!("t{id}"),
            task_name: "score_message".into(),
            service_name: Some("scoring".into()),
            environment: None,
            status,
            previous_status: previous,
            source: SourceSystem::Celery,
            attempt: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            started_at: None,
            completed_at: None,
            duration_ms: None,
            queue_wait_ms: None,
            error_message: None,
            new_error_group: None,
        }
    }

    fn kinds(event: &LiveEvent) -> Vec<&'static str> {
        ServerMessage::of_event(event)
            .map(|m| match m {
                ServerMessage::TaskStatusChanged { .. } => "status",
                ServerMessage::ErrorGroupCreated { .. } => "group",
                _ => "other",
            })
            .collect()
    }

    #[test]
    fn only_status_changes_become_messages() {
        use TaskStatus::*;
        assert_eq!(kinds(&event(1, Pending, None)), ["status"]);
        assert_eq!(kinds(&event(1, Running, Some(Pending))), ["status"]);
        assert!(kinds(&event(1, Running, Some(Running))).is_empty());
    }

    #[test]
    fn a_new_group_follows_the_status_change_that_opened_it() {
        let mut opened = event(1, TaskStatus::Failed, Some(TaskStatus::Running));
        opened.error_message = Some("boom".into());
        opened.new_error_group = Some(tasklens_store::NewErrorGroup {
            id: 7,
            error_type: Some("ValueError".into()),
            first_seen: opened.updated_at,
        });
        assert_eq!(kinds(&opened), ["status", "group"]);
        let Some(ServerMessage::ErrorGroupCreated { data, .. }) =
            ServerMessage::of_event(&opened).nth(1)
        else {
            panic!("no group message");
        };
        assert_eq!((data.id, data.message.as_deref()), (7, Some("boom")));
        let text = ServerMessage::of_event(&opened).nth(1).map(|m| m.to_text());
        assert!(text.is_some_and(|t| t.contains(r#""type":"error_group_created""#)));
    }

    #[test]
    fn filters() {
        let filter = |names: Option<&[&str]>, statuses: Option<&[RunStatus]>| {
            Filter::of(&SubscriptionFilter {
                task_names: names.map(|n| n.iter().map(|s| (*s).to_owned()).collect()),
                statuses: statuses.map(<[RunStatus]>::to_vec),
                ..SubscriptionFilter::default()
            })
        };
        let run = |name: &str, status: TaskStatus| LiveEvent {
            task_name: name.into(),
            ..event(1, status, None)
        };
        assert!(filter(None, None).admits(&run("a", TaskStatus::Failed)));
        assert!(filter(Some(&["a"]), None).admits(&run("a", TaskStatus::Success)));
        assert!(!filter(Some(&["a"]), None).admits(&run("b", TaskStatus::Success)));
        assert!(!filter(Some(&[]), None).admits(&run("a", TaskStatus::Success)));
        let failed_a = filter(Some(&["a"]), Some(&[RunStatus::Failed]));
        assert!(failed_a.admits(&run("a", TaskStatus::Failed)));
        assert!(!failed_a.admits(&run("a", TaskStatus::Success)));
        assert!(!failed_a.admits(&run("b", TaskStatus::Failed)));
    }

    #[test]
    fn a_service_or_environment_filter_admits_only_runs_that_say_so() {
        let only = |services: &[&str], environments: Option<&[&str]>| {
            Filter::of(&SubscriptionFilter {
                services: Some(services.iter().map(|s| (*s).to_owned()).collect()),
                environments: environments.map(|e| e.iter().map(|s| (*s).to_owned()).collect()),
                ..SubscriptionFilter::default()
            })
        };
        let scoring = event(1, TaskStatus::Success, None);
        let unknown = LiveEvent {
            service_name: None,
            ..scoring.clone()
        };
        let prod = LiveEvent {
            environment: Some("prod".into()),
            ..scoring.clone()
        };
        assert!(only(&["scoring"], None).admits(&scoring));
        assert!(!only(&["web"], None).admits(&scoring));
        assert!(!only(&["scoring"], None).admits(&unknown));
        assert!(!only(&["scoring"], Some(&["prod"])).admits(&scoring));
        assert!(only(&["scoring"], Some(&["prod"])).admits(&prod));
        let (_, set) = answer(r#"{"type":"subscribe","services":["scoring"]}"#);
        assert_eq!(
            set.and_then(|f| f.services),
            Some(vec!["scoring".to_owned()])
        );
    }

    #[test]
    fn client_messages() {
        let (reply, filter) = answer(r#"{"type":"subscribe","task_names":["a"],"statuses":null}"#);
        assert!(matches!(reply, ServerMessage::Subscribed { .. }));
        assert_eq!(
            filter,
            Some(SubscriptionFilter {
                task_names: Some(vec!["a".into()]),
                ..SubscriptionFilter::default()
            })
        );
        let (_, filter) = answer(r#"{"type":"subscribe"}"#);
        assert_eq!(filter, Some(SubscriptionFilter::default()));
        for bad in [
            r#"{"type":"subscribe","statuses":["done"]}"#,
            "nonsense",
            r#"{"type":"x"}"#,
        ] {
            let (reply, filter) = answer(bad);
            assert!(matches!(reply, ServerMessage::Error { .. }), "{bad}");
            assert_eq!(filter, None);
        }
    }
}
