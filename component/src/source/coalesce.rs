//! Merging nearby byte ranges into fewer requests, and slicing the answers
//! back into the ranges that were asked for.

use bytes::Bytes;
use std::ops::Range;

/// Requests planned for a set of wanted ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoalescedRanges {
    /// Ranges to request: sorted, disjoint, separated by more than the gap.
    pub requests: Vec<Range<u64>>,
    /// For each wanted range, the requests that cover it (one, unless a
    /// large request was split into pieces).
    covering: Vec<Range<usize>>,
}

/// Merges `wanted` ranges whose gap is at most `max_gap` bytes.
///
/// ```text
/// wanted:    [--)  [-)          [---)
///                [----)
/// max_gap:       |<->|   (gaps up to this long are read through)
/// requests:  [--------)         [---)
/// ```
/// Overlapping and duplicate wanted ranges are allowed; empty ones are covered
/// by the request nearest to them (or by an empty request).
pub fn coalesce(wanted: &[Range<u64>], max_gap: u64) -> CoalescedRanges {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&index| (wanted[index].start, wanted[index].end));
    let mut requests: Vec<Range<u64>> = Vec::new();
    let mut covering = vec![0..0; wanted.len()];
    for index in order {
        let range = &wanted[index];
        match requests.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(max_gap) => {
                last.end = last.end.max(range.end);
            }
            _ => requests.push(range.clone()),
        }
        covering[index] = requests.len() - 1..requests.len();
    }
    CoalescedRanges { requests, covering }
}

/// Splits requests longer than `piece_bytes` into pieces while the wave has
/// free slots (of `max_concurrency`), so one big column chunk downloads over
/// several connections at once. Pieces are cut where a `wanted` range starts
/// when one is near: a wanted range inside one piece is then a view of it,
/// and a piece is never both viewed and copied (which would hold its bytes
/// twice).
pub fn split_large(
    plan: CoalescedRanges,
    wanted: &[Range<u64>],
    max_concurrency: usize,
    piece_bytes: u64,
) -> CoalescedRanges {
    let mut spare = max_concurrency.saturating_sub(plan.requests.len());
    if spare == 0 || piece_bytes == 0 {
        return plan;
    }
    let mut starts: Vec<u64> = wanted.iter().map(|range| range.start).collect();
    starts.sort_unstable();
    starts.dedup();
    let mut requests = Vec::new();
    // For each old request, the new requests that replace it.
    let mut replaced: Vec<Range<usize>> = Vec::with_capacity(plan.requests.len());
    for request in &plan.requests {
        let length = request.end - request.start;
        let wanted_pieces = length.div_ceil(piece_bytes).max(1) as usize;
        let pieces = wanted_pieces.min(spare + 1);
        spare -= pieces - 1;
        let first = requests.len();
        let step = length.div_ceil(pieces as u64);
        let mut start = request.start;
        for piece in 1..pieces as u64 {
            let ideal = request.start + piece * step;
            let end = cut_near(&starts, start..request.end, ideal, step);
            if end > start {
                requests.push(start..end);
                start = end;
            }
        }
        requests.push(start..request.end);
        replaced.push(first..requests.len());
    }
    let covering = plan
        .covering
        .iter()
        .map(|old| replaced[old.start].start..replaced[old.end - 1].end)
        .collect();
    CoalescedRanges { requests, covering }
}

/// Where to end a piece within `bounds` (it starts at `bounds.start`) that
/// would ideally end at `ideal`: the start of a wanted range within half a
/// `step` of it, else `ideal`; always inside `bounds`.
fn cut_near(starts: &[u64], bounds: Range<u64>, ideal: u64, step: u64) -> u64 {
    let reach = step / 2;
    let low = bounds.start.max(ideal.saturating_sub(reach));
    let high = ideal.saturating_add(reach).min(bounds.end - 1);
    let from = starts.partition_point(|&s| s <= low);
    starts[from..]
        .iter()
        .take_while(|&&s| s <= high)
        .min_by_key(|&&s| s.abs_diff(ideal))
        .copied()
        .unwrap_or(ideal)
        .clamp(bounds.start, bounds.end)
}

/// Plans the requests of one wave: merges gaps of at most `max_gap` bytes,
/// then, while there are more requests than `max_concurrency` (the extra ones
/// would wait for a free slot, a round trip each per slot), also the
/// smallest gaps that cost less to read than that wait: `wait_cost_bytes`,
/// the bytes the network carries in a round trip divided by the slots.
pub fn plan_wave(
    wanted: &[Range<u64>],
    max_gap: u64,
    max_concurrency: usize,
    wait_cost_bytes: u64,
) -> CoalescedRanges {
    let plan = coalesce(wanted, max_gap);
    let excess = plan.requests.len().saturating_sub(max_concurrency.max(1));
    if excess == 0 {
        return plan;
    }
    let mut gaps: Vec<u64> = plan
        .requests
        .windows(2)
        .map(|pair| pair[1].start - pair[0].end)
        .collect();
    gaps.sort_unstable();
    let wider_gap = gaps[excess - 1].min(wait_cost_bytes);
    if wider_gap <= max_gap {
        return plan;
    }
    coalesce(wanted, wider_gap)
}

