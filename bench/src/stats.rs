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
            p50_ms: nearest_rank(&sorted, 0.5).map_or(0.0, ms),
            p95_ms: nearest_rank(&sorted, 0.95).map_or(0.0, ms),
            max_ms: sorted.last().copied().map_or(0.0, ms),
        }
    }
}

/// The nearest-rank quantile `q` (0-1] of sorted values: the smallest value such that at least
/// a share `q` of the values are at most it (`q` = 0.95: the 95th percentile).
pub fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median of some figures (the lower middle one for an even count, a value that was
/// actually measured).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    nearest_rank(&sorted, 0.5).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_ranks() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(nearest_rank(&values, 0.5), Some(50));
        assert_eq!(nearest_rank(&values, 0.95), Some(95));
        assert_eq!(nearest_rank(&values, 1.0), Some(100));
        assert_eq!(nearest_rank(&[7], 0.95), Some(7));
        assert_eq!(nearest_rank::<u32>(&[], 0.5), None);
        // 50 samples: p95 is the 48th smallest.
        let fifty: Vec<u32> = (1..=50).collect();
        assert_eq!(nearest_rank(&fifty, 0.95), Some(48));
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
