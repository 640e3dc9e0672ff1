//! One day of generated runs, handed out in chunks.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;

use super::runs::{GeneratedRun, RunGenerator};

/// One day of runs: `n` enqueue times spread uniformly over `[from, to)`, handed out in time
/// order. A retry takes the place of the next task, so a day holds exactly `n` runs.
#[derive(Debug)]
pub struct DayPlan {
    generator: RunGenerator,
    times: Vec<DateTime<Utc>>,
    next: usize,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    target: usize,
    produced: usize,
    skip: usize,
}

impl DayPlan {
    pub fn new(
        seed: u64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: usize,
        now: DateTime<Utc>,
    ) -> Self {
        let mut generator = RunGenerator::new(seed);
        let span = (to - from).num_microseconds().unwrap_or(1).max(1);
        let mut offsets: Vec<i64> = (0..n)
            .map(|_| generator.rng().random_range(0..span))
            .collect();
        offsets.sort_unstable();
        let times = offsets
            .into_iter()
            .map(|us| from + TimeDelta::microseconds(us))
            .collect();
        DayPlan {
            generator,
            times,
            next: 0,
            to,
            now,
            target: n,
            produced: 0,
            skip: 0,
        }
    }

    /// The next runs (at most `max`); empty when the day is complete.
    pub fn next_chunk(&mut self, max: usize) -> Vec<GeneratedRun> {
        let mut out = Vec::with_capacity(max + 4);
        let limit = max.min(self.target - self.produced);
        while out.len() < limit && self.next < self.times.len() {
            let created_at = self.times[self.next];
            self.next += 1;
            if self.skip > 0 {
                self.skip -= 1;
                continue;
            }
            let before = out.len();
            self.generator.task(created_at, self.now, self.to, &mut out);
            self.skip += out.len() - before - 1;
        }
        // Retries cut off at the chunk's end are not made: the times set aside for them are
        // given back, or the day would end short of its `n` runs.
        self.skip = self.skip.saturating_sub(out.len().saturating_sub(limit));
        out.truncate(limit);
        self.produced += out.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tasklens_model::TaskStatus;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + h * 3600, 0).expect("valid timestamp")
    }

    #[test]
    fn a_day_holds_exactly_its_runs_whatever_the_chunk_size() {
        // Small chunks end often right after a failed run whose retry does not fit.
        for chunk in [1, 7, 50] {
            let mut plan = DayPlan::new(3, at(0), at(24), 20_000, at(24));
            let mut total = 0;
            loop {
                let runs = plan.next_chunk(chunk);
                if runs.is_empty() {
                    break;
                }
                total += runs.len();
            }
            assert_eq!(total, 20_000, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_day_holds_exactly_the_runs_asked_for_and_is_reproducible() {
        let plan = |seed| {
            let mut plan = DayPlan::new(seed, at(0), at(24), 20_000, at(24));
            let mut runs = Vec::new();
            loop {
                let chunk = plan.next_chunk(3_000);
                if chunk.is_empty() {
                    break;
                }
                runs.extend(chunk);
            }
            runs
        };
        let runs = plan(7);
        assert_eq!(runs.len(), 20_000);
        let again = plan(7);
        assert!(
            runs.iter()
                .zip(&again)
                .all(|(a, b)| a.state == b.state && a.created_at == b.created_at)
        );
        for run in &runs {
            assert_eq!(run.state.validate(), Ok(()), "{run:?}");
            assert!(run.created_at >= at(0) && run.created_at < at(24));
        }
        let failed = runs
            .iter()
            .filter(|r| r.state.status == TaskStatus::Failed)
            .count();
        let retries = runs.iter().filter(|r| r.state.attempt > 0).count();
        assert!((600..1100).contains(&failed), "failed: {failed}");
        assert!((100..400).contains(&retries), "retries: {retries}");
        let tracebacks: Vec<usize> = runs
            .iter()
            .filter_map(|r| r.state.error_traceback.as_ref().map(String::len))
            .collect();
        let mean = tracebacks.iter().sum::<usize>() / tracebacks.len();
        assert!((1200..1900).contains(&mean), "mean traceback: {mean}");
    }

    #[test]
    fn only_the_last_hour_has_runs_in_flight() {
        let mut plan = DayPlan::new(1, at(0), at(24), 50_000, at(24));
        let runs = plan.next_chunk(50_000);
        for run in runs.iter().filter(|r| !r.state.status.is_finished()) {
            assert!(run.created_at >= at(23), "{run:?}");
        }
        let in_flight = runs
            .iter()
            .filter(|r| !r.state.status.is_finished())
            .count();
        assert!(in_flight > 0);
    }
}
