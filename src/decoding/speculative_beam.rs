//! Exact speculative beam search: a draft's beam search runs a few steps ahead, the target
//! scores the whole token tree it explored in one pass, and the target's own beam search is
//! replayed on those logits for as many steps as the tree covers.
//!
//! Each round:
//! 1. **Draft.** From every live hypothesis the draft runs openai's beam search (its own
//!    logits, the target's filters, `beam_size` wide) for `gamma` steps. Every hypothesis it
//!    keeps is a node of the round's token tree: the live hypotheses' continuations, shared
//!    prefixes once.
//! 2. **Score.** One target pass over the tree ([`TextDecoder::forward_tree`]), each node on
//!    top of its live hypothesis's cache; a hypothesis whose last token the target has not fed
//!    yet (pending) is fed first, as the tree's top node. Every node's logits are bit for bit
//!    what a plain decode of its prefix gives.
//! 3. **Replay.** The target's beam search ([`BeamSearch`], the same state machine the
//!    target-only search runs) steps on those logits. A step whose kept hypotheses are all nodes
//!    of the tree is accepted, and the next step reads their logits. The first step that keeps
//!    a hypothesis outside the tree is still completed (its candidates came from scored
//!    parents), and the round ends there: every round advances at least one step.
//! 4. **Roll back.** Each kept hypothesis's cache is its live ancestor's cache (moved, or
//!    forked when several hypotheses share it) extended by the keys and values of its tree
//!    nodes ([`TreeKv::extend_cache`]); what is off the kept hypotheses is dropped. A kept
//!    hypothesis in the tree has its logits already; one outside it is pending until the next
//!    round's pass.
//!
//! The decisions are the target's from the target's logits, so the tokens and scores (sum and
//! average log-probability, and the no-speech probability of the shared prompt pass) equal
//! target-only beam search bit for bit, with every rule of openai's search: patience,
//! finished-hypothesis collection, timestamp rules, suppression, end-of-text anywhere in the
//! tree, the 448-position limit and `sample_len`. The draft length adapts per window to how
//! many steps the last round accepted.
//!
//! Draft state: each live hypothesis has a draft session. Sessions are not copied; when the
//! search keeps a hypothesis twice, the second copy takes over the session of a hypothesis
//! that was dropped (the one sharing the longest prefix), rolls it back to the shared prefix
//! and feeds the rest.
//!
//! [`TextDecoder::forward_tree`]: crate::model::TextDecoder::forward_tree
//! [`TreeKv::extend_cache`]: crate::model::TreeKv::extend_cache

use std::collections::HashMap;

use candle_core::{IndexOp, Result};

use super::beam::{
    Advance, BeamSearch, Hypothesis, common_prefix, extend_caches, ranked_candidates,
};
use super::draft_session::{DraftSession, PromptWindowedDraft};
use super::greedy::{WindowDecode, prompt_pass};
use super::speculative::{SpecConfig, SpecStats};
use super::task::WindowTask;
use crate::model::{KvCache, TreeNode};

/// Makes a fresh draft session for this window (empty cache).
pub type NewDraftSession<'a, 'd> = dyn FnMut() -> Result<Box<dyn DraftSession + 'd>> + 'a;

/// Where a live hypothesis's logits for its next token come from at the start of a round.
enum Anchor {
    /// Computed already (the prompt pass, or a tree node): its cache holds all its tokens.
    Known(Vec<f32>),
    /// Its last token is not fed yet: its cache holds the tokens before it.
    Pending(u32),
}

/// A draft session and the window tokens it has been fed.
struct DraftSlot<'d> {
    session: Box<dyn DraftSession + 'd>,
    held: Vec<u32>,
}

/// A node the draft's search kept: `token` after draft node `parent`, or after live
/// hypothesis `root` itself.
struct DraftNode {
    root: usize,
    parent: Option<usize>,
    token: u32,
}

/// A hypothesis during a round's replay: its live ancestor at the round's start, the tree node
/// whose logits are its own (`None`: the ancestor's known logits), and the tree nodes between
/// the ancestor's cache and it.
struct Place {
    root: usize,
    at: Option<usize>,
    path: Vec<usize>,
}

