//! What the second phase of a scan (late materialization) is expected to
//! read, for explain: a page of an output column is read only where one of
//! its rows matched the filter.
//!
//! Each selected row of a planned row group matches with the probability
//! that the filter's selectivity (see [`BoundPredicate::selectivity`])
//! gives, estimated per run of rows that page statistics bound (per row
//! group where there are none), independently of the other rows. A data
//! page holding `n` selected rows of selectivity `s` is then read with
//! probability `1 - (1-s)^n`; a whole column chunk (no offset index) or a
//! dictionary page with the probability that any selected row of its row
//! group matches. The expected bytes are the sum of size × probability.
//!
//! Two facts condition the probabilities: a row group whose bloom filters
//! or dictionaries report the value looked for holds a match (see
//! [`ScanPlan::held`]), and the scan finds some row (a scan is asked for
//! rows expected to exist: without that, a lookup that the statistics
//! narrow to one page would count that page as likely missed).

use super::bounds::Bounds;
use super::plan::{GroupPlan, ScanPlan, leaf_of, run_starts};
use crate::error::Result;
use crate::filter::BoundPredicate;
use arrow_schema::Schema;
use parquet::arrow::push_decoder::{PageKind, PlannedRange};
use parquet::file::metadata::ParquetMetaData;
use std::collections::HashMap;
use std::ops::Range;

/// How likely the planned reads of a scan's second phase are.
#[derive(Debug)]
pub struct SecondPhaseOdds<'a> {
    metadata: &'a ParquetMetaData,
    groups: HashMap<usize, GroupOdds>,
}

/// How likely the rows of one planned row group are to match.
#[derive(Debug)]
struct GroupOdds {
    /// The selected rows in runs (sorted, disjoint), each with `ln(1 - s)`
    /// for the selectivity `s` of its rows.
    runs: Vec<(Range<u64>, f64)>,
    /// The probability of the fact the odds are conditioned on: that some
    /// row matches, for a row group known to hold a match; else 1.
    given: f64,
}

impl GroupOdds {
    /// The probability that a selected row among `rows` matches.
    fn any_match(&self, rows: &Range<u64>) -> f64 {
        let log_none: f64 = (self.runs.iter())
            .map(|(run, log_miss)| {
                let shared = overlap(run, rows);
                // (0 × -inf is NaN: a run of certain matches outside `rows`)
                if shared.is_empty() {
                    0.0
                } else {
                    (shared.end - shared.start) as f64 * log_miss
                }
            })
            .sum();
        ((1.0 - log_none.exp()) / self.given).min(1.0)
    }
}

impl<'a> SecondPhaseOdds<'a> {
    /// The odds of the row groups that `plan`, a plan of a scan with
    /// `predicate`, reads. `metadata` holds the page index the plan loaded,
    /// if any.
    pub fn new(
        metadata: &'a ParquetMetaData,
        schema: &Schema,
        predicate: &BoundPredicate,
        plan: &ScanPlan,
    ) -> Result<Self> {
        let names = predicate.columns();
        let numbers: Vec<usize> = plan.groups.iter().map(|planned| planned.group).collect();
        let group_bounds = Bounds::of_row_groups(metadata, schema, names, &numbers)?;
        let per_group = predicate.selectivity(&group_bounds)?;
        let leaves: Vec<usize> = names
            .iter()
            .filter_map(|name| leaf_of(metadata, schema, name))
            .collect();
        let page_index = metadata.page_index().map(|index| index.as_ref());
        let mut groups = HashMap::new();
        for (position, planned) in plan.groups.iter().enumerate() {
            let rows = metadata.row_group(planned.group).num_rows().max(0) as u64;
            let starts =
                page_index.and_then(|index| run_starts(index, planned.group, &leaves, rows));
            let bounded: Vec<(Range<u64>, f64)> = match (page_index, starts) {
                (Some(index), Some(starts)) => {
                    let bounds = Bounds::of_runs(
                        metadata,
                        index,
                        schema,
                        names,
                        planned.group,
                        &starts,
                        &group_bounds,
                        position,
                    )?;
                    let ends = starts.iter().skip(1).copied().chain([rows]);
                    (starts.iter().zip(ends).map(|(&start, end)| start..end))
                        .zip(predicate.selectivity(&bounds)?)
                        .collect()
                }
                _ => vec![(0..rows, per_group[position])],
            };
            let selected = selected_rows(planned, rows);
            let runs = bounded
                .into_iter()
                .flat_map(|(run, s)| {
                    selected
                        .iter()
                        .map(move |range| (overlap(&run, range), (1.0 - s).ln()))
                })
                .filter(|(range, _)| !range.is_empty())
                .collect();
            let mut odds = GroupOdds { runs, given: 1.0 };
            if plan.held.contains(&planned.group) {
                odds.given = odds.any_match(&(0..rows)).max(f64::MIN_POSITIVE);
            }
            groups.insert(planned.group, odds);
        }
        Ok(Self { metadata, groups })
    }

    /// The probability that a row among `rows` of row group `group` that
    /// the plan selects matches.
    fn any_match(&self, group: usize, rows: &Range<u64>) -> f64 {
        self.groups
            .get(&group)
            .map_or(0.0, |odds| odds.any_match(rows))
    }

    /// The probability that the scan finds any row.
    pub fn scan_matches(&self) -> f64 {
        let log_none: f64 = (self.groups.values())
            .map(|odds| (1.0 - odds.any_match(&(0..u64::MAX))).ln())
            .sum();
        1.0 - log_none.exp()
    }

