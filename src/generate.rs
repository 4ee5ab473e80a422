//! Synthetic CMS-AOD-like jets with the Baler paper's 24 variables, for benchmarks and large tests.
//!
//! Jets are physically consistent: a steeply falling pT spectrum, a few to ten jets per event
//! (sorted by pT), energy fractions that add up to the jet energy, charged EM energy equal to
//! the electron energy, multiplicities that add up, and HF quantities only at |eta| > 3.

use std::f64::consts::PI;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Int32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, Normal, Poisson};

use crate::ingest::EVENT_COLUMN;

/// Seed used when none is given.
pub const DEFAULT_SEED: u64 = 42;

/// The float columns, in output order.
pub const FLOAT_COLUMNS: [&str; 15] = [
    "pt",
    "eta",
    "phi",
    "mass",
    "mJetArea",
    "mChargedHadronEnergy",
    "mNeutralHadronEnergy",
    "mPhotonEnergy",
    "mElectronEnergy",
    "mMuonEnergy",
    "mHFHadronEnergy",
    "mHFEMEnergy",
    "mChargedEmEnergy",
    "mChargedMuEnergy",
    "mNeutralEmEnergy",
];

/// The integer (multiplicity) columns, after the float columns.
pub const INT_COLUMNS: [&str; 9] = [
    "mChargedHadronMultiplicity",
    "mNeutralHadronMultiplicity",
    "mPhotonMultiplicity",
    "mElectronMultiplicity",
    "mMuonMultiplicity",
    "mHFHadronMultiplicity",
    "mHFEMMultiplicity",
    "mChargedMultiplicity",
    "mNeutralMultiplicity",
];

/// The generated table's schema: `event`, 15 Float32 and 9 Int32 columns.
pub fn jet_schema() -> SchemaRef {
    let floats = FLOAT_COLUMNS
        .iter()
        .map(|n| Field::new(*n, DataType::Float32, false));
    let ints = INT_COLUMNS
        .iter()
        .map(|n| Field::new(*n, DataType::Int32, false));
    let fields = std::iter::once(Field::new(EVENT_COLUMN, DataType::UInt64, false))
        .chain(floats)
        .chain(ints);
    Arc::new(Schema::new(fields.collect::<Vec<_>>()))
}

/// One jet's values in [`jet_schema`] order (without `event`).
#[derive(Debug, Clone, Copy, Default)]
struct Jet {
    floats: [f32; 15],
    ints: [i32; 9],
}

/// An endless, seeded source of events; [`JetGenerator::batch`] cuts it into record batches.
pub struct JetGenerator {
    rng: StdRng,
    next_event: u64,
    /// Jets of the event being emitted that did not fit in the previous batch.
    pending: Vec<(u64, Jet)>,
}

