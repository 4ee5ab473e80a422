//! Error-bounded quantisation: the grid a bounded column's values are snapped to, and the integer
//! residuals `q` that move a prediction's grid point onto the value's.
//!
//! Every value `x` of a bounded column is replaced by the point of a fixed grid nearest to it, so
//! `|x − x_rec|` stays within the bound; the file stores `q = k(x) − k(x̂)`, the distance in grid
//! steps between the value's grid point and the prediction's. Decoding computes `k(x̂)` from the
//! same prediction and adds `q`. All grid arithmetic is integer or exactly rounded IEEE
//! arithmetic (no `ln`, `exp` or other library functions), so both ends agree bit for bit.
//!
//! The grids:
//! - **relative** (`|x − x_rec| ≤ ε·|x|`), and **exact** floats: the float's own bit pattern read
//!   as a sign-magnitude integer `t` (a piecewise-linear `log2` scale: one unit is one step of
//!   the mantissa), cut into cells of `2h + 1` units with `h = ⌊2^m·ε/(1 + ε)⌋` for `m` mantissa
//!   bits. Moving `h` mantissa steps changes a value by a factor within `(1 ± 2^-m)^h`, so the
//!   relative error stays below `ε`. Zero is a grid point, so zeros stay exact; exact floats use
//!   `h = 0` (every bit pattern its own cell).
//! - **absolute** (`|x − x_rec| ≤ ε`): multiples of `2ε`, rounded to the column's float type;
//!   that rounding may add up to half a unit in the last place of `x`, the one tolerance beyond
//!   the bound.
//! - **integers**: the integers themselves (always exact).
//!
//! Every encoded value is checked against its bound after the round trip (including the
//! rounding to the column's type); the neighbouring grid points are tried when rounding pushes
//! a value just outside, and a value no grid point can hold (a subnormal float under a relative
//! bound, an absolute bound below the float's resolution) is an error naming the value.

use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::exact::{power_of_two, round};

/// The guarantee asked for a column. Written as users type it (`0.01rel`, `0.5abs`, `exact`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Bound {
    /// `|x − x_rec| ≤ epsilon`.
    Absolute { epsilon: f64 },
    /// `|x − x_rec| ≤ epsilon·|x|`.
    Relative { epsilon: f64 },
    /// `x_rec = x`.
    Exact,
}

impl Bound {
    /// The bound a column of type `dt` gets: integer and boolean columns are always exact.
    pub fn for_type(self, dt: &DataType) -> Self {
        if dt.is_floating() { self } else { Self::Exact }
    }
}

impl TryFrom<String> for Bound {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse()
    }
}

impl From<Bound> for String {
    fn from(b: Bound) -> Self {
        b.to_string()
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Absolute { epsilon } => write!(f, "{epsilon}abs"),
            Self::Relative { epsilon } => write!(f, "{epsilon}rel"),
            Self::Exact => f.write_str("exact"),
        }
    }
}

impl std::str::FromStr for Bound {
    type Err = String;

    /// `1e-2rel`, `0.5abs` or `exact`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        if s == "exact" {
            return Ok(Self::Exact);
        }
        let (number, kind) = if let Some(n) = s.strip_suffix("rel") {
            (n, "rel")
        } else if let Some(n) = s.strip_suffix("abs") {
            (n, "abs")
        } else {
            return Err(format!(
                "`{s}` is not a bound: write `1e-2rel` (relative), `0.5abs` (absolute) or `exact`"
            ));
        };
        let epsilon: f64 = number
            .parse()
            .map_err(|_| format!("`{number}` in `{s}` is not a number"))?;
        if !(epsilon.is_finite() && epsilon > 0.0) || (kind == "rel" && epsilon >= 1.0) {
            return Err(format!(
                "`{s}`: a bound must be positive{}",
                if kind == "rel" { " and below 1" } else { "" }
            ));
        }
        Ok(if kind == "rel" {
            Self::Relative { epsilon }
        } else {
            Self::Absolute { epsilon }
        })
    }
}

