//! Percentiles (nearest rank) and medians of measurements.

use std::time::Duration;

/// Latency figures of a set of timed calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(samples: &[Duration]) -> Self {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Latency {
            samples: sorted.len(),
            p50_ms: percentile(&sorted, 50.0).map_or(0.0, ms),
            p95_ms: percentile(&sorted, 95.0).map_or(0.0, ms),
            max_ms: sorted.last().copied().map_or(0.0, ms),
        }
    }
}

/// The nearest-rank percentile `p` (0-100] of sorted values: the smallest value such that at
/// least `p`% of the values are at most it.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median of some figures (the lower middle one for an even count, a value that was
/// actually measured).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    percentile(&sorted, 50.0).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 95.0), Some(95));
        assert_eq!(percentile(&values, 100.0), Some(100));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
        // 50 samples: p95 is the 48th smallest.
        let fifty: Vec<u32> = (1..=50).collect();
        assert_eq!(percentile(&fifty, 95.0), Some(48));
    }

    #[test]
    fn medians_and_latencies() {
        assert!((median(&[3.0, 1.0, 2.0]) - 2.0).abs() < f64::EPSILON);
        let latency = Latency::of(&[
            Duration::from_millis(4),
            Duration::from_millis(1),
            Duration::from_millis(2),
            Duration::from_millis(3),
        ]);
        assert_eq!(latency.samples, 4);
        assert!((latency.p50_ms - 2.0).abs() < 1e-9);
        assert!((latency.p95_ms - 4.0).abs() < 1e-9);
    }
}
