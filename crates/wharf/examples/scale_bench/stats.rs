//! Medians and 90th percentiles of timings, in milliseconds.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub median: f64,
    pub p90: f64,
}

/// Median and p90 (nearest rank) of `samples` in ms; zeros for no samples.
pub fn spread(samples: &[Duration]) -> Spread {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = |q: f64| {
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1e3
    };
    Spread {
        median: rank(0.5),
        p90: rank(0.9),
    }
}

/// The first and the last `window` samples (the same slice when there are fewer than
/// 2 x `window`).
pub fn ends(samples: &[Duration], window: usize) -> (&[Duration], &[Duration]) {
    let window = window.min(samples.len());
    (&samples[..window], &samples[samples.len() - window..])
}

pub fn total_secs(samples: &[Duration]) -> f64 {
    samples.iter().map(Duration::as_secs_f64).sum()
}
