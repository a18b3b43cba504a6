//! Every variable of a CTranslate2 `model.bin` must end up in the imported model: the import
//! maps names by the architecture it derives ([`super::import::name_map`]), and a variable
//! outside that map (a stray layer scope, a weight of another architecture) would otherwise be
//! dropped without a word. Scalars are settings (head counts), not weights, and the
//! quantization scales travel with their weights.

use std::collections::BTreeSet;

use super::ModelError;
use super::ct2::Ct2Model;
use super::import::name_map;
use crate::model::WhisperConfig;

/// The variables of `model` that the import of `config` would not use, sorted.
pub fn unused_variables(model: &Ct2Model, config: &WhisperConfig) -> Vec<String> {
    let mut used = BTreeSet::new();
    for (_, src) in name_map(config) {
        used.insert(format!("{}_scale", src.ct2_name));
        used.insert(src.ct2_name);
    }
    model
        .variables()
        .filter(|(name, var)| !var.shape.is_empty() && !used.contains(*name))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// An error naming the unused variables of `model`, if any.
pub fn check(model: &Ct2Model, config: &WhisperConfig) -> Result<(), ModelError> {
    let unused = unused_variables(model, config);
    if unused.is_empty() {
        return Ok(());
    }
    Err(ModelError::ct2(
        model.path(),
        super::read_log::leftover_message(&unused),
    ))
}