/// Speculative beam search of one window: the tokens and scores of
/// [`decode_beam`](super::beam::decode_beam) with `beam_size` and `patience`, bit for bit.
/// `new_session` makes the draft's sessions; `cfg` sets the draft length (`gamma`, adapting
/// between `min_gamma` and `max_gamma`) and how much of the previous-text prompt the draft
/// reads. The temperature in `cfg` is ignored (beam search is at temperature 0).
pub fn decode_speculative_beam<'d>(
    task: &WindowTask<'_>,
    beam_size: usize,
    patience: f64,
    new_session: &mut NewDraftSession<'_, 'd>,
    cfg: &SpecConfig,
) -> Result<(WindowDecode, SpecStats)> {
    let mut search = BeamSearch::new(task, beam_size, patience);
    let (cache, no_speech_prob, row) = prompt_pass(task)?;
    let mut stats = SpecStats {
        target_calls: 1,
        ..SpecStats::default()
    };
    let mut caches = vec![cache];
    let mut anchors = vec![Anchor::Known(row)];
    let mut slots = vec![DraftSlot {
        session: new_session()?,
        held: Vec::new(),
    }];
    let mut gamma = cfg.gamma.max(1);
    let max_positions = task.decoder.max_positions();
    loop {
        let len = search.live[0].tokens.len();
        let depth = gamma
            .min(max_positions.saturating_sub(len))
            .min(search.steps_left().saturating_sub(1));
        let draft = if depth > 0 {
            draft_tree(task, cfg, &search, &mut slots, depth, &mut stats)?
        } else {
            Vec::new()
        };
        stats.draft_tokens += draft.len();

        // The target's tree: pending tokens on top, then the draft's nodes.
        let mut nodes = Vec::new();
        let mut top = vec![None; anchors.len()];
        for (b, anchor) in anchors.iter().enumerate() {
            if let Anchor::Pending(token) = *anchor {
                top[b] = Some(nodes.len());
                nodes.push(TreeNode {
                    root: b,
                    parent: None,
                    token,
                });
            }
        }
        let first_draft = nodes.len();
        let mut children: HashMap<(usize, Option<usize>, u32), usize> = HashMap::new();
        for d in &draft {
            let parent = match d.parent {
                Some(p) => Some(first_draft + p),
                None => top[d.root],
            };
            children.insert((d.root, parent, d.token), nodes.len());
            nodes.push(TreeNode {
                root: d.root,
                parent,
                token: d.token,
            });
        }
        let scored = if nodes.is_empty() {
            None
        } else {
            let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
            stats.target_calls += 1;
            Some(task.decoder.forward_tree(&nodes, &mut refs, task.cross)?)
        };
        let row_of = |n: usize| -> Result<Vec<f32>> {
            let (logits, _) = scored.as_ref().expect("a node implies a pass");
            logits.i(n)?.to_vec1::<f32>()
        };

        // What each live cache holds, for recycling caches at the round's end.
        let held: Vec<Vec<u32>> = search
            .live
            .iter()
            .zip(&anchors)
            .map(|(hyp, anchor)| match anchor {
                Anchor::Known(_) => hyp.tokens.clone(),
                Anchor::Pending(_) => hyp.tokens[..hyp.tokens.len() - 1].to_vec(),
            })
            .collect();

        // Replay the target's search on the tree.
        let mut places: Vec<Place> = (0..anchors.len())
            .map(|b| Place {
                root: b,
                at: top[b],
                path: top[b].into_iter().collect(),
            })
            .collect();
        let mut rows: Vec<Vec<f32>> = places
            .iter()
            .zip(anchors.iter_mut())
            .map(|(p, anchor)| match (p.at, anchor) {
                (Some(n), _) => row_of(n),
                (None, Anchor::Known(row)) => Ok(std::mem::take(row)),
                (None, Anchor::Pending(_)) => unreachable!("a pending hypothesis has a top node"),
            })
            .collect::<Result<_>>()?;
        let mut accepted_steps = 0;
        let ended = loop {
            let Advance::Extend(sources) = search.step(&mut rows) else {
                break None;
            };
            // Each new hypothesis's place: its tree node (`at`), if the tree has it.
            let next: Vec<Place> = sources
                .iter()
                .zip(&search.live)
                .map(|(&s, hyp)| {
                    let token = *hyp.tokens.last().expect("extended");
                    let from = &places[s];
                    let at = children.get(&(from.root, from.at, token)).copied();
                    let mut path = from.path.clone();
                    path.extend(at);
                    Place {
                        root: from.root,
                        at,
                        path,
                    }
                })
                .collect();
            let in_tree = next.iter().filter(|p| p.at.is_some()).count();
            stats.accepted_tokens += in_tree;
            if in_tree < next.len() {
                break Some(next);
            }
            accepted_steps += 1;
            places = next;
            rows = places
                .iter()
                .map(|p| row_of(p.at.expect("in the tree")))
                .collect::<Result<_>>()?;
        };
        let ended = match ended {
            Some(next) => next,
            // Done: rank what the search collected.
            None => return Ok((search.finish(no_speech_prob, stats.target_calls), stats)),
        };

        // Roll back: the kept hypotheses' caches, logits and draft sessions.
        let roots: Vec<usize> = ended.iter().map(|p| p.root).collect();
        let held: Vec<&[u32]> = held.iter().map(Vec::as_slice).collect();
        caches = extend_caches(caches, &held, &roots)?;
        if let Some((_, kv)) = &scored {
            for (cache, place) in caches.iter_mut().zip(&ended) {
                kv.extend_cache(cache, &place.path)?;
            }
        }
        anchors = ended
            .iter()
            .zip(&search.live)
            .map(|(place, hyp)| match place.at {
                Some(n) => row_of(n).map(Anchor::Known),
                None => Ok(Anchor::Pending(*hyp.tokens.last().expect("extended"))),
            })
            .collect::<Result<_>>()?;
        slots = reassign_slots(slots, &search.live, new_session)?;
        if cfg.adaptive {
            gamma = (accepted_steps + 1).clamp(cfg.min_gamma.max(1), cfg.max_gamma.max(1));
        }
    }
}

