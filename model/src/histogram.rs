//! Log-scale duration histograms, the part of a rollup that gives percentiles without raw rows.
//!
//! Bin 0 holds durations under 1 ms; bin `i >= 1` holds `[BOUNDS[i-1], BOUNDS[i])`, where the
//! bounds grow by 10% (integer milliseconds), so a percentile read from the histogram is within
//! about 5% of the exact one. The bounds are integers so every backend bins identically.

use std::sync::OnceLock;

/// Growth factor between bin bounds.
const GROWTH: f64 = 1.1;
/// Durations at or above 2^32 ms (about 50 days) share the last bin.
const LAST_BOUND: i64 = 1 << 32;

fn bounds() -> &'static [i64] {
    static BOUNDS: OnceLock<Vec<i64>> = OnceLock::new();
    BOUNDS.get_or_init(|| {
        let mut bounds = Vec::new();
        let mut bound: i64 = 1;
        while bound < LAST_BOUND {
            bounds.push(bound);
            // Exact for these magnitudes: the product stays far below 2^53.
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let grown = (bound as f64 * GROWTH).ceil() as i64;
            bound = grown.max(bound + 1);
        }
        bounds.push(LAST_BOUND);
        bounds
    })
}

/// Number of bins.
pub fn bin_count() -> usize {
    bounds().len() + 1
}

/// The bin of a duration in milliseconds (negative durations count as 0).
pub fn bin_of(ms: i64) -> usize {
    bounds().partition_point(|&bound| bound <= ms)
}

/// A value representing bin `i`: 0 for the first, the lower bound for the last, otherwise the
/// geometric middle of the bin's range (integers `lo..hi`).
pub fn representative(bin: usize) -> f64 {
    let bounds = bounds();
    #[allow(clippy::cast_precision_loss)]
    match bin {
        0 => 0.0,
        b if b >= bounds.len() => bounds[bounds.len() - 1] as f64,
        b => {
            let (lo, hi) = (bounds[b - 1] as f64, (bounds[b] - 1) as f64);
            (lo * hi).sqrt()
        }
    }
}

/// Counts per bin. Trailing zero bins are not stored, so a histogram of short durations stays
/// short. Counts can be negative in a delta (a run whose duration changed moves bins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<i64>,
}

impl Histogram {
    pub fn from_counts(mut counts: Vec<i64>) -> Self {
        while counts.last() == Some(&0) {
            counts.pop();
        }
        Histogram { counts }
    }

    pub fn counts(&self) -> &[i64] {
        &self.counts
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Adds `n` (possibly negative) observations to `bin`.
    pub fn add_bin(&mut self, bin: usize, n: i64) {
        if self.counts.len() <= bin {
            self.counts.resize(bin + 1, 0);
        }
        self.counts[bin] += n;
        while self.counts.last() == Some(&0) {
            self.counts.pop();
        }
    }

    pub fn record(&mut self, ms: i64) {
        self.add_bin(bin_of(ms), 1);
    }

    pub fn add(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        while self.counts.last() == Some(&0) {
            self.counts.pop();
        }
    }

    pub fn total(&self) -> i64 {
        self.counts.iter().sum()
    }

    /// The `q`-quantile (0 < q <= 1) by the nearest-rank method, as the representative of the
    /// bin that holds it; `None` for an empty histogram.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total <= 0 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
        let mut seen = 0;
        for (bin, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(representative(bin));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bins_are_ordered_and_cover_small_values_exactly() {
        assert_eq!(bin_of(-5), 0);
        assert_eq!(bin_of(0), 0);
        assert_eq!(bin_of(1), 1);
        assert_eq!(bin_of(2), 2);
        assert_eq!(representative(1), 1.0);
        assert!(bin_count() < 260, "{} bins", bin_count());
        assert_eq!(bin_of(i64::MAX), bin_count() - 1);
    }

    #[test]
    fn quantiles_of_a_known_set() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.record(ms * 10);
        }
        let p50 = h.quantile(0.5).expect("non-empty");
        let p99 = h.quantile(0.99).expect("non-empty");
        assert!((p50 - 500.0).abs() / 500.0 < 0.06, "p50 {p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.06, "p99 {p99}");
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn adding_and_removing_cancels_out() {
        let mut h = Histogram::default();
        h.record(1234);
        h.add_bin(bin_of(1234), -1);
        assert!(h.is_empty());
    }

    proptest! {
        #[test]
        fn representative_is_within_five_percent(ms in 1i64..4_000_000_000) {
            let r = representative(bin_of(ms));
            #[allow(clippy::cast_precision_loss)]
            let err = (r - ms as f64).abs() / ms as f64;
            prop_assert!(err <= 0.05, "ms {} -> {} ({:.3})", ms, r, err);
        }

        #[test]
        fn bin_of_is_monotonic(a in 0i64..10_000_000_000, b in 0i64..10_000_000_000) {
            if a <= b { prop_assert!(bin_of(a) <= bin_of(b)); }
        }
    }
}