/// Which grid a float column under a relative bound uses (written in the header).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    /// Cells of `2h + 1` bit-pattern units, the widest the bound allows.
    #[default]
    Cells,
    /// The floats with `b` mantissa bits, rounded to nearest (mantissa truncation's grid, the
    /// fewest `b` with 2^-(b+1) ≤ ε): values that already have no more mantissa bits (NanoAOD's
    /// stored floats) lie on it exactly.
    Mantissa,
}

impl GridKind {
    /// Whether this is [`GridKind::Cells`].
    pub fn is_cells(&self) -> bool {
        *self == Self::Cells
    }
}

/// The grid of one bounded column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Grid {
    /// Float bit patterns (`bits` = 32 or 64) in cells of `2h + 1` units.
    Bits { bits: u32, h: i64 },
    /// Float bit patterns rounded to multiples of `2^shift` units.
    Mantissa { bits: u32, shift: u32 },
    /// Multiples of `step`, rounded to Float32 when `single`.
    Multiples { step: f64, single: bool },
    /// The integers.
    Integers,
}

/// Snaps one column's values to its grid and checks its bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantiser {
    bound: Bound,
    grid: Grid,
}

impl Quantiser {
    /// The quantiser for a column of type `dt` under `bound`; integer and boolean columns are
    /// always exact.
    ///
    /// # Errors
    /// [`Error::Bound`] for types other than floats, integers and booleans.
    pub fn new(column: &str, bound: Bound, dt: &DataType) -> Result<Self> {
        Self::with_grid(column, bound, dt, GridKind::Cells)
    }

    /// The quantiser for a column of type `dt` under `bound`, with a float column under a
    /// relative bound on the grid `kind`.
    ///
    /// # Errors
    /// [`Error::Bound`] for types other than floats, integers and booleans.
    pub fn with_grid(column: &str, bound: Bound, dt: &DataType, kind: GridKind) -> Result<Self> {
        let bound = bound.for_type(dt);
        let grid = match dt {
            DataType::Float32 | DataType::Float64 => {
                let (bits, mantissa) = if *dt == DataType::Float32 {
                    (32, 23)
                } else {
                    (64, 52)
                };
                match bound {
                    Bound::Exact => Grid::Bits { bits, h: 0 },
                    Bound::Relative { epsilon } if kind == GridKind::Mantissa => Grid::Mantissa {
                        bits,
                        // Rounding to multiples of 2^s units errs by 2^(s−1) units at most,
                        // 2^(s−1−m) of a value of the binade at worst.
                        shift: (epsilon.log2().floor() as i64 + i64::from(mantissa) + 1)
                            .clamp(0, i64::from(mantissa)) as u32,
                    },
                    Bound::Relative { epsilon } => Grid::Bits {
                        bits,
                        h: (power_of_two(mantissa) * epsilon / (1.0 + epsilon)).floor() as i64,
                    },
                    Bound::Absolute { epsilon } => Grid::Multiples {
                        step: 2.0 * epsilon,
                        single: bits == 32,
                    },
                }
            }
            dt if dt.is_integer() || *dt == DataType::Boolean => Grid::Integers,
            other => {
                return Err(Error::Bound {
                    column: column.to_owned(),
                    message: format!("bounds apply to float and integer columns, not {other}"),
                });
            }
        };
        Ok(Self { bound, grid })
    }

    /// The bound this quantiser guarantees.
    pub fn bound(&self) -> Bound {
        self.bound
    }

    /// The grid coordinate of a value: the signed bit pattern for bit grids, `x / step` for
    /// multiples, `x` for integers. Predictions made in this coordinate are snapped with
    /// [`Quantiser::index_of_coordinate`].
    pub fn coordinate(&self, x: f64) -> f64 {
        match self.grid {
            Grid::Bits { bits, .. } | Grid::Mantissa { bits, .. } => signed_bits(x, bits) as f64,
            Grid::Multiples { step, .. } => x / step,
            Grid::Integers => x,
        }
    }

