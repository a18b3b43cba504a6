//! The decoder's self-attention key/value cache, with roll-back.
//!
//! Speculative decoding feeds several draft tokens through the target in one pass and then
//! keeps only the accepted ones, so the cache must shrink as easily as it grows: `truncate(n)`
//! just moves the length back. Each layer owns a buffer of the model's full context
//! (`max_target_positions`, 448) allocated on first use; appending writes new rows in place,
//! so a 224-token window never re-copies the past (as concatenation would).

use candle_core::{Result, Tensor};

/// Keys and values of one decoder layer: `[1, heads, capacity, head_dim]` buffers, the first
/// `len` positions valid.
/// Not `Clone`: the buffers are written in place, so a clone would alias them; use `fork`.
#[derive(Debug)]
pub struct LayerCache {
    k: Option<Tensor>,
    v: Option<Tensor>,
    len: usize,
    capacity: usize,
}

impl LayerCache {
    fn new(capacity: usize) -> Self {
        LayerCache {
            k: None,
            v: None,
            len: 0,
            capacity,
        }
    }

    /// Appends `k`, `v` of shape `[1, heads, n, head_dim]` and returns the keys and values of
    /// every cached position (`[1, heads, len + n, head_dim]`).
    pub fn append(&mut self, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let n = k.dim(2)?;
        if self.len + n > self.capacity {
            candle_core::bail!(
                "decoder context full: {} cached + {n} new > {} positions",
                self.len,
                self.capacity
            );
        }
        if self.k.is_none() {
            let (b, h, _, d) = k.dims4()?;
            let shape = (b, h, self.capacity, d);
            self.k = Some(Tensor::zeros(shape, k.dtype(), k.device())?);
            self.v = Some(Tensor::zeros(shape, v.dtype(), v.device())?);
        }
        let (kb, vb) = (self.k.as_ref().unwrap(), self.v.as_ref().unwrap());
        kb.slice_set(&k.contiguous()?, 2, self.len)?;
        vb.slice_set(&v.contiguous()?, 2, self.len)?;
        self.len += n;
        Ok((kb.narrow(2, 0, self.len)?, vb.narrow(2, 0, self.len)?))
    }

    /// Independent copy of the valid positions (the buffers are written in place, so a fork
    /// must not share them).
    fn fork(&self) -> Result<Self> {
        let copy = |t: &Option<Tensor>| -> Result<Option<Tensor>> {
            match t {
                None => Ok(None),
                Some(t) => {
                    let fresh = Tensor::zeros(t.shape(), t.dtype(), t.device())?;
                    if self.len > 0 {
                        fresh.slice_set(&t.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                    }
                    Ok(Some(fresh))
                }
            }
        };
        Ok(LayerCache {
            k: copy(&self.k)?,
            v: copy(&self.v)?,
            len: self.len,
            capacity: self.capacity,
        })
    }
}

/// The self-attention cache of every decoder layer; all layers always hold the same length.
/// Not `Clone` (see [`LayerCache`]): [`KvCache::fork`] makes an independent copy.
#[derive(Debug)]
pub struct KvCache {
    layers: Vec<LayerCache>,
}

impl KvCache {
    /// An empty cache for `layers` layers of at most `capacity` positions.
    pub fn new(layers: usize, capacity: usize) -> Self {
        KvCache {
            layers: (0..layers).map(|_| LayerCache::new(capacity)).collect(),
        }
    }

    /// Positions cached (the offset of the next token).
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, |l| l.len)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most positions this cache can hold.
    pub fn capacity(&self) -> usize {
        self.layers.first().map_or(0, |l| l.capacity)
    }

    /// Rolls back to the first `n` positions (no-op when `n >= len`).
    pub fn truncate(&mut self, n: usize) {
        for layer in &mut self.layers {
            layer.len = layer.len.min(n);
        }
    }

    /// Forgets everything (start of a new window).
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// An independent copy (for branching decoders).
    pub fn fork(&self) -> Result<Self> {
        Ok(KvCache {
            layers: self
                .layers
                .iter()
                .map(LayerCache::fork)
                .collect::<Result<_>>()?,
        })
    }

    /// The cache of layer `i`.
    pub(crate) fn layer_mut(&mut self, i: usize) -> &mut LayerCache {
        &mut self.layers[i]
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.layers.len()
    }
}