impl CoalescedRanges {
    /// Cuts the bodies of `requests` (in the same order) into the wanted
    /// ranges. A range that spans pieces of a split request is copied into
    /// one buffer; every other is a view of its body.
    pub fn slice(&self, wanted: &[Range<u64>], bodies: &[Bytes]) -> Vec<Bytes> {
        wanted
            .iter()
            .zip(&self.covering)
            .map(|(range, pieces)| {
                let parts: Vec<Bytes> = pieces
                    .clone()
                    .filter_map(|index| {
                        let request = &self.requests[index];
                        let start = range.start.max(request.start);
                        let end = range.end.min(request.end);
                        (start < end || pieces.len() == 1).then(|| {
                            let from = (start.min(end) - request.start) as usize;
                            let to = (end.max(start) - request.start) as usize;
                            bodies[index].slice(from..to)
                        })
                    })
                    .collect();
                match parts.len() {
                    0 => Bytes::new(),
                    1 => parts.into_iter().next().unwrap_or_default(),
                    _ => Bytes::from(parts.concat()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wave_merges_more_only_when_requests_would_wait() {
        let wanted = [0..10, 20..30, 100..110, 1000..1010];
        // Enough slots: only gaps up to `max_gap` are read through.
        assert_eq!(
            plan_wave(&wanted, 10, 4, 500).requests,
            [0..30, 100..110, 1000..1010]
        );
        // Two slots: the smallest gap that is cheaper than waiting goes too.
        assert_eq!(
            plan_wave(&wanted, 10, 2, 500).requests,
            [0..110, 1000..1010]
        );
        // A gap dearer than waiting is never read.
        assert_eq!(
            plan_wave(&wanted, 10, 1, 500).requests,
            [0..110, 1000..1010]
        );
    }

    /// A tiny deterministic generator so the randomized test needs no crate.
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn pieces_are_cut_without_overflow_at_the_end_of_the_offsets() {
        // Found by fuzzing: the last cut's search window ran past u64::MAX.
        let wanted = std::slice::from_ref(&(u64::MAX - 10..u64::MAX));
        let plan = split_large(coalesce(wanted, 0), wanted, 6, 1);
        assert_eq!(plan.requests.first().map(|r| r.start), Some(u64::MAX - 10));
        assert_eq!(plan.requests.last().map(|r| r.end), Some(u64::MAX));
    }

    #[test]
    fn large_requests_split_into_pieces_while_slots_are_free() {
        let file = Bytes::from((0..1000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let wanted = [0..700, 650..900, 950..1000];
        let plan = split_large(coalesce(&wanted, 0), &wanted, 4, 300);
        assert_eq!(plan.requests, [0..300, 300..650, 650..900, 950..1000]);
        assert_slices_are_direct_reads(&file, &plan, &wanted);
        // No free slot: nothing is split.
        assert_eq!(
            split_large(coalesce(&wanted, 0), &wanted, 2, 300).requests,
            [0..900, 950..1000]
        );
        // Column chunks of 100 bytes read in pieces of about 250: each piece
        // ends where a chunk starts, so every chunk is a view of one piece.
        let chunks: Vec<Range<u64>> = (0..10).map(|i| i * 100..i * 100 + 100).collect();
        let plan = split_large(coalesce(&chunks, 0), &chunks, 4, 250);
        assert_eq!(plan.requests, [0..200, 200..500, 500..700, 700..1000]);
        assert_slices_are_direct_reads(&file, &plan, &chunks);
    }

    #[test]
    fn merges_within_gap_and_keeps_far_ranges_apart() {
        let wanted = [0..10, 12..20, 100..110, 5..8];
        let plan = coalesce(&wanted, 2);
        assert_eq!(plan.requests, vec![0..20, 100..110]);
    }

    #[test]
    fn randomized_slices_equal_direct_reads() {
        let file: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let file = Bytes::from(file);
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..500 {
            let count = (next(&mut seed) % 12) as usize;
            let wanted: Vec<Range<u64>> = (0..count)
                .map(|_| {
                    let start = next(&mut seed) % 9_000;
                    start..start + next(&mut seed) % 1_000
                })
                .collect();
            let gap = next(&mut seed) % 600;
            let plan = coalesce(&wanted, gap);
            for pair in plan.requests.windows(2) {
                assert!(
                    pair[0].end + gap < pair[1].start,
                    "requests must stay apart"
                );
            }
            assert_slices_are_direct_reads(&file, &plan, &wanted);
        }
    }

    /// Serves `plan`'s requests from `file` and checks that slicing gives
    /// exactly the `wanted` ranges.
    fn assert_slices_are_direct_reads(file: &Bytes, plan: &CoalescedRanges, wanted: &[Range<u64>]) {
        let bodies: Vec<Bytes> = plan
            .requests
            .iter()
            .map(|r| file.slice(r.start as usize..r.end as usize))
            .collect();
        for (range, bytes) in wanted.iter().zip(plan.slice(wanted, &bodies)) {
            assert_eq!(bytes, file.slice(range.start as usize..range.end as usize));
        }
    }
}