    /// The grid point nearest to a coordinate; non-finite coordinates map to point 0.
    pub fn index_of_coordinate(&self, c: f64) -> i64 {
        if !c.is_finite() {
            return 0;
        }
        match self.grid {
            Grid::Bits { bits, h } => {
                let limit = max_finite_bits(bits) as f64;
                cell(round(c).clamp(-limit, limit) as i64, h)
            }
            Grid::Mantissa { bits, shift } => {
                let limit = max_finite_bits(bits) as f64;
                rounded(round(c).clamp(-limit, limit) as i64, shift)
            }
            Grid::Multiples { .. } | Grid::Integers => {
                round(c).clamp(-(2f64.powi(62)), 2f64.powi(62)) as i64
            }
        }
    }

    /// The grid point nearest to a value (a prediction, or a value to encode).
    pub fn index_of_value(&self, x: f64) -> i64 {
        match self.grid {
            Grid::Bits { bits, h } if x.is_finite() => cell(signed_bits(x, bits), h),
            Grid::Mantissa { bits, shift } if x.is_finite() => rounded(signed_bits(x, bits), shift),
            _ => self.index_of_coordinate(self.coordinate(x)),
        }
    }

    /// The value of grid point `k`, already rounded to the column's type.
    pub fn value(&self, k: i64) -> f64 {
        match self.grid {
            Grid::Bits { bits, h } => {
                let limit = max_finite_bits(bits);
                let t = k.saturating_mul(2 * h + 1).clamp(-limit, limit);
                from_signed_bits(t, bits)
            }
            Grid::Mantissa { bits, shift } => {
                let limit = max_finite_bits(bits);
                let t = k.saturating_mul(1 << shift).clamp(-limit, limit);
                from_signed_bits(t, bits)
            }
            Grid::Multiples { step, single } => {
                let v = k as f64 * step;
                if single { f64::from(v as f32) } else { v }
            }
            Grid::Integers => k as f64,
        }
    }

    /// Whether `rec` stands for `x` within the bound. Absolute bounds allow the rounding of
    /// the grid point to the column's float type: `|x − rec| ≤ ε + ½ ulp(x)`.
    pub fn holds(&self, x: f64, rec: f64) -> bool {
        match (self.bound, self.grid) {
            (Bound::Exact, _) => rec == x,
            (Bound::Relative { epsilon }, _) => (x - rec).abs() <= epsilon * x.abs(),
            (Bound::Absolute { epsilon }, Grid::Multiples { single, .. }) => {
                (x - rec).abs() <= epsilon + half_ulp(x, single)
            }
            (Bound::Absolute { epsilon }, _) => (x - rec).abs() <= epsilon,
        }
    }

    /// The residual of `x` against the prediction's grid point `predicted` and the value
    /// decoding will give, checked against the bound.
    ///
    /// # Errors
    /// [`Error::Bound`] when no grid point near `x` satisfies the bound.
    pub fn encode(&self, column: &str, x: f64, predicted: i64) -> Result<(i64, f64)> {
        let k = self.index_of_value(x);
        for candidate in [k, k - 1, k + 1] {
            let rec = self.value(candidate);
            if self.holds(x, rec) {
                return Ok((candidate.wrapping_sub(predicted), rec));
            }
        }
        Err(Error::Bound {
            column: column.to_owned(),
            message: format!(
                "no value within {} of {x} can be stored (nearest {}); the bound is below the column type's resolution here",
                self.bound,
                self.value(k)
            ),
        })
    }

    /// The decoded value: the prediction's grid point moved by the residual.
    pub fn decode(&self, predicted: i64, residual: i64) -> f64 {
        self.value(predicted.wrapping_add(residual))
    }
}

/// Half a unit in the last place of `x` as a Float32 (`single`) or Float64.
pub fn half_ulp(x: f64, single: bool) -> f64 {
    if single {
        let v = (x as f32).abs();
        f64::from(f32::from_bits(v.to_bits() + 1) - v) / 2.0
    } else {
        let v = x.abs();
        (f64::from_bits(v.to_bits() + 1) - v) / 2.0
    }
}