impl JetGenerator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            next_event: 0,
            pending: Vec::new(),
        }
    }

    /// The next `rows` jets (whole events, except that the last event may continue in the next
    /// batch).
    pub fn batch(&mut self, rows: usize) -> RecordBatch {
        let mut jets = std::mem::take(&mut self.pending);
        while jets.len() < rows {
            let event = self.next_event;
            self.next_event += 1;
            jets.extend(self.event().into_iter().map(|j| (event, j)));
        }
        self.pending = jets.split_off(rows);
        to_batch(&jets)
    }

    fn event(&mut self) -> Vec<Jet> {
        let extra = Poisson::new(2.5).expect("valid rate").sample(&mut self.rng) as usize;
        let n = (2 + extra).min(10);
        let mut jets: Vec<Jet> = (0..n).map(|_| self.jet()).collect();
        jets.sort_by(|a, b| b.floats[0].total_cmp(&a.floats[0]));
        jets
    }

    fn poisson(&mut self, mean: f64) -> i32 {
        Poisson::new(mean.max(1e-6))
            .expect("positive rate")
            .sample(&mut self.rng) as i32
    }

    fn gamma(&mut self, shape: f64) -> f64 {
        Gamma::new(shape, 1.0)
            .expect("positive shape")
            .sample(&mut self.rng)
    }

    fn jet(&mut self) -> Jet {
        // pT ~ pT^-4 above 20 GeV.
        let u: f64 = self.rng.random_range(1e-9..1.0);
        let pt = (20.0 * u.powf(-1.0 / 3.0)).min(3000.0);
        let eta = loop {
            let e: f64 = Normal::new(0.0, 2.0)
                .expect("valid normal")
                .sample(&mut self.rng);
            if e.abs() < 4.7 {
                break e;
            }
        };
        let phi = self.rng.random_range(-PI..PI);
        let mass = pt * self.rng.random_range(0.04..0.25);
        let energy = ((pt * eta.cosh()).powi(2) + mass * mass).sqrt();
        let area = Normal::<f64>::new(0.5, 0.04)
            .expect("valid normal")
            .sample(&mut self.rng)
            .clamp(0.3, 0.8);

        // Multiplicities first; a component with no particles carries no energy.
        let mut mult = [0i32; 7];
        let hf = eta.abs() > 3.0;
        if hf {
            mult[5] = 1 + self.poisson(2.0 + 0.03 * pt);
            mult[6] = self.poisson(2.0 + 0.03 * pt);
        } else {
            mult[0] = 1 + self.poisson(3.0 + 0.08 * pt);
            mult[1] = self.poisson(1.0 + 0.02 * pt);
            mult[2] = self.poisson(2.0 + 0.05 * pt);
            mult[3] = self.poisson(0.3);
            mult[4] = self.poisson(0.15);
        }
        // Energy fractions: a Dirichlet draw over the components present.
        const SHAPES: [f64; 7] = [6.0, 1.5, 3.0, 0.5, 0.5, 3.0, 2.0];
        let mut weights = [0.0; 7];
        for i in 0..7 {
            if mult[i] > 0 {
                weights[i] = self.gamma(SHAPES[i]);
            }
        }
        let total: f64 = weights.iter().sum();
        let e: Vec<f32> = weights
            .iter()
            .map(|w| (energy * w / total) as f32)
            .collect();

        let floats = [
            pt as f32,
            eta as f32,
            phi as f32,
            mass as f32,
            area as f32,
            e[0],
            e[1],
            e[2],
            e[3],
            e[4],
            e[5],
            e[6],
            e[3],
            e[4],
            e[2] + e[6],
        ];
        let ints = [
            mult[0],
            mult[1],
            mult[2],
            mult[3],
            mult[4],
            mult[5],
            mult[6],
            mult[0] + mult[3] + mult[4],
            mult[1] + mult[2] + mult[5] + mult[6],
        ];
        Jet { floats, ints }
    }
}

fn to_batch(jets: &[(u64, Jet)]) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from_iter_values(
        jets.iter().map(|(e, _)| *e),
    ))];
    columns.extend((0..FLOAT_COLUMNS.len()).map(|i| {
        Arc::new(Float32Array::from_iter_values(
            jets.iter().map(|(_, j)| j.floats[i]),
        )) as ArrayRef
    }));
    columns.extend((0..INT_COLUMNS.len()).map(|i| {
        Arc::new(Int32Array::from_iter_values(
            jets.iter().map(|(_, j)| j.ints[i]),
        )) as ArrayRef
    }));
    RecordBatch::try_new(jet_schema(), columns).expect("columns match the schema")
}

