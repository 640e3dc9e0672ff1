//! When an unfinished run counts as stuck: running longer than its task type's running
//! threshold, or pending longer than its queue-wait threshold.
//!
//! A threshold is, in this order: the first `--stuck-threshold PATTERN=DURATION` rule whose glob
//! matches the task name (one duration for both states); else a multiple of the task type's own
//! recent p99 (duration for running runs, queue wait for pending ones), never below a floor;
//! else, for a type with no finished run to learn from, the floor.

use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::TaskStatus;

/// A glob over task names: `*` is any run of characters, `?` one character; the rest is
/// literal and case-sensitive, as task names are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPattern(String);

impl TaskPattern {
    pub fn new(pattern: &str) -> Self {
        TaskPattern(pattern.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, name: &str) -> bool {
        let pattern: Vec<char> = self.0.chars().collect();
        let name: Vec<char> = name.chars().collect();
        // Iterative glob match with one backtrack point: linear in practice, no recursion.
        let (mut p, mut n) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, n));
                    p += 1;
                }
                Some(&c) if c == '?' || c == name[n] => {
                    p += 1;
                    n += 1;
                }
                _ => match star {
                    Some((star_p, star_n)) => {
                        p = star_p + 1;
                        n = star_n + 1;
                        star = Some((star_p, star_n + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|&c| c == '*')
    }
}

/// One `--stuck-threshold` rule: `PATTERN=DURATION`, e.g. `scheduled_*=15m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckRule {
    pub pattern: TaskPattern,
    pub threshold: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StuckRuleError {
    #[error("stuck threshold {0:?} is not PATTERN=DURATION (e.g. 'scheduled_*=15m')")]
    NotAPair(String),
    #[error("stuck threshold {0:?} has an empty task-name pattern")]
    EmptyPattern(String),
    #[error(
        "stuck threshold {input:?}: {duration:?} is not a duration ({reason}); write e.g. 30s, 15m, 2h"
    )]
    BadDuration {
        input: String,
        duration: String,
        reason: String,
    },
    #[error("stuck threshold {0:?} must be longer than zero")]
    Zero(String),
}

impl FromStr for StuckRule {
    type Err = StuckRuleError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (pattern, duration) = input
            .rsplit_once('=')
            .ok_or_else(|| StuckRuleError::NotAPair(input.to_owned()))?;
        let (pattern, duration) = (pattern.trim(), duration.trim());
        if pattern.is_empty() {
            return Err(StuckRuleError::EmptyPattern(input.to_owned()));
        }
        let threshold =
            humantime::parse_duration(duration).map_err(|err| StuckRuleError::BadDuration {
                input: input.to_owned(),
                duration: duration.to_owned(),
                reason: err.to_string(),
            })?;
        if threshold.is_zero() {
            return Err(StuckRuleError::Zero(input.to_owned()));
        }
        Ok(StuckRule {
            pattern: TaskPattern::new(pattern),
            threshold,
        })
    }
}

/// Where a run's threshold came from, shown beside it so a user knows what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdSource {
    /// A `--stuck-threshold` rule.
    Configured,
    /// The multiple of the type's recent p99.
    History,
    /// The floor: the learned value was lower, or there was nothing to learn from.
    Floor,
}

/// The recent p99s of one task type, in milliseconds, from its rollups.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RecentP99 {
    pub duration_ms: Option<f64>,
    pub queue_wait_ms: Option<f64>,
}

/// The thresholds of every task type.
#[derive(Debug, Clone, PartialEq)]
pub struct StuckThresholds {
    pub rules: Vec<StuckRule>,
    /// The learned threshold is this many times the recent p99.
    pub p99_multiple: f64,
    pub floor: Duration,
}

impl StuckThresholds {
    /// How far back the learned thresholds look.
    pub const HISTORY: chrono::TimeDelta = chrono::TimeDelta::days(7);
    pub const DEFAULT_P99_MULTIPLE: f64 = 5.0;
    pub const DEFAULT_FLOOR: Duration = Duration::from_secs(5 * 60);

