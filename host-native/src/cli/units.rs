//! Dividing a scan among instances: whole files where there are enough of
//! them, else runs of a file's row groups, each big enough to be worth an
//! instance (a second instance on a file costs it one more open).

use quiver_host::bindings::scan::RowGroupInfo;
use quiver_host::pool::Opened;

/// A piece of a scan for one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The file's position among the opened files.
    pub position: usize,
    /// The worker that scans it.
    pub worker: usize,
    /// The row groups it covers (`None`: the whole file).
    pub row_groups: Option<Vec<u32>>,
}

impl Unit {
    /// Compressed bytes of the row groups it covers in `file`.
    pub fn compressed_bytes(&self, file: &Opened) -> u64 {
        let groups = &file.metadata.row_groups;
        match &self.row_groups {
            Some(run) => (run.iter())
                .filter_map(|&group| groups.get(group as usize))
                .map(|group| group.compressed_size)
                .sum(),
            None => groups.iter().map(|group| group.compressed_size).sum(),
        }
    }
}

/// The units of a scan of `opened` files, in output order. File `k` was
/// opened by worker `k % openers`, which scans it whole, or its first run
/// of row groups; where there are fewer files than `threads`, a file whose
/// compressed row groups hold at least `min_split_bytes` per run is split
/// into up to `threads / files` runs, the others going to the next workers.
pub fn plan_units(
    opened: &[Opened],
    openers: usize,
    threads: usize,
    min_split_bytes: u64,
) -> Vec<Unit> {
    let openers = openers.max(1);
    let runs_per_file = (threads / opened.len().max(1)).max(1);
    let mut units = Vec::new();
    for (position, file) in opened.iter().enumerate() {
        let groups = &file.metadata.row_groups;
        let bytes: u64 = groups.iter().map(|group| group.compressed_size).sum();
        let runs = runs_per_file
            .min(groups.len())
            .min((bytes / min_split_bytes.max(1)) as usize)
            .max(1);
        let opener = position % openers;
        if runs == 1 {
            units.push(Unit {
                position,
                worker: opener,
                row_groups: None,
            });
            continue;
        }
        for (run, row_groups) in split_runs(groups, runs).into_iter().enumerate() {
            units.push(Unit {
                position,
                worker: (opener + run) % threads,
                row_groups: Some(row_groups),
            });
        }
    }
    units
}

/// `groups` cut into at most `runs` runs of consecutive row groups with
/// about the same compressed bytes each.
fn split_runs(groups: &[RowGroupInfo], runs: usize) -> Vec<Vec<u32>> {
    let total: u64 = groups.iter().map(|group| group.compressed_size).sum();
    let mut result: Vec<Vec<u32>> = Vec::new();
    let mut current = Vec::new();
    let mut so_far = 0u64;
    for (index, group) in groups.iter().enumerate() {
        current.push(index as u32);
        so_far += group.compressed_size;
        let cut_here = (result.len() + 1) as u128 * total as u128 <= so_far as u128 * runs as u128;
        if cut_here && result.len() + 1 < runs {
            result.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        result.push(current);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(sizes: &[u64]) -> Vec<RowGroupInfo> {
        sizes
            .iter()
            .map(|&size| RowGroupInfo {
                num_rows: 1,
                compressed_size: size,
                uncompressed_size: size,
            })
            .collect()
    }

    #[test]
    fn runs_are_consecutive_and_balanced_by_bytes() {
        assert_eq!(
            split_runs(&groups(&[10, 10, 10, 10]), 2),
            [vec![0, 1], vec![2, 3]]
        );
        assert_eq!(
            split_runs(&groups(&[30, 10, 10, 10]), 2),
            [vec![0], vec![1, 2, 3]]
        );
        assert_eq!(split_runs(&groups(&[5, 5, 5]), 8).len(), 3);
        assert_eq!(split_runs(&groups(&[5]), 2), [vec![0]]);
    }
}