/// Writes `rows` generated jets to `path` as lossless Parquet (atomically); returns the rows.
///
/// # Errors
/// Write failures, and [`crate::Error::OutputExists`] when `path` exists and `force` is off.
pub fn write_parquet(
    path: &std::path::Path,
    rows: u64,
    seed: u64,
    force: bool,
) -> crate::Result<u64> {
    use crate::convert::{DEFAULT_ZSTD_LEVEL, lossless_properties, write_file};
    let schema = jet_schema();
    let props = lossless_properties(&schema, DEFAULT_ZSTD_LEVEL)?;
    let batches = generate(rows, seed, crate::ingest::DEFAULT_BATCH_ROWS).map(Ok);
    write_file(
        path,
        schema,
        batches,
        props,
        force,
        &crate::progress::NoProgress,
    )
}

/// `rows` jets in batches of at most `batch_rows`.
pub fn generate(rows: u64, seed: u64, batch_rows: usize) -> impl Iterator<Item = RecordBatch> {
    let mut generator = JetGenerator::new(seed);
    let mut left = rows;
    std::iter::from_fn(move || {
        let n = left.min(batch_rows.max(1) as u64) as usize;
        left -= n as u64;
        (n > 0).then(|| generator.batch(n))
    })
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float32Type, Int32Type};

    use super::*;

    fn column<'a>(b: &'a RecordBatch, name: &str) -> &'a ArrayRef {
        b.column_by_name(name).unwrap()
    }

    #[test]
    fn jets_are_physically_consistent() {
        let batches: Vec<_> = generate(20_000, 7, 4096).collect();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 20_000);
        for b in &batches {
            let f = |n| column(b, n).as_primitive::<Float32Type>().values().clone();
            let i = |n| column(b, n).as_primitive::<Int32Type>().values().clone();
            let (pt, eta, mass) = (f("pt"), f("eta"), f("mass"));
            // The seven component energies, charged hadrons to HF EM.
            let energies: Vec<_> = FLOAT_COLUMNS[5..12].iter().map(|n| f(n)).collect();
            for r in 0..b.num_rows() {
                assert!(pt[r] >= 20.0 && eta[r].abs() < 4.7);
                let e = ((pt[r] as f64 * (eta[r] as f64).cosh()).powi(2)
                    + (mass[r] as f64).powi(2))
                .sqrt();
                let sum: f64 = energies.iter().map(|c| c[r] as f64).sum();
                assert!((sum - e).abs() < 1e-4 * e, "row {r}: {sum} vs {e}");
                let hf = energies[5][r] + energies[6][r];
                assert_eq!(eta[r].abs() > 3.0, hf > 0.0, "HF energy only forward");
            }
            assert_eq!(f("mChargedEmEnergy"), f("mElectronEnergy"));
            let charged: Vec<i32> = (0..b.num_rows())
                .map(|r| {
                    i("mChargedHadronMultiplicity")[r]
                        + i("mElectronMultiplicity")[r]
                        + i("mMuonMultiplicity")[r]
                })
                .collect();
            assert_eq!(i("mChargedMultiplicity").to_vec(), charged);
        }
    }

    #[test]
    fn events_hold_two_to_ten_jets_sorted_by_pt() {
        let b = generate(5000, 1, 5000).next().unwrap();
        let events = column(&b, EVENT_COLUMN)
            .as_primitive::<arrow::datatypes::UInt64Type>()
            .values()
            .clone();
        let pt = column(&b, "pt")
            .as_primitive::<Float32Type>()
            .values()
            .clone();
        let mut start = 0;
        while start < b.num_rows() {
            let end = (start..b.num_rows())
                .find(|&r| events[r] != events[start])
                .unwrap_or(b.num_rows());
            if end < b.num_rows() {
                assert!(
                    (2..=10).contains(&(end - start)),
                    "event {} has {} jets",
                    events[start],
                    end - start
                );
            }
            assert!(pt[start..end].windows(2).all(|w| w[0] >= w[1]));
            start = end;
        }
    }

    #[test]
    fn a_seed_gives_the_same_jets() {
        let a: Vec<_> = generate(3000, 9, 1000).collect();
        let b: Vec<_> = generate(3000, 9, 1000).collect();
        let c: Vec<_> = generate(3000, 10, 1000).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