/// The draft's beam search from every live hypothesis, `depth` steps: the nodes it kept, each
/// after its parent (parents first).
fn draft_tree(
    task: &WindowTask<'_>,
    cfg: &SpecConfig,
    search: &BeamSearch<'_>,
    slots: &mut [DraftSlot<'_>],
    depth: usize,
    stats: &mut SpecStats,
) -> Result<Vec<DraftNode>> {
    let width = search.beam_size();
    let mut nodes: Vec<DraftNode> = Vec::new();
    // (root, draft node, score, logits after it)
    let mut frontier: Vec<(usize, Option<usize>, f64, Vec<f32>)> = Vec::new();
    for (b, (hyp, slot)) in search.live.iter().zip(slots.iter_mut()).enumerate() {
        let mut row = Vec::new();
        slot.logits_after(task, cfg, &hyp.tokens, &mut row)?;
        stats.draft_calls += 1;
        frontier.push((b, None, hyp.sum_logprob, row));
    }
    let mut logprobs = Vec::new();
    for level in 1..=depth {
        let prefixes: Vec<Vec<u32>> = frontier
            .iter()
            .map(|&(root, at, ..)| tokens_of(&search.live[root], &nodes, at))
            .collect();
        let candidates = ranked_candidates(
            task.filters,
            prefixes
                .iter()
                .zip(frontier.iter_mut())
                .map(|(tokens, (_, _, score, row))| (tokens.as_slice(), *score, row)),
            width + 1,
            &mut logprobs,
        );
        let kept: Vec<(f64, usize, u32)> = candidates
            .into_iter()
            .filter(|&(_, _, token)| token != task.specials.eot)
            .take(width)
            .collect();
        let mut next = Vec::with_capacity(kept.len());
        for &(score, f, token) in &kept {
            let (root, at, ..) = frontier[f];
            nodes.push(DraftNode {
                root,
                parent: at,
                token,
            });
            next.push((root, Some(nodes.len() - 1), score, Vec::new()));
        }
        if level < depth {
            // Feed in (root, parent) order, so siblings reuse their shared prefix.
            let mut order: Vec<usize> = (0..next.len()).collect();
            order.sort_by_key(|&i| (next[i].0, nodes[next[i].1.expect("a node")].parent));
            for i in order {
                let (root, at, _, row) = &mut next[i];
                let tokens = tokens_of(&search.live[*root], &nodes, *at);
                slots[*root].logits_after(task, cfg, &tokens, row)?;
                stats.draft_calls += 1;
            }
        }
        frontier = next;
    }
    Ok(nodes)
}

/// The tokens of `hyp` followed by those of draft node `at`'s path.
fn tokens_of(hyp: &Hypothesis, nodes: &[DraftNode], at: Option<usize>) -> Vec<u32> {
    let mut tail = Vec::new();
    let mut n = at;
    while let Some(i) = n {
        tail.push(nodes[i].token);
        n = nodes[i].parent;
    }
    let mut tokens = hyp.tokens.clone();
    tokens.extend(tail.into_iter().rev());
    tokens
}

impl DraftSlot<'_> {
    /// The draft's logits after `tokens`, feeding only what the session does not hold yet.
    fn logits_after(
        &mut self,
        task: &WindowTask<'_>,
        cfg: &SpecConfig,
        tokens: &[u32],
        row: &mut Vec<f32>,
    ) -> Result<()> {
        let mut view =
            PromptWindowedDraft::new(self.session.as_mut(), task, cfg.draft_prompt_tokens);
        if !self.held.is_empty() {
            let keep = common_prefix(&self.held, tokens).min(tokens.len() - 1);
            view.roll_back(keep);
        }
        view.catch_up(tokens, row)?;
        self.held.clear();
        self.held.extend_from_slice(tokens);
        Ok(())
    }
}

/// Draft sessions for the new live hypotheses: each takes the free session holding the longest
/// prefix of its tokens; when none is free, a fresh one.
fn reassign_slots<'d>(
    old: Vec<DraftSlot<'d>>,
    live: &[Hypothesis],
    new_session: &mut NewDraftSession<'_, 'd>,
) -> Result<Vec<DraftSlot<'d>>> {
    let mut free: Vec<Option<DraftSlot<'d>>> = old.into_iter().map(Some).collect();
    live.iter()
        .map(|hyp| {
            let best = free
                .iter()
                .enumerate()
                .filter_map(|(i, s)| Some((i, common_prefix(&s.as_ref()?.held, &hyp.tokens))))
                .max_by_key(|&(i, shared)| (shared, std::cmp::Reverse(i)));
            match best {
                Some((i, _)) => Ok(free[i].take().expect("free")),
                None => Ok(DraftSlot {
                    session: new_session()?,
                    held: Vec::new(),
                }),
            }
        })
        .collect()
}
