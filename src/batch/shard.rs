//! Which part of an archive this process transcribes: shard K of N (K counts from 0).
//!
//! The shard comes from `--shard K/N`, or from the array-job variables of the engine that
//! started the process: Slurm (`SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN`, of
//! `SLURM_ARRAY_TASK_COUNT`), Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`) and AWS Batch
//! (`AWS_BATCH_JOB_ARRAY_INDEX`); the last two do not export the count, which `--shards N`
//! gives.
//!
//! The split ([`split`]) needs no coordination: every task lists the same inputs, sorts them
//! the same way and deals them out by expected cost ([`cost`]: duration plus a fixed cost per
//! window) with the same deterministic rule, so each computes the same assignment and takes
//! its own part.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which one, from 0.
    pub index: usize,
    /// How many.
    pub count: usize,
}

impl Shard {
    /// The whole archive in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Checks `index < count` and `count >= 1`.
    pub fn new(index: usize, count: usize) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard {index} of {count} does not exist: shards count from 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// The file-name form, `K-of-N`.
    pub fn file_stem(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s}: a shard is written K/N, e.g. 0/4"))?;
        let parse = |v: &str, what: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| format!("{s}: the shard's {what} ({v}) is not a whole number"))
        };
        Shard::new(parse(k, "index")?, parse(n, "count")?)
    }
}

/// Where the shard came from, for the line printed at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardSource {
    /// `--shard`.
    Flag,
    /// An array-job variable (its name).
    Engine(&'static str),
    /// Neither: the whole archive.
    Whole,
}

/// The shard of this process: `flag` when given, else the first array-job variable set in
/// `env` (a lookup, `std::env::var` in real use), with `shards` (`--shards`) as the count where
/// the engine exports none or to check the one it does.
pub fn resolve(
    flag: Option<Shard>,
    shards: Option<usize>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Shard, ShardSource), String> {
    if let Some(shard) = flag {
        if let Some(n) = shards
            && n != shard.count
        {
            return Err(format!("--shard {shard} and --shards {n} disagree"));
        }
        return Ok((shard, ShardSource::Flag));
    }
    let number = |name: &str| -> Result<Option<usize>, String> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}={v} is not a whole number")),
        }
    };
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let count = match (number("SLURM_ARRAY_TASK_COUNT")?, shards) {
            (Some(c), Some(n)) if c != n => {
                return Err(format!(
                    "SLURM_ARRAY_TASK_COUNT={c} but --shards {n}: the array and the split must agree"
                ));
            }
            (Some(c), _) | (None, Some(c)) => c,
            (None, None) => {
                return Err(
                    "SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT: give --shards N"
                        .into(),
                );
            }
        };
        let index = id.checked_sub(min).ok_or_else(|| {
            format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")
        })?;
        // An array with gaps or steps (--array=1,5 or 0-10:2) has no dense index.
        let shard = Shard::new(index, count).map_err(|e| {
            format!(
                "SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_MIN={min}: {e} (submit a dense array, \
                 --array=0-{})",
                count - 1
            )
        })?;
        return Ok((shard, ShardSource::Engine("SLURM_ARRAY_TASK_ID")));
    }
    for name in ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"] {
        if let Some(index) = number(name)? {
            let count = shards.ok_or_else(|| {
                format!("{name} is set: give the number of shards with --shards N")
            })?;
            let shard = Shard::new(index, count).map_err(|e| format!("{name}={index}: {e}"))?;
            return Ok((shard, ShardSource::Engine(name)));
        }
    }
    match shards {
        Some(n) if n > 1 => Err(format!(
            "--shards {n} without a shard index: give --shard K/{n}, or run as an array job"
        )),
        _ => Ok((Shard::WHOLE, ShardSource::Whole)),
    }
}

/// Seconds of audio one 30-second window's encoder pass costs as much as (measured: base on
/// this 2-core machine, about 0.4 s per window against 0.013 s per second of audio decoded).
const WINDOW_COST_S: f64 = 30.0;

/// The work an input of `duration_s` seconds is expected to take, in seconds of audio: its
/// duration plus the fixed cost of each window's encoder pass, so that a shard of many short
/// files is not handed as much audio as a shard of one long one.
pub fn cost(duration_s: f64) -> f64 {
    let duration_s = duration_s.max(0.0);
    duration_s + WINDOW_COST_S * (duration_s / 30.0).ceil().max(1.0)
}