    /// The probability that the second phase reads `planned`, one of its
    /// planned ranges.
    pub fn read(&self, planned: &PlannedRange) -> f64 {
        let group = planned.row_group;
        let rows = match planned.kind {
            PageKind::Data => self.page_rows(group, planned.column, planned.range.start),
            _ => None,
        };
        self.any_match(group, &rows.unwrap_or(0..u64::MAX))
    }

    /// The rows of the data page at `offset` of a column chunk, from its
    /// offset index.
    fn page_rows(&self, group: usize, column: usize, offset: u64) -> Option<Range<u64>> {
        let index = self.metadata.page_index()?.offset_index(group, column)?;
        let pages = index.page_locations();
        let at = pages.iter().position(|page| page.offset as u64 == offset)?;
        let start = pages[at].first_row_index.max(0) as u64;
        let end = pages
            .get(at + 1)
            .map_or(u64::MAX, |next| next.first_row_index.max(0) as u64);
        Some(start..end)
    }
}

/// The rows of a row group the plan selects, as sorted ranges.
fn selected_rows(plan: &GroupPlan, rows: u64) -> Vec<Range<u64>> {
    let Some(selection) = &plan.selection else {
        return std::iter::once(0..rows).collect();
    };
    let mut ranges = Vec::new();
    let mut at = 0;
    for selector in selection.iter() {
        let end = at + selector.row_count as u64;
        if !selector.skip {
            ranges.push(at..end);
        }
        at = end;
    }
    ranges
}

fn overlap(a: &Range<u64>, b: &Range<u64>) -> Range<u64> {
    let start = a.start.max(b.start);
    start..a.end.min(b.end).max(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{bind, parse_where};
    use arrow_array::{Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
    use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    use std::sync::Arc;

    /// A file of one row group of 1000 rows in pages of 100: `k` = `v` =
    /// the row number.
    fn file() -> (ParquetMetaData, Schema) {
        let schema = Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]);
        let k = Arc::new(Int64Array::from_iter_values(0..1000));
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![k.clone(), k]).unwrap();
        let properties = WriterProperties::builder()
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_dictionary_enabled(false)
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(100)
            .build();
        let mut buffer = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut buffer, batch.schema(), Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let metadata = ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Required)
            .parse_and_finish(&Bytes::from(buffer))
            .unwrap();
        (metadata, schema)
    }

    /// The odds of a plan of the file's row group, `held` or not.
    fn odds_held<'a>(
        (metadata, schema): &'a (ParquetMetaData, Schema),
        clause: &str,
        selection: Option<RowSelection>,
        held: bool,
    ) -> SecondPhaseOdds<'a> {
        let predicate = bind(&parse_where(clause).unwrap(), schema).unwrap();
        let plan = ScanPlan {
            groups: vec![GroupPlan {
                group: 0,
                selection,
            }],
            held: if held { vec![0] } else { Vec::new() },
            ..ScanPlan::default()
        };
        SecondPhaseOdds::new(metadata, schema, &predicate, &plan).unwrap()
    }

    fn odds<'a>(
        file: &'a (ParquetMetaData, Schema),
        clause: &str,
        selection: Option<RowSelection>,
    ) -> SecondPhaseOdds<'a> {
        odds_held(file, clause, selection, false)
    }

    fn close(got: f64, expected: f64) {
        assert!((got - expected).abs() < 1e-12, "{got} != {expected}");
    }

    #[test]
    fn rows_match_as_their_pages_statistics_say() {
        let file = file();
        // `k < 50` covers half of the first page's values, none of the others'
        let half = odds(&file, "k < 50", None);
        close(half.any_match(0, &(0..1)), 0.5);
        close(half.any_match(0, &(0..2)), 0.75);
        close(half.any_match(0, &(100..1000)), 0.0);
        // `k = 150`: one value of the second page's 100
        let point = odds(&file, "k = 150", None);
        close(point.any_match(0, &(100..110)), 1.0 - 0.99f64.powi(10));
        close(point.any_match(0, &(0..100)), 0.0);
    }

    #[test]
    fn a_page_is_read_as_likely_as_one_of_its_rows_matches() {
        let file = file();
        let point = odds(&file, "k = 150", None);
        let index = file.0.page_index().unwrap().offset_index(0, 1).unwrap();
        let pages = index.page_locations();
        assert_eq!(pages.len(), 10);
        let page_rows = |page: usize| point.page_rows(0, 1, pages[page].offset as u64);
        assert_eq!(page_rows(1), Some(100..200));
        assert_eq!(page_rows(9), Some(900..u64::MAX));
        // what the scan expects to find: the one page that may hold the row
        close(point.scan_matches(), 1.0 - 0.99f64.powi(100));
    }

    #[test]
    fn a_row_group_known_to_hold_a_match_holds_one() {
        let file = file();
        let page = 1.0 - 0.99f64.powi(100);
        let either = 1.0 - (1.0 - page) * (1.0 - page);
        let unknown = odds(&file, "k = 150 OR k = 950", None);
        close(unknown.any_match(0, &(100..200)), page);
        close(unknown.scan_matches(), either);
        let held = odds_held(&file, "k = 150 OR k = 950", None, true);
        close(held.any_match(0, &(100..200)), page / either);
        close(held.any_match(0, &(0..1000)), 1.0);
        close(held.scan_matches(), 1.0);
    }

    #[test]
    fn only_selected_rows_count() {
        let file = file();
        let selection = RowSelection::from(vec![
            RowSelector::skip(100),
            RowSelector::select(100),
            RowSelector::skip(800),
        ]);
        let all = odds(&file, "v >= 0", Some(selection));
        close(all.any_match(0, &(0..100)), 0.0);
        close(all.any_match(0, &(150..160)), 1.0);
        close(all.scan_matches(), 1.0);
    }
}
