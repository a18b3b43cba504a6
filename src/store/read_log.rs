//! Which tensors a model load actually read, so that a weights file holding more than the
//! config describes is refused instead of silently half-used: a config.json that says one
//! decoder layer over weights of four would otherwise load, ignore three layers and print
//! gibberish. [`ReadLog`] wraps any `VarBuilder` backend and records every name asked for;
//! [`UsedTensors::leftovers`] then lists what the file holds that nobody read.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::VarBuilder;
use candle_nn::var_builder::SimpleBackend;

use super::ModelError;
use super::layout::ModelDir;
use super::load::{WeightStorage, open_weights};

/// Tensors a file may hold without the network reading them: the output projection, which
/// Whisper ties to the token embedding (some exports store the tied copy anyway).
pub const TOLERATED_UNREAD: &[&str] = &["proj_out.weight"];

/// A backend that records the names read through it.
pub struct ReadLog<B> {
    inner: B,
    read: Arc<Mutex<BTreeSet<String>>>,
}

/// The names read through a [`ReadLog`] (shared with it), and every name of the file when
/// it came from [`logged_var_builder`].
#[derive(Clone, Default)]
pub struct UsedTensors {
    read: Arc<Mutex<BTreeSet<String>>>,
    all: Vec<String>,
}

impl<B: SimpleBackend> ReadLog<B> {
    /// Wraps `inner`; the returned [`UsedTensors`] fills as tensors are read.
    pub fn new(inner: B) -> (Self, UsedTensors) {
        let used = UsedTensors::default();
        (
            ReadLog {
                inner,
                read: used.read.clone(),
            },
            used,
        )
    }

    fn record(&self, name: &str) {
        self.read
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string());
    }
}

/// Opens a model's weights as [`super::var_builder`] does, logging every tensor read.
pub fn logged_var_builder(
    model: &ModelDir,
    dtype: DType,
    device: &Device,
    storage: WeightStorage,
) -> std::result::Result<(VarBuilder<'static>, UsedTensors), ModelError> {
    let file = open_weights(model, device, storage)?;
    let names = file.names();
    let (log, mut used) = ReadLog::new(file);
    used.all = names;
    let vb = VarBuilder::from_backend(Box::new(log), dtype, device.clone());
    Ok((vb, used))
}

impl UsedTensors {
    /// An error naming the tensors of the file (at `path`) that were not read.
    pub fn check_all_read(&self, path: &Path) -> std::result::Result<(), ModelError> {
        let leftovers = self.leftovers(self.all.iter().cloned());
        if leftovers.is_empty() {
            Ok(())
        } else {
            Err(ModelError::invalid(path, leftover_message(&leftovers)))
        }
    }

    /// The names in `all` that were not read and are not tolerated, sorted.
    pub fn leftovers(&self, all: impl IntoIterator<Item = String>) -> Vec<String> {
        let read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        let mut left: Vec<String> = all
            .into_iter()
            .filter(|n| !read.contains(n) && !TOLERATED_UNREAD.contains(&n.as_str()))
            .collect();
        left.sort();
        left
    }
}

impl<B: SimpleBackend> SimpleBackend for ReadLog<B> {
    fn get(
        &self,
        s: Shape,
        name: &str,
        init: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> Result<Tensor> {
        self.record(name);
        self.inner.get(s, name, init, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
        self.record(name);
        self.inner.get_unchecked(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.inner.contains_tensor(name)
    }
}

/// The error for tensors left unread: names the first few and how many there are.
pub fn leftover_message(leftovers: &[String]) -> String {
    const SHOWN: usize = 5;
    let shown = leftovers
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = leftovers.len().saturating_sub(SHOWN);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "{} tensor(s) the config does not describe (does config.json match the weights?): \
         {shown}{tail}",
        leftovers.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Two;
    impl SimpleBackend for Two {
        fn get(
            &self,
            s: Shape,
            _: &str,
            _: candle_nn::Init,
            dtype: DType,
            dev: &Device,
        ) -> Result<Tensor> {
            Tensor::zeros(s, dtype, dev)
        }
        fn get_unchecked(&self, _: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
            Tensor::zeros(1, dtype, dev)
        }
        fn contains_tensor(&self, name: &str) -> bool {
            name == "a" || name == "b"
        }
    }

    #[test]
    fn unread_names_are_the_leftovers() {
        let (log, used) = ReadLog::new(Two);
        let vb = candle_nn::VarBuilder::from_backend(Box::new(log), DType::F32, Device::Cpu);
        vb.get(1, "a").unwrap();
        assert!(vb.contains_tensor("b"));
        let all = ["a", "b", "proj_out.weight"].map(String::from);
        assert_eq!(used.leftovers(all), vec!["b".to_string()]);
        let msg = leftover_message(&["b".to_string()]);
        assert!(msg.contains("1 tensor(s)") && msg.contains(": b"), "{msg}");
    }
}
