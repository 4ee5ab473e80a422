//! `Double32_t` and `Float16_t` leaves: numbers ROOT stores packed, as their leaf's title says.
//!
//! The title is the leaf's type with an optional range, `d[low,high,bits]` or `f[low,high,bits]`
//! (`low` and `high` may be written with `pi`: `[-pi,pi,12]`). Values are read as uproot reads
//! them (`uproot.AsDouble32`, `AsFloat16`), bit for bit:
//!
//! - `Double32_t` without a range: a float32 on disk, a float64 read;
//! - a range (`[low,high]` or `[low,high,bits]`, 32 bits when not given or outside 2..=32): a
//!   big-endian `uint32` `u` on disk, read as `u · ((high − low) / 2^bits) + low` (in float64 for
//!   `Double32_t`, in float32 for `Float16_t`, as uproot computes it);
//! - `[0,0,bits]`, and `Float16_t` without a range (12 bits): a float with a truncated mantissa,
//!   a 1-byte exponent and a 2-byte mantissa (with the sign above its `bits` bits) on disk.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Float64Array};

use crate::ingest::types::NumericType;

/// How a `Double32_t` or `Float16_t` leaf stores its values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Packing {
    /// `Float64` for `Double32_t`, `Float32` for `Float16_t`: the type read.
    pub out: NumericType,
    pub stored: Stored,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stored {
    /// A float32.
    Float,
    /// A `uint32` step of `(high − low) / 2^bits` above `low`.
    Range { low: f64, high: f64, bits: u32 },
    /// An exponent byte and a 2-byte mantissa of `bits` bits.
    Truncated { bits: u32 },
}

/// The element type a packed leaf's C++ type reads as: `Double32_t` as float64, `Float16_t` as
/// float32.
pub(crate) fn packed_type(base: &str) -> Option<NumericType> {
    match base.trim() {
        "Double32_t" => Some(NumericType::Float64),
        "Float16_t" => Some(NumericType::Float32),
        _ => None,
    }
}

impl Packing {
    /// The packing of a leaf of type `out` (see [`packed_type`]) from its title (`d[0,1,10]`).
    ///
    /// # Errors
    /// A range that is not numbers (and `pi`), or a truncated mantissa wider than 22 bits: the
    /// message names the title.
    pub fn from_title(out: NumericType, title: &str) -> Result<Self, String> {
        let float16 = out == NumericType::Float32;
        let Some((_, rest)) = title.split_once('[') else {
            let stored = if float16 {
                Stored::Truncated { bits: 12 }
            } else {
                Stored::Float
            };
            return Ok(Self { out, stored });
        };
        let spec = rest.split(']').next().unwrap_or_default();
        let bad = || {
            format!(
                "the range `[{spec}]` of leaf title `{title}` is not `[low,high]` or `[low,high,bits]` of numbers"
            )
        };
        let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
        let (low, high, bits) = match parts.as_slice() {
            [low, high] => (
                value(low).ok_or_else(bad)?,
                value(high).ok_or_else(bad)?,
                32,
            ),
            [low, high, bits] => {
                let bits: i64 = bits.parse().map_err(|_| bad())?;
                let bits = if (2..=32).contains(&bits) {
                    bits as u32
                } else {
                    32
                };
                (
                    value(low).ok_or_else(bad)?,
                    value(high).ok_or_else(bad)?,
                    bits,
                )
            }
            _ => return Err(bad()),
        };
        let stored = if low == 0.0 && high == 0.0 {
            if bits > 22 {
                return Err(format!(
                    "leaf title `{title}` asks for a truncated mantissa of {bits} bits (at most 22 fit the 2-byte mantissa read)"
                ));
            }
            Stored::Truncated { bits }
        } else if high <= low {
            return Err(format!(
                "leaf title `{title}` has a range whose high end is not above its low end"
            ));
        } else {
            Stored::Range { low, high, bits }
        };
        Ok(Self { out, stored })
    }

    /// Bytes per value on disk.
    pub fn width(self) -> usize {
        match self.stored {
            Stored::Float | Stored::Range { .. } => 4,
            Stored::Truncated { .. } => 3,
        }
    }