/// `t / 2^shift`, rounded to nearest (halves away from zero).
fn rounded(t: i64, shift: u32) -> i64 {
    if shift == 0 {
        return t;
    }
    let magnitude = (t.unsigned_abs() + (1u64 << (shift - 1))) >> shift;
    let k = magnitude as i64;
    if t < 0 { -k } else { k }
}

/// The cell of integer coordinate `t` for half-width `h`: the `k` with `|t − k(2h+1)| ≤ h`.
fn cell(t: i64, h: i64) -> i64 {
    (t + h).div_euclid(2 * h + 1)
}

/// The largest finite float's bit pattern.
fn max_finite_bits(bits: u32) -> i64 {
    if bits == 32 {
        i64::from(f32::MAX.to_bits())
    } else {
        f64::MAX.to_bits() as i64
    }
}

/// The bit pattern of `x` (as a float of `bits` bits) as a sign-magnitude integer.
fn signed_bits(x: f64, bits: u32) -> i64 {
    let (magnitude, negative) = if bits == 32 {
        let b = (x as f32).to_bits();
        (i64::from(b & 0x7fff_ffff), b >> 31 == 1)
    } else {
        let b = x.to_bits();
        ((b & 0x7fff_ffff_ffff_ffff) as i64, b >> 63 == 1)
    };
    if negative { -magnitude } else { magnitude }
}

/// The float whose [`signed_bits`] are `t`.
fn from_signed_bits(t: i64, bits: u32) -> f64 {
    let magnitude = t.unsigned_abs();
    if bits == 32 {
        let v = f32::from_bits(magnitude as u32);
        f64::from(if t < 0 { -v } else { v })
    } else {
        let v = f64::from_bits(magnitude);
        if t < 0 { -v } else { v }
    }
}