    pub fn new(rules: Vec<StuckRule>) -> Self {
        StuckThresholds {
            rules,
            p99_multiple: Self::DEFAULT_P99_MULTIPLE,
            floor: Self::DEFAULT_FLOOR,
        }
    }

    /// The threshold for a run of `task_name` in `status` (pending or running), given its
    /// type's recent p99s.
    pub fn threshold(
        &self,
        task_name: &str,
        status: TaskStatus,
        recent: RecentP99,
    ) -> (Duration, ThresholdSource) {
        if let Some(rule) = self.rules.iter().find(|r| r.pattern.matches(task_name)) {
            return (rule.threshold, ThresholdSource::Configured);
        }
        let p99 = match status {
            TaskStatus::Pending => recent.queue_wait_ms,
            _ => recent.duration_ms,
        };
        let learned = p99
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_secs_f64(ms * self.p99_multiple / 1000.0));
        match learned {
            Some(learned) if learned > self.floor => (learned, ThresholdSource::History),
            _ => (self.floor, ThresholdSource::Floor),
        }
    }
}

impl Default for StuckThresholds {
    fn default() -> Self {
        StuckThresholds::new(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        let cases = [
            ("scheduled_*", "scheduled_daily_digest", true),
            ("scheduled_*", "run_scheduled_digest", false),
            ("score_message", "score_message", true),
            ("score_message", "score_messages", false),
            ("*_batch", "embed_atoms_batch", true),
            ("embed_?toms_batch", "embed_atoms_batch", true),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            (
                "app.tasks.*:score_*",
                "app.tasks.scoring:score_message",
                true,
            ),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                TaskPattern::new(pattern).matches(name),
                expected,
                "{pattern} ~ {name}"
            );
        }
    }

    #[test]
    fn rules_parse_and_bad_ones_say_what_is_wrong() {
        let rule: StuckRule = "scheduled_*=15m".parse().expect("valid");
        assert_eq!(rule.pattern.as_str(), "scheduled_*");
        assert_eq!(rule.threshold, Duration::from_secs(900));
        let rule: StuckRule = " score_message = 30s ".parse().expect("valid");
        assert_eq!(rule.threshold, Duration::from_secs(30));
        assert_eq!(
            "score_message".parse::<StuckRule>(),
            Err(StuckRuleError::NotAPair("score_message".into()))
        );
        assert_eq!(
            "=15m".parse::<StuckRule>(),
            Err(StuckRuleError::EmptyPattern("=15m".into()))
        );
        let bad = "x=soon".parse::<StuckRule>().expect_err("not a duration");
        assert!(
            bad.to_string().contains("\"soon\" is not a duration"),
            "{bad}"
        );
        assert_eq!(
            "x=0s".parse::<StuckRule>(),
            Err(StuckRuleError::Zero("x=0s".into()))
        );
    }

    #[test]
    fn the_first_matching_rule_wins_then_history_then_the_floor() {
        let thresholds = StuckThresholds::new(vec![
            "score_message=30s".parse().expect("rule"),
            "score_*=10m".parse().expect("rule"),
        ]);
        let busy = RecentP99 {
            duration_ms: Some(120_000.0),
            queue_wait_ms: Some(1_000.0),
        };
        assert_eq!(
            thresholds.threshold("score_message", TaskStatus::Running, busy),
            (Duration::from_secs(30), ThresholdSource::Configured)
        );
        assert_eq!(
            thresholds.threshold("score_unscored", TaskStatus::Pending, busy),
            (Duration::from_secs(600), ThresholdSource::Configured)
        );
        // 5 x 120 s for running; 5 x 1 s is below the 5 min floor for pending.
        assert_eq!(
            thresholds.threshold("embed", TaskStatus::Running, busy),
            (Duration::from_secs(600), ThresholdSource::History)
        );
        assert_eq!(
            thresholds.threshold("embed", TaskStatus::Pending, busy),
            (Duration::from_secs(300), ThresholdSource::Floor)
        );
        assert_eq!(
            thresholds.threshold("new_type", TaskStatus::Running, RecentP99::default()),
            (Duration::from_secs(300), ThresholdSource::Floor)
        );
    }
}