    /// Decodes values stored back to back (a whole number of [`Self::width`]s).
    pub fn decode(self, bytes: &[u8]) -> ArrayRef {
        let values = bytes.chunks_exact(self.width());
        let word = |c: &[u8]| u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let f64s = |f: &dyn Fn(&[u8]) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(values.clone().map(f)))
        };
        let f32s = |f: &dyn Fn(&[u8]) -> f32| -> ArrayRef {
            Arc::new(Float32Array::from_iter_values(values.clone().map(f)))
        };
        let float16 = self.out == NumericType::Float32;
        match self.stored {
            Stored::Float if float16 => f32s(&|c| f32::from_bits(word(c))),
            Stored::Float => f64s(&|c| f64::from(f32::from_bits(word(c)))),
            Stored::Range { low, high, bits } => {
                let step = (high - low) / (1u64 << bits) as f64;
                if float16 {
                    // uproot computes in float32: the step and the low end rounded to it.
                    let (step, low) = (step as f32, low as f32);
                    f32s(&|c| word(c) as f32 * step + low)
                } else {
                    f64s(&|c| f64::from(word(c)) * step + low)
                }
            }
            Stored::Truncated { bits } => {
                let unpack = move |c: &[u8]| -> f32 {
                    let exponent = u32::from(c[0]);
                    let mantissa = u32::from(u16::from_be_bytes([c[1], c[2]]));
                    let magnitude =
                        (exponent << 23) | ((mantissa & ((1 << (bits + 1)) - 1)) << (23 - bits));
                    let sign = if mantissa & (1 << (bits + 1)) != 0 {
                        -1.0
                    } else {
                        1.0
                    };
                    f32::from_bits(magnitude) * sign
                };
                if float16 {
                    f32s(&unpack)
                } else {
                    f64s(&|c| f64::from(unpack(c)))
                }
            }
        }
    }
}

/// A number of a range: a decimal, or `pi`, `twopi`, `2pi`, `2*pi`, `pi/2` (as ROOT's
/// `TStreamerElement::GetRange` reads them), with an optional sign.
fn value(text: &str) -> Option<f64> {
    let (sign, t) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest.trim()),
        None => (1.0, text.strip_prefix('+').unwrap_or(text).trim()),
    };
    let pi = std::f64::consts::PI;
    let v = if let Ok(v) = t.parse::<f64>() {
        v
    } else if t.eq_ignore_ascii_case("pi") {
        pi
    } else if t.eq_ignore_ascii_case("twopi") {
        2.0 * pi
    } else if let Some((a, b)) = t.split_once('/') {
        value(a)? / value(b)?
    } else if let Some((a, b)) = t.split_once('*') {
        value(a)? * value(b)?
    } else if let Some(n) = t.strip_suffix("pi").or_else(|| t.strip_suffix("PI")) {
        n.trim().parse::<f64>().ok()? * pi
    } else {
        return None;
    };
    v.is_finite().then_some(sign * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_give_the_packing_uproot_reads() {
        let d = |t| Packing::from_title(NumericType::Float64, t).map(|p| p.stored);
        let f = |t| Packing::from_title(NumericType::Float32, t).map(|p| p.stored);
        assert_eq!(d("d"), Ok(Stored::Float));
        assert_eq!(f("f"), Ok(Stored::Truncated { bits: 12 }));
        assert_eq!(
            d("d[-2.71,10,30]"),
            Ok(Stored::Range {
                low: -2.71,
                high: 10.0,
                bits: 30
            })
        );
        assert_eq!(
            d("d[0,1]"),
            Ok(Stored::Range {
                low: 0.0,
                high: 1.0,
                bits: 32
            })
        );
        assert_eq!(
            d("d[-pi,pi,40]"),
            Ok(Stored::Range {
                low: -std::f64::consts::PI,
                high: std::f64::consts::PI,
                bits: 32
            })
        );
        assert_eq!(d("d[0,0,10]"), Ok(Stored::Truncated { bits: 10 }));
        assert!(d("d[a,b,3]").unwrap_err().contains("`d[a,b,3]`"));
        assert!(d("d[1,0,3]").is_err());
        assert!(d("d[0,0,30]").is_err());
    }

    #[test]
    fn packed_values_decode_as_root_writes_them() {
        // Range: u = 2^29 of 2^30 steps is half way.
        let p = Packing::from_title(NumericType::Float64, "d[-2,2,30]").unwrap();
        let a = p.decode(&(1u32 << 29).to_be_bytes());
        let a = arrow::array::AsArray::as_primitive::<arrow::datatypes::Float64Type>(&a);
        assert_eq!(a.value(0), 0.0);
        // Truncated 10 bits: the mantissa's bit 9 lands on the float's highest mantissa bit
        // (1.5 with exponent 127); bit 11 is the sign.
        let p = Packing::from_title(NumericType::Float32, "f[0,0,10]").unwrap();
        let m: u16 = 1 << 9;
        let neg: u16 = m | (1 << 11);
        let a = p.decode(&[
            127,
            (m >> 8) as u8,
            m as u8,
            127,
            (neg >> 8) as u8,
            neg as u8,
        ]);
        let a = arrow::array::AsArray::as_primitive::<arrow::datatypes::Float32Type>(&a);
        assert_eq!(a.values().to_vec(), vec![1.5, -1.5]);
    }
}
