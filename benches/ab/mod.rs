//! Interleaved A/B measurement shared by the benches: rounds of `per_round` operations of each
//! side, alternating which side goes first, so drift on the machine hits both alike.

use std::future::Future;
use std::time::{Duration, Instant};

pub struct Ab {
    pub a_total: Duration,
    pub b_total: Duration,
    /// Per round, B's time over A's.
    pub ratios: Vec<f64>,
    pub operations: usize,
}

impl Ab {
    /// B's total time over A's.
    pub fn ratio_of_totals(&self) -> f64 {
        self.b_total.as_secs_f64() / self.a_total.as_secs_f64()
    }

    pub fn median_ratio(&self) -> f64 {
        let mut r = self.ratios.clone();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    }

    /// Mean time of one operation of A and of B.
    pub fn per_op(&self) -> (Duration, Duration) {
        let n = self.operations as u32;
        (self.a_total / n, self.b_total / n)
    }

    /// The benches' line for a throughput comparison: `{what}: interleaved A/B over N {ops}
    /// each: {a} x req/s, {b} y req/s; {b} at z% of {a} (median of k rounds m%{goal})`.
    #[allow(dead_code, reason = "not every bench compares throughput")]
    pub fn throughput_line(&self, what: &str, ops: &str, a: &str, b: &str, goal: &str) -> String {
        let (per_a, per_b) = self.per_op();
        format!(
            "{what}: interleaved A/B over {} {ops} each: {a} {:.0} req/s, {b} {:.0} req/s; \
             {b} at {:.1}% of {a} (median of {} rounds {:.1}%{goal})",
            self.operations,
            1.0 / per_a.as_secs_f64(),
            1.0 / per_b.as_secs_f64(),
            100.0 / self.ratio_of_totals(),
            self.ratios.len(),
            100.0 / self.median_ratio()
        )
    }
}

pub async fn interleaved<FA, FB>(
    rounds: usize,
    per_round: usize,
    mut a: impl FnMut() -> FA,
    mut b: impl FnMut() -> FB,
) -> Ab
where
    FA: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    let mut result = Ab {
        a_total: Duration::ZERO,
        b_total: Duration::ZERO,
        ratios: Vec::new(),
        operations: rounds * per_round,
    };
    for round in 0..rounds {
        let mut pair = [Duration::ZERO; 2];
        for side in [round % 2, 1 - round % 2] {
            let t = Instant::now();
            for _ in 0..per_round {
                if side == 0 {
                    a().await;
                } else {
                    b().await;
                }
            }
            pair[side] = t.elapsed();
        }
        result.a_total += pair[0];
        result.b_total += pair[1];
        result
            .ratios
            .push(pair[1].as_secs_f64() / pair[0].as_secs_f64());
    }
    result
}
