//! The header of a new file: each original column's storage and bound.

use baler_udfs::format::{Bound, ColumnSpec, FORMAT_VERSION, Header, MethodSpec, Storage};
use baler_udfs::quantise::GridKind;

use super::Scan;
use crate::error::Result;
use crate::ingest::EVENT_COLUMN;
use crate::options::{ErrorBounds, Method};

/// The header of a new file.
pub(super) fn header(columns: Vec<ColumnSpec>, method: MethodSpec) -> Header {
    Header {
        format: FORMAT_VERSION,
        tool: format!("baler-arrow {}", env!("CARGO_PKG_VERSION")),
        event: event_column(&columns),
        columns,
        method,
    }
}

/// The event column: `event`, stored as it is, of an integer type.
pub(super) fn event_column(columns: &[ColumnSpec]) -> Option<String> {
    columns
        .iter()
        .find(|c| {
            c.name == EVENT_COLUMN
                && matches!(c.storage, Storage::PassThrough)
                && c.arrow_type().is_ok_and(|t| t.is_integer())
        })
        .map(|c| c.name.clone())
}

/// The original columns in order: pass-through, constant, or decoded (`ae`, with their range)
/// or predicted; with error bounds, each model column's bound (methods `predict` and
/// `residual` store the columns without one exactly).
pub(super) fn column_specs(
    scan: &Scan,
    method: Method,
    bounds: Option<&ErrorBounds>,
) -> Result<Vec<ColumnSpec>> {
    let mut next = 0;
    scan.schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let mut bound = None;
            let storage = match scan.candidates.iter().find(|c| c.index == i) {
                None => Storage::PassThrough,
                // Integers beyond 2^53 have no exact float: such columns are stored as they are.
                Some(c) if !field.data_type().is_floating() && beyond_floats(c) => {
                    Storage::PassThrough
                }
                Some(c) if c.stats.is_constant() => Storage::Constant {
                    value: c.first.clone().unwrap_or_default(),
                },
                Some(_) if method != Method::Ae => {
                    bound = Some(
                        bounds
                            .and_then(|b| b.get(field.name()))
                            .unwrap_or(Bound::Exact),
                    );
                    Storage::Predicted
                }
                Some(c) => {
                    next += 1;
                    // As for the other methods, a column that the bounds do not name is exact.
                    bound = bounds.map(|b| b.get(field.name()).unwrap_or(Bound::Exact));
                    let transform = c.stats.transform(field.data_type().is_floating());
                    Storage::Decoded {
                        index: next - 1,
                        min: transform.forward(c.stats.min),
                        max: transform.forward(c.stats.max),
                        transform,
                    }
                }
            };
            let bound = bound.map(|b| b.for_type(field.data_type()));
            Ok(ColumnSpec {
                name: field.name().clone(),
                data_type: field.data_type().to_string(),
                storage,
                bound,
                split: None,
                grid: GridKind::Cells,
            })
        })
        .collect()
}

/// Whether an integer column has values that a float64 cannot hold exactly.
fn beyond_floats(c: &super::scan::Candidate) -> bool {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    c.stats.min.abs() >= EXACT || c.stats.max.abs() >= EXACT
}

/// The columns a file keeps as they are (`--keep`): its pass-through columns but the event index.
pub fn kept_columns(header: &Header) -> Vec<String> {
    header
        .columns
        .iter()
        .filter(|c| matches!(c.storage, Storage::PassThrough) && c.name != EVENT_COLUMN)
        .map(|c| c.name.clone())
        .collect()
}
