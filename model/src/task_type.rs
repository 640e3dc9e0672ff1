//! A task type: the figures, thresholds and views of tasklens are kept per task name within one
//! service and deployment environment, so two services that both run a `send_email` task are
//! two task types.

use crate::run::RunState;

/// A task name in one service and environment. An empty service or environment stands for a
/// run that does not say: a worker without `service.name`, or a pending run no worker has
/// reported yet (the producer's service is not the task's).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskType {
    pub task_name: String,
    pub service: String,
    pub environment: String,
}

impl TaskType {
    pub fn new(task_name: &str, service: Option<&str>, environment: Option<&str>) -> Self {
        TaskType {
            task_name: task_name.to_owned(),
            service: service.unwrap_or_default().to_owned(),
            environment: environment.unwrap_or_default().to_owned(),
        }
    }

    pub fn of(run: &RunState) -> Self {
        Self::new(
            &run.task_name,
            run.service_name.as_deref(),
            run.environment.as_deref(),
        )
    }

    /// The service, `None` when the runs do not say.
    pub fn service(&self) -> Option<&str> {
        Some(self.service.as_str()).filter(|s| !s.is_empty())
    }

    /// The environment, `None` when the runs do not say.
    pub fn environment(&self) -> Option<&str> {
        Some(self.environment.as_str()).filter(|s| !s.is_empty())
    }
}

/// Which task types a read covers; each `None` matches every value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TaskTypeFilter {
    pub task_name: Option<String>,
    pub service: Option<String>,
    pub environment: Option<String>,
}

impl TaskTypeFilter {
    /// Every task type of one task name.
    pub fn task_name(name: Option<&str>) -> Self {
        TaskTypeFilter {
            task_name: name.map(str::to_owned),
            ..Self::default()
        }
    }

    pub fn matches(&self, task_type: &TaskType) -> bool {
        fn field(want: Option<&String>, have: &str) -> bool {
            want.is_none_or(|w| w == have)
        }
        field(self.task_name.as_ref(), &task_type.task_name)
            && field(self.service.as_ref(), &task_type.service)
            && field(self.environment.as_ref(), &task_type.environment)
    }

    /// The same filter without its task name (for the task types a name can be chosen from).
    pub fn without_task_name(&self) -> Self {
        TaskTypeFilter {
            task_name: None,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunKey;
    use crate::status::{SourceSystem, TaskStatus};

    #[test]
    fn one_task_name_in_two_services_is_two_task_types() {
        let key = RunKey {
            source: SourceSystem::Celery,
            task_id: "t".into(),
            attempt: 0,
        };
        let mut billing = RunState::new(key.clone(), "send_email", TaskStatus::Success);
        billing.service_name = Some("billing".into());
        billing.environment = Some("prod".into());
        let mut web = RunState::new(key, "send_email", TaskStatus::Success);
        web.service_name = Some("web".into());
        let (billing, web) = (TaskType::of(&billing), TaskType::of(&web));
        assert_ne!(billing, web);
        assert_eq!(billing.environment(), Some("prod"));
        assert_eq!((web.service(), web.environment()), (Some("web"), None));

        let filter = TaskTypeFilter {
            service: Some("billing".into()),
            ..TaskTypeFilter::task_name(Some("send_email"))
        };
        assert!(filter.matches(&billing));
        assert!(!filter.matches(&web));
        assert!(TaskTypeFilter::default().matches(&web));
        assert!(filter.without_task_name().matches(&billing));
    }
}
