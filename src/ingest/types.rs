//! Numeric value types shared by the ROOT and Parquet readers.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, PrimitiveArray};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};

/// A numeric element type that maps to an Arrow type without loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericType {
    Bool,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Float32,
    Float64,
}

impl NumericType {
    /// The type of a ROOT leaf or `std::vector` element, from its C++ type name (`float`,
    /// `uint32_t`, `Int_t`, `unsigned int`, …, spaces or not: ROOT writes `vector<unsignedchar>`;
    /// `long` is 64 bits, as on every platform ROOT files are written on).
    pub fn from_root(name: &str) -> Option<Self> {
        let name: String = name.split_whitespace().collect();
        Some(match name.as_str() {
            "bool" | "Bool_t" => Self::Bool,
            "int8_t" | "Char_t" | "char" | "signedchar" => Self::Int8,
            "uint8_t" | "UChar_t" | "unsignedchar" => Self::UInt8,
            "int16_t" | "Short_t" | "short" => Self::Int16,
            "uint16_t" | "UShort_t" | "unsignedshort" => Self::UInt16,
            "int32_t" | "Int_t" | "int" => Self::Int32,
            "uint32_t" | "UInt_t" | "unsignedint" | "unsigned" => Self::UInt32,
            "int64_t" | "Long64_t" | "Long_t" | "long" | "longlong" => Self::Int64,
            "uint64_t" | "ULong64_t" | "ULong_t" | "unsignedlong" | "unsignedlonglong" => {
                Self::UInt64
            }
            "float" | "Float_t" => Self::Float32,
            "double" | "Double_t" => Self::Float64,
            _ => return None,
        })
    }

    /// The numeric type of an Arrow type, if it is one.
    pub fn from_arrow(dt: &DataType) -> Option<Self> {
        Some(match dt {
            DataType::Boolean => Self::Bool,
            DataType::Int8 => Self::Int8,
            DataType::UInt8 => Self::UInt8,
            DataType::Int16 => Self::Int16,
            DataType::UInt16 => Self::UInt16,
            DataType::Int32 => Self::Int32,
            DataType::UInt32 => Self::UInt32,
            DataType::Int64 => Self::Int64,
            DataType::UInt64 => Self::UInt64,
            DataType::Float32 => Self::Float32,
            DataType::Float64 => Self::Float64,
            _ => return None,
        })
    }

    /// The Arrow type holding these values.
    pub fn arrow(self) -> DataType {
        match self {
            Self::Bool => DataType::Boolean,
            Self::Int8 => DataType::Int8,
            Self::UInt8 => DataType::UInt8,
            Self::Int16 => DataType::Int16,
            Self::UInt16 => DataType::UInt16,
            Self::Int32 => DataType::Int32,
            Self::UInt32 => DataType::UInt32,
            Self::Int64 => DataType::Int64,
            Self::UInt64 => DataType::UInt64,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
        }
    }

    /// Bytes per value as stored in ROOT baskets.
    pub fn width(self) -> usize {
        match self {
            Self::Bool | Self::Int8 | Self::UInt8 => 1,
            Self::Int16 | Self::UInt16 => 2,
            Self::Int32 | Self::UInt32 | Self::Float32 => 4,
            Self::Int64 | Self::UInt64 | Self::Float64 => 8,
        }
    }

    /// Decodes big-endian values (ROOT's byte order) into an Arrow array.
    pub fn decode_be(self, bytes: &[u8]) -> ArrayRef {
        match self {
            Self::Bool => Arc::new(
                bytes
                    .iter()
                    .map(|b| Some(*b != 0))
                    .collect::<BooleanArray>(),
            ),
            Self::Int8 => be::<Int8Type, 1>(bytes, i8::from_be_bytes),
            Self::UInt8 => be::<UInt8Type, 1>(bytes, u8::from_be_bytes),
            Self::Int16 => be::<Int16Type, 2>(bytes, i16::from_be_bytes),
            Self::UInt16 => be::<UInt16Type, 2>(bytes, u16::from_be_bytes),
            Self::Int32 => be::<Int32Type, 4>(bytes, i32::from_be_bytes),
            Self::UInt32 => be::<UInt32Type, 4>(bytes, u32::from_be_bytes),
            Self::Int64 => be::<Int64Type, 8>(bytes, i64::from_be_bytes),
            Self::UInt64 => be::<UInt64Type, 8>(bytes, u64::from_be_bytes),
            Self::Float32 => be::<Float32Type, 4>(bytes, f32::from_be_bytes),
            Self::Float64 => be::<Float64Type, 8>(bytes, f64::from_be_bytes),
        }
    }
}

fn be<T: ArrowPrimitiveType, const N: usize>(
    bytes: &[u8],
    from_be: fn([u8; N]) -> T::Native,
) -> ArrayRef {
    let values = bytes
        .chunks_exact(N)
        .map(|c| from_be(c.try_into().expect("chunk of N bytes")));
    Arc::new(PrimitiveArray::<T>::from_iter_values(values))
}

/// A column's values as `f64` (`None` for nulls); booleans are 0 and 1.
///
/// # Errors
/// [`crate::Error::Arrow`] for a column that is not numeric.
pub fn as_f64(array: &ArrayRef) -> crate::Result<ArrayRef> {
    Ok(arrow::compute::cast(array, &DataType::Float64)?)
}

/// A numeric column's values as `f64` (nulls as 0).
///
/// # Errors
/// [`crate::Error::Arrow`] for a column that is not numeric.
pub fn f64_values(array: &ArrayRef) -> crate::Result<Vec<f64>> {
    use arrow::array::AsArray;
    Ok(as_f64(array)?
        .as_primitive::<Float64Type>()
        .values()
        .to_vec())
}
