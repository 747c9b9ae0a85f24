//! Explaining a scan without reading data: what the plan keeps and prunes,
//! and the requests each phase would send.

use super::SharedFile;
use super::estimate::SecondPhaseOdds;
use super::plan::{GroupPlan, PrunedBy};
use super::request::{ScanRequest, prepare};
use super::stream::Phases;
use crate::error::Result;
use crate::source::{FetchStats, plan_wave};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use std::ops::Range;

/// What the plan decided for one row group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Read (all or some of its rows).
    Read,
    /// Not read: no row can match.
    Pruned(PrunedBy),
    /// Not read: before the offset or after the limit of a scan without a
    /// filter.
    Skipped,
}

/// One row group in an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupExplanation {
    /// Rows in the row group.
    pub rows: u64,
    /// Read, pruned or skipped.
    pub verdict: Verdict,
    /// Rows left to read once pages are pruned.
    pub rows_selected: u64,
    /// Data pages of the read columns that the page index pruned.
    pub pages_pruned: u64,
}

/// A scan's plan, made without reading any data page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// One entry per row group of the file.
    pub groups: Vec<GroupExplanation>,
    /// Whether the filter's columns are read first and the others only where
    /// rows matched (two phases).
    pub late_materialization: bool,
    /// The requests of the first phase (filter columns, or every column in a
    /// one-phase scan), after coalescing; reads inside the tail fetched at
    /// open are left out: they cost nothing.
    pub first_phase: Vec<Range<u64>>,
    /// The requests of the second phase if every row of the first matched:
    /// an upper bound, since only pages holding matches are read.
    pub second_phase: Vec<Range<u64>>,
    /// What loading the page index cost while planning.
    pub index: FetchStats,
    /// Size of the file.
    pub file_size: u64,
    /// The bytes the scan is expected to fetch: the index reads, the first
    /// phase, and the second phase's reads, each weighed by the probability
    /// that it holds a match (see [`super::estimate`]).
    pub estimated_bytes: u64,
}

/// Plans `request` on the file behind `source` and describes the plan. Reads
/// the page index entries the plan needs (usually from the tail), nothing
/// else.
pub fn explain(
    source: &SharedFile,
    metadata: &ArrowReaderMetadata,
    request: &ScanRequest,
) -> Result<Explanation> {
    let prepared = prepare(source, metadata, request)?;
    let factory = &prepared.factory;
    let parquet_metadata = metadata.metadata();
    let row_count = |group: usize| parquet_metadata.row_group(group).num_rows().max(0) as u64;
    let position = |group: usize| prepared.groups.binary_search(&group).unwrap_or_default();
    let mut groups: Vec<GroupExplanation> = prepared
        .groups
        .iter()
        .map(|&group| GroupExplanation {
            rows: row_count(group),
            verdict: Verdict::Skipped,
            rows_selected: 0,
            pages_pruned: prepared.plan.pages_pruned.get(group).copied().unwrap_or(0),
        })
        .collect();
    for &(group, by) in &prepared.plan.pruned {
        groups[position(group)].verdict = Verdict::Pruned(by);
    }
    let phases = factory.initial_phases();
    let filter_leaves = &factory.filter_leaves;
    let odds = match (&factory.predicate, phases) {
        (Some(predicate), Phases::Late) => Some(SecondPhaseOdds::new(
            factory.metadata.metadata(),
            metadata.schema(),
            predicate,
            &prepared.plan,
        )?),
        _ => None,
    };
    let remote = source.borrow();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    // Second-phase bytes, each weighed by the probability it is read.
    let mut expected_second = 0.0;
    for GroupPlan { group, selection } in &prepared.plan.groups {
        let entry = &mut groups[position(*group)];
        entry.verdict = Verdict::Read;
        entry.rows_selected = selection
            .as_ref()
            .map_or(entry.rows, |s| s.row_count() as u64);
        let plan = GroupPlan {
            group: *group,
            selection: selection.clone(),
        };
        let decoder = factory.build(
            &plan,
            phases,
            (factory.batch_size, None),
            (&Default::default(), &Default::default()),
        )?;
        for planned in decoder.scan_plan() {
            let deferred = phases == Phases::Late && !filter_leaves.contains(&planned.column);
            match &odds {
                Some(odds) if deferred => {
                    if !remote.is_cached(&planned.range) {
                        expected_second += planned.len() as f64 * odds.read(&planned);
                    }
                    second.push(planned.range);
                }
                _ => first.push(planned.range),
            }
        }
    }
    // Given that the scan finds a row at all (see `estimate`).
    let expected_second = match odds.map(|odds| odds.scan_matches()) {
        Some(matches) if matches > 0.0 => (expected_second / matches).round() as u64,
        _ => 0,
    };
    let options = remote.options();
    let requests = |ranges: Vec<Range<u64>>| {
        let missing: Vec<Range<u64>> = ranges
            .into_iter()
            .filter(|range| !remote.is_cached(range))
            .collect();
        plan_wave(
            &missing,
            options.coalesce_gap,
            options.max_concurrency,
            options.wait_cost_bytes(),
        )
        .requests
    };
    let (first_phase, second_phase) = (requests(first), requests(second));
    let span = |ranges: &[Range<u64>]| ranges.iter().map(|r| r.end - r.start).sum::<u64>();
    Ok(Explanation {
        groups,
        late_materialization: phases == Phases::Late,
        estimated_bytes: prepared.stats.index.bytes_fetched
            + span(&first_phase)
            + expected_second.min(span(&second_phase)),
        first_phase,
        second_phase,
        index: prepared.stats.index,
        file_size: remote.size(),
    })
}