/// `x` with its mantissa rounded to 10 bits (as NanoAOD stores many floats), for tests.
#[cfg(test)]
fn truncate10(x: f32) -> f32 {
    f32::from_bits((x.to_bits() + (1 << 12)) & !((1 << 13) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(bound: &str, dt: DataType) -> Quantiser {
        Quantiser::new("x", bound.parse().unwrap(), &dt).unwrap()
    }

    #[test]
    fn bounds_parse_and_refuse_nonsense() {
        assert_eq!("1e-2rel".parse(), Ok(Bound::Relative { epsilon: 1e-2 }));
        assert_eq!("0.5abs".parse(), Ok(Bound::Absolute { epsilon: 0.5 }));
        assert_eq!("exact".parse(), Ok(Bound::Exact));
        assert!("1e-2".parse::<Bound>().unwrap_err().contains("rel"));
        assert!("2rel".parse::<Bound>().unwrap_err().contains("below 1"));
        assert!("-1abs".parse::<Bound>().unwrap_err().contains("positive"));
    }

    #[test]
    fn relative_cells_are_as_wide_as_the_bound_allows() {
        let quantiser = q("1e-2rel", DataType::Float32);
        assert_eq!(
            quantiser.grid,
            Grid::Bits {
                bits: 32,
                h: (8_388_608.0 * 0.01 / 1.01f64).floor() as i64
            }
        );
        let f64q = q("1e-2rel", DataType::Float64);
        let Grid::Bits { h, .. } = f64q.grid else {
            panic!("bit grid")
        };
        assert_eq!(h, (2f64.powi(52) * 0.01 / 1.01).floor() as i64);
    }

    #[test]
    fn every_value_round_trips_within_its_bound_from_any_prediction() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (bound, dt, kind) in [
            ("1e-2rel", DataType::Float32, GridKind::Mantissa),
            ("4.8828125e-4rel", DataType::Float32, GridKind::Mantissa),
            ("1e-3rel", DataType::Float64, GridKind::Mantissa),
            ("1e-2rel", DataType::Float32, GridKind::Cells),
            ("1e-4rel", DataType::Float32, GridKind::Cells),
            ("1e-3rel", DataType::Float64, GridKind::Cells),
            ("1e-3abs", DataType::Float32, GridKind::Cells),
            ("0.25abs", DataType::Float64, GridKind::Cells),
            ("exact", DataType::Float32, GridKind::Cells),
            ("exact", DataType::Int32, GridKind::Cells),
        ] {
            let quantiser = Quantiser::with_grid("x", bound.parse().unwrap(), &dt, kind).unwrap();
            for _ in 0..20_000 {
                let r = next();
                let x = if dt.is_integer() {
                    (r % 2001) as f64 - 1000.0
                } else {
                    let v = f64::from((r >> 11) as u32) / f64::from(u32::MAX);
                    let scale = 10f64.powi((r % 9) as i32 - 4);
                    let v = if r & 1 == 0 { v * scale } else { -v * scale };
                    if dt == DataType::Float32 {
                        f64::from(v as f32)
                    } else {
                        v
                    }
                };
                let prediction = x * (1.0 + (next() % 1000) as f64 * 1e-3) + 0.3;
                let k_hat = quantiser.index_of_value(prediction);
                let (residual, rec) = quantiser.encode("x", x, k_hat).unwrap();
                assert_eq!(quantiser.decode(k_hat, residual).to_bits(), rec.to_bits());
                assert!(quantiser.holds(x, rec), "{bound}: {x} → {rec}");
                let b = quantiser.bound();
                let limit = match b {
                    Bound::Exact => 0.0,
                    Bound::Relative { epsilon } => epsilon * x.abs(),
                    Bound::Absolute { epsilon } => epsilon + half_ulp(x, dt == DataType::Float32),
                };
                assert!((x - rec).abs() <= limit, "{bound}: {x} → {rec}");
            }
        }
    }

    #[test]
    fn values_with_few_mantissa_bits_lie_on_the_mantissa_grid() {
        // NanoAOD stores pt with 10 mantissa bits; at 2^-11 the mantissa grid keeps them.
        let quantiser = Quantiser::with_grid(
            "pt",
            "4.8828125e-4rel".parse().unwrap(),
            &DataType::Float32,
            GridKind::Mantissa,
        )
        .unwrap();
        assert_eq!(
            quantiser.grid,
            Grid::Mantissa {
                bits: 32,
                shift: 13
            }
        );
        for x in [1.0f32, 37.25, 123.5, 0.0078125, -4096.0] {
            let x = crate::quantise::truncate10(x);
            let (_, rec) = quantiser.encode("pt", f64::from(x), 0).unwrap();
            assert_eq!(rec, f64::from(x), "{x} is on the grid");
        }
        let cells = Quantiser::with_grid(
            "pt",
            "2e-2rel".parse().unwrap(),
            &DataType::Float32,
            GridKind::Mantissa,
        )
        .unwrap();
        assert_eq!(
            cells.grid,
            Grid::Mantissa {
                bits: 32,
                shift: 18
            }
        );
    }

    #[test]
    fn zeros_stay_exact_and_a_perfect_prediction_leaves_no_residual() {
        let quantiser = q("1e-2rel", DataType::Float32);
        let (r, rec) = quantiser.encode("x", 0.0, 0).unwrap();
        assert_eq!((r, rec), (0, 0.0));
        let x = f64::from(123.456f32);
        let (r, rec) = quantiser
            .encode("x", x, quantiser.index_of_value(x))
            .unwrap();
        assert_eq!(r, 0);
        // A value equal to a decoded value is predicted exactly by that value.
        let (r, _) = quantiser
            .encode("x", x, quantiser.index_of_value(rec))
            .unwrap();
        assert_eq!(r, 0);
    }

    #[test]
    fn a_bound_below_float_resolution_is_an_error_not_a_silent_violation() {
        // A subnormal float has too few mantissa bits for a 1% relative bound.
        let quantiser = q("1e-2rel", DataType::Float32);
        let err = quantiser.encode("pt", f64::from(1e-40f32), 0).unwrap_err();
        assert!(
            err.to_string().contains("`pt`") && err.to_string().contains("resolution"),
            "{err}"
        );
    }
}