/// Deals `weights` (one per input, in the sorted input order) out to `count` shards: the
/// heaviest first, each to the shard with the least weight so far (the lowest index on a tie).
/// Returns each input's shard. Equal inputs give equal outputs on every machine, which is what
/// lets each task compute its part alone.
pub fn split(weights: &[f64], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Stable: equal weights keep the input order.
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
    let mut load = vec![0.0f64; count.max(1)];
    let mut assignment = vec![0; weights.len()];
    for i in order {
        let lightest = (0..load.len())
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        load[lightest] += weights[i].max(0.0);
        assignment[i] = lightest;
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn flag_and_parse_errors() {
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard::new(2, 3).unwrap());
        assert!(
            "3/3"
                .parse::<Shard>()
                .unwrap_err()
                .contains("count from 0 to 2")
        );
        assert!("1".parse::<Shard>().unwrap_err().contains("K/N"));
        assert!("a/3".parse::<Shard>().unwrap_err().contains("index"));
        assert!("0/0".parse::<Shard>().unwrap_err().contains("at least 1"));
        let flag = Some(Shard::new(1, 4).unwrap());
        assert_eq!(resolve(flag, None, env(&[])).unwrap().1, ShardSource::Flag);
        assert!(
            resolve(flag, Some(3), env(&[]))
                .unwrap_err()
                .contains("disagree")
        );
    }

    #[test]
    fn array_job_variables() {
        // Slurm: --array=1-3 gives IDs 1..3 with MIN 1 and COUNT 3.
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        let (shard, source) = resolve(None, None, slurm).unwrap();
        assert_eq!((shard.index, shard.count), (2, 3));
        assert_eq!(source, ShardSource::Engine("SLURM_ARRAY_TASK_ID"));
        // A stepped array (--array=0-4:2: IDs 0, 2, 4, COUNT 3) has no dense index.
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert!(
            resolve(None, None, stepped)
                .unwrap_err()
                .contains("dense array")
        );
        // Kubernetes and AWS Batch need --shards.
        let k8s = env(&[("JOB_COMPLETION_INDEX", "4")]);
        assert!(resolve(None, None, &k8s).unwrap_err().contains("--shards"));
        assert_eq!(
            resolve(None, Some(5), &k8s).unwrap().0,
            Shard::new(4, 5).unwrap()
        );
        let aws = env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "0")]);
        assert_eq!(
            resolve(None, Some(2), aws).unwrap().0,
            Shard::new(0, 2).unwrap()
        );
        // Nothing set: the whole archive; --shards alone is a mistake.
        assert_eq!(resolve(None, None, env(&[])).unwrap().0, Shard::WHOLE);
        assert!(resolve(None, Some(3), env(&[])).is_err());
        let bad = env(&[("JOB_COMPLETION_INDEX", "x")]);
        assert!(
            resolve(None, Some(2), bad)
                .unwrap_err()
                .contains("not a whole number")
        );
    }

    #[test]
    fn short_files_cost_their_windows() {
        assert_eq!(cost(5.0), 35.0);
        assert_eq!(cost(0.0), 30.0);
        assert_eq!(cost(420.0), 420.0 + 14.0 * 30.0);
    }

    #[test]
    fn split_is_balanced_and_deterministic() {
        let weights = [600.0, 10.0, 300.0, 290.0, 5.0, 5.0, 20.0];
        let a = split(&weights, 3);
        assert_eq!(a, split(&weights, 3));
        let mut load = [0.0; 3];
        for (w, &s) in weights.iter().zip(&a) {
            load[s] += w;
        }
        // 600 alone; 300 and 290 apart; the small ones even out the other two.
        assert_eq!(a[0], 0);
        assert_ne!(a[2], a[3]);
        assert_eq!(load, [600.0, 315.0, 315.0]);
        // Every input is in exactly one shard; one shard takes everything.
        assert!(split(&weights, 1).iter().all(|&s| s == 0));
        assert_eq!(split(&[], 4), Vec::<usize>::new());
    }
}
