//! A token tree scored in one decoder pass: the continuations a speculative beam search
//! proposes for every live hypothesis, each hypothesis's continuations hanging from its own
//! self-attention cache.
//!
//! Each node is one token after its parent (another node) or, at the top, after everything its
//! root's cache holds. Scoring node `n` must give bit for bit the logits a plain decode of its
//! prefix gives. So the pass computes every projection, norm and MLP row by row, as every pass
//! does, and lays out self-attention as a plain decode sees it: for each root-to-leaf path, the
//! path's keys and values are written after the root's cached positions (the buffer past the
//! cache's length is free space) and the path's rows attend causally over that contiguous
//! sequence, in the same order and with the same kernel as one-token steps. A node shared by
//! several paths is computed on the first path that reaches it.
//!
//! The keys and values of every node come back as a [`TreeKv`], so the hypotheses a search
//! keeps can have their caches extended by their accepted nodes without another pass.

use candle_core::{Result, Tensor};

use super::kv_cache::KvCache;

/// One node: `token` after `parent` (an earlier node of the same tree with the same root), or
/// after everything the cache of root `root` holds when `parent` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeNode {
    /// Which root cache the node's prefix starts from.
    pub root: usize,
    /// The node it follows; `None` at the top of its root's subtree.
    pub parent: Option<usize>,
    /// The node's token.
    pub token: u32,
}

/// One run of the attention kernel: the nodes of a root-to-leaf path laid out after the
/// root's cache, of which `path[first_new..]` are computed here (the rest were, on an earlier
/// path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathRun {
    pub(crate) root: usize,
    pub(crate) path: Vec<usize>,
    pub(crate) first_new: usize,
}

/// The layout of a tree's pass: each node's position and the path runs that cover every node
/// once.
#[derive(Debug, Clone)]
pub(crate) struct TreeLayout {
    /// Position (cache length of its root + depth) of each node.
    pub(crate) positions: Vec<usize>,
    pub(crate) runs: Vec<PathRun>,
}

impl TreeLayout {
    /// Checks `nodes` against the roots' cache lengths and the decoder's `max_positions`, and
    /// plans the runs.
    pub(crate) fn new(
        nodes: &[TreeNode],
        root_lens: &[usize],
        max_positions: usize,
    ) -> Result<Self> {
        if nodes.is_empty() {
            candle_core::bail!("a tree pass with no nodes");
        }
        let mut positions = Vec::with_capacity(nodes.len());
        let mut has_child = vec![false; nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            let Some(&root_len) = root_lens.get(node.root) else {
                candle_core::bail!(
                    "tree node {i} hangs from root {} of {}",
                    node.root,
                    root_lens.len()
                );
            };
            let position = match node.parent {
                None => root_len,
                Some(p) if p < i && nodes[p].root == node.root => {
                    has_child[p] = true;
                    positions[p] + 1
                }
                Some(p) => candle_core::bail!(
                    "tree node {i}: parent {p} is not an earlier node of root {}",
                    node.root
                ),
            };
            if position >= max_positions {
                candle_core::bail!(
                    "tree node {i} at position {position} exceeds the decoder's {max_positions} positions"
                );
            }
            positions.push(position);
        }
        let mut covered = vec![false; nodes.len()];
        let mut runs = Vec::new();
        for leaf in (0..nodes.len()).filter(|&i| !has_child[i]) {
            let mut path = vec![leaf];
            while let Some(p) = nodes[*path.last().expect("non-empty")].parent {
                path.push(p);
            }
            path.reverse();
            // Covered nodes are closed under ancestors, so the new ones are a suffix.
            let first_new = path.iter().take_while(|&&n| covered[n]).count();
            for &n in &path[first_new..] {
                covered[n] = true;
            }
            runs.push(PathRun {
                root: nodes[leaf].root,
                path,
                first_new,
            });
        }
        Ok(TreeLayout { positions, runs })
    }
}

/// Keys and values of every node of a tree pass, per decoder layer (`[1, heads, nodes,
/// head_dim]` each).
#[derive(Debug, Clone)]
pub struct TreeKv {
    pub(crate) layers: Vec<(Tensor, Tensor)>,
}

impl TreeKv {
    /// Appends the keys and values of `path` (nodes, root to tip, the first one at the top of
    /// the subtree whose root `cache` is) to `cache`: the cache then holds what a plain decode
    /// of the path's tokens would have left.
    pub fn extend_cache(&self, cache: &mut KvCache, path: &[usize]) -> Result<()> {
        if path.is_empty() {
            return Ok(());
        }
        if cache.layers() != self.layers.len() {
            candle_core::bail!(
                "a {}-layer cache extended from a {}-layer tree pass",
                cache.layers(),
                self.layers.len()
            );
        }
        let device = self.layers[0].0.device();
        let ids: Vec<u32> = path.iter().map(|&n| n as u32).collect();
        let ids = Tensor::new(ids.as_slice(), device)?;
        for (i, (k, v)) in self.layers.iter().enumerate() {
            cache
                .layer_mut(i)
                .append(&k.index_select(&ids, 2)?, &v.index_select(&ids, 2)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(root: usize, parent: Option<usize>, token: u32) -> TreeNode {
        TreeNode {
            root,
            parent,
            token,
        }
    }

    #[test]
    fn runs_cover_each_node_once_and_positions_follow_depth() {
        // Root 0: a -> (b -> d, c); root 1: e, f (two tops).
        let nodes = [
            node(0, None, 1),
            node(0, Some(0), 2),
            node(0, Some(0), 3),
            node(0, Some(1), 4),
            node(1, None, 5),
            node(1, None, 6),
        ];
        let layout = TreeLayout::new(&nodes, &[10, 7], 448).unwrap();
        assert_eq!(layout.positions, vec![10, 11, 11, 12, 7, 7]);
        let runs: Vec<(usize, Vec<usize>, usize)> = layout
            .runs
            .iter()
            .map(|r| (r.root, r.path.clone(), r.first_new))
            .collect();
        assert_eq!(
            runs,
            vec![
                (0, vec![0, 2], 0),
                (0, vec![0, 1, 3], 1),
                (1, vec![4], 0),
                (1, vec![5], 0)
            ]
        );
    }

    #[test]
    fn bad_trees_are_refused() {
        assert!(TreeLayout::new(&[], &[3], 448).is_err());
        assert!(TreeLayout::new(&[node(2, None, 1)], &[3], 448).is_err());
        assert!(TreeLayout::new(&[node(0, Some(0), 1)], &[3], 448).is_err());
        let other_root = [node(0, None, 1), node(1, Some(0), 2)];
        assert!(TreeLayout::new(&other_root, &[3, 3], 448).is_err());
        assert!(TreeLayout::new(&[node(0, None, 1), node(0, Some(0), 2)], &[447], 448).is_err());
        assert!(TreeLayout::new(&[node(0, None, 1)], &[447], 448).is_ok());
    }
}
