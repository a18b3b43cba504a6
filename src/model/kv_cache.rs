//! The decoder's self-attention key/value cache, with roll-back.
//!
//! Speculative decoding feeds several draft tokens through the target in one pass and then
//! keeps only the accepted ones, so the cache must shrink as easily as it grows: `truncate(n)`
//! just moves the length back. Each layer owns a buffer of the model's full context
//! (`max_target_positions`, 448) allocated on first use; appending writes new rows in place,
//! so a 224-token window never re-copies the past (as concatenation would).

use candle_core::{Result, Tensor};

/// Keys and values of one decoder layer, the first `len` positions valid: keys transposed,
/// `[1, heads, head_dim, capacity]` (ready for `q k^T`, and the layout the CPU attention
/// kernel reads), values `[1, heads, capacity, head_dim]`.
/// Not `Clone`: the buffers are written in place, so a clone would alias them; use `fork`.
#[derive(Debug)]
pub struct LayerCache {
    kt: Option<Tensor>,
    v: Option<Tensor>,
    len: usize,
    capacity: usize,
}

impl LayerCache {
    fn new(capacity: usize) -> Self {
        LayerCache {
            kt: None,
            v: None,
            len: 0,
            capacity,
        }
    }

    /// Appends `k`, `v` of shape `[1, heads, n, head_dim]` at the end of the valid positions.
    pub fn append(&mut self, k: &Tensor, v: &Tensor) -> Result<()> {
        let n = k.dim(2)?;
        if self.len + n > self.capacity {
            candle_core::bail!(
                "decoder context full: {} cached + {n} new > {} positions",
                self.len,
                self.capacity
            );
        }
        if self.kt.is_none() {
            let (b, h, _, d) = k.dims4()?;
            self.kt = Some(Tensor::zeros(
                (b, h, d, self.capacity),
                k.dtype(),
                k.device(),
            )?);
            self.v = Some(Tensor::zeros(
                (b, h, self.capacity, d),
                v.dtype(),
                v.device(),
            )?);
        }
        let (kb, vb) = (self.kt.as_ref().unwrap(), self.v.as_ref().unwrap());
        kb.slice_set(&k.transpose(2, 3)?.contiguous()?, 3, self.len)?;
        vb.slice_set(&v.contiguous()?, 2, self.len)?;
        self.len += n;
        Ok(())
    }

    /// Positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Rolls this layer back to its first `n` positions (no-op when `n >= len`). A tree pass
    /// writes a path after the cached positions, attends, and rolls back.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole buffers (`[1, heads, head_dim, capacity]` keys, `[1, heads, capacity,
    /// head_dim]` values), valid up to [`len`](Self::len); `None` before the first append.
    pub fn buffers(&self) -> Option<(&Tensor, &Tensor)> {
        Some((self.kt.as_ref()?, self.v.as_ref()?))
    }

    /// The valid keys (transposed, `[1, heads, head_dim, len]`, a strided view) and values
    /// (`[1, heads, len, head_dim]`).
    pub fn valid(&self) -> Result<(Tensor, Tensor)> {
        match self.buffers() {
            Some((kt, v)) => Ok((kt.narrow(3, 0, self.len)?, v.narrow(2, 0, self.len)?)),
            None => candle_core::bail!("empty decoder cache"),
        }
    }

    /// Makes this layer hold `src`'s positions, copying only those from `from` on: the caller
    /// knows the first `from` positions already agree (the same tokens before them).
    fn overwrite_from(&mut self, src: &LayerCache, from: usize) -> Result<()> {
        if self.kt.is_none() || self.capacity != src.capacity {
            *self = src.fork()?;
            return Ok(());
        }
        let (Some(skt), Some(sv)) = (&src.kt, &src.v) else {
            self.len = 0;
            return Ok(());
        };
        let (kt, v) = (
            self.kt.as_ref().expect("set"),
            self.v.as_ref().expect("set"),
        );
        let from = from.min(self.len).min(src.len);
        let n = src.len - from;
        if n > 0 {
            kt.slice_set(&skt.narrow(3, from, n)?.contiguous()?, 3, from)?;
            v.slice_set(&sv.narrow(2, from, n)?.contiguous()?, 2, from)?;
        }
        self.len = src.len;
        Ok(())
    }

    /// Independent copy of the valid positions (the buffers are written in place, so a fork
    /// must not share them).
    fn fork(&self) -> Result<Self> {
        let copy = |t: &Option<Tensor>, dim: usize| -> Result<Option<Tensor>> {
            match t {
                None => Ok(None),
                Some(t) => {
                    let fresh = Tensor::zeros(t.shape(), t.dtype(), t.device())?;
                    if self.len > 0 {
                        fresh.slice_set(&t.narrow(dim, 0, self.len)?.contiguous()?, dim, 0)?;
                    }
                    Ok(Some(fresh))
                }
            }
        };
        Ok(LayerCache {
            kt: copy(&self.kt, 3)?,
            v: copy(&self.v, 2)?,
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

    /// Makes this cache hold what `src` holds, reusing its own buffers: positions before `from`
    /// are kept as they are, which is right when both caches were fed the same tokens there
    /// (a position's keys and values depend only on the tokens up to it). Beam search recycles
    /// a dropped beam's cache this way instead of forking: a few positions copied, not a
    /// whole fresh buffer allocated and filled.
    pub fn overwrite_from(&mut self, src: &KvCache, from: usize) -> Result<()> {
        if self.layers.len() != src.layers.len() {
            candle_core::bail!(
                "a {}-layer cache overwritten from a {}-layer one",
                self.layers.len(),
                src.layers.len()
            );
        }
        for (dst, src) in self.layers.iter_mut().zip(&src.layers) {
            dst.overwrite_from(src, from)?;
        }
        Ok(())
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
