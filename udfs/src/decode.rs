//! `baler_decode_<model>`: the scalar UDF that decodes stored blocks in SQL. Its argument is
//! the stored table's `baler_data` column; it returns, for each block, the list of its rows as
//! structs of the original columns (`unnest` makes rows of them).

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, ArrayRef, AsArray, ListArray, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result as DFResult, exec_datafusion_err, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::codec::Codec;
use crate::format::DATA_COLUMN;

/// SQL name prefix of the decode functions; the model's id follows.
pub const DECODE_FUNCTION_PREFIX: &str = "baler_decode_";

/// Decodes stored blocks of one model into lists of rows of the original columns.
///
/// One call decodes each block of its argument once. [`DecodeFunc::decodes`] counts the blocks
/// whose model columns were decoded, here and by the compressed table that shares the function.
#[derive(Debug)]
pub struct DecodeFunc {
    name: String,
    model_id: String,
    codec: Arc<Codec>,
    signature: Signature,
    fields: Fields,
    documentation: Documentation,
    decodes: AtomicU64,
}

impl DecodeFunc {
    /// The function for `codec`'s model; `model_id` (see
    /// [`crate::format::Footer::model_id`]) names it.
    pub fn new(codec: Arc<Codec>, model_id: &str) -> Self {
        let fields = codec.output_schema().fields().clone();
        let name = format!(
            "{DECODE_FUNCTION_PREFIX}{}",
            &model_id[..model_id.len().min(12)]
        );
        let documentation = Documentation::builder(
            DocSection {
                include: true,
                label: "baler",
                description: None,
            },
            "Decodes the stored blocks of a baler-compressed file: one list of rows (structs of the original columns) per block.",
            format!("{name}({DATA_COLUMN})"),
        )
        .with_sql_example(format!(
            "SELECT get_field(r, 'pt') FROM (SELECT unnest({name}({DATA_COLUMN})) AS r FROM jets_stored)"
        ))
        .build();
        Self {
            signature: Signature::uniform(
                1,
                vec![
                    DataType::Binary,
                    DataType::BinaryView,
                    DataType::LargeBinary,
                ],
                Volatility::Immutable,
            ),
            name,
            model_id: model_id.to_owned(),
            codec,
            fields,
            documentation,
            decodes: AtomicU64::new(0),
        }
    }

    /// The codec it decodes with.
    pub fn codec(&self) -> &Arc<Codec> {
        &self.codec
    }

    /// How many blocks have had their model columns decoded.
    pub fn decodes(&self) -> u64 {
        self.decodes.load(Ordering::Relaxed)
    }

    /// Counts one block decoded.
    pub fn count_decode(&self) {
        self.decodes.fetch_add(1, Ordering::Relaxed);
    }

    fn item(&self) -> Field {
        Field::new("item", DataType::Struct(self.fields.clone()), true)
    }
}

impl PartialEq for DecodeFunc {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.model_id == other.model_id
    }
}

impl Eq for DecodeFunc {}

impl Hash for DecodeFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.model_id.hash(state);
    }
}

impl ScalarUDFImpl for DecodeFunc {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::List(Arc::new(self.item())))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [blocks] = arrays.as_slice() else {
            return exec_err!("{} takes one argument, got {}", self.name, arrays.len());
        };
        let blocks = arrow::compute::cast(blocks, &DataType::Binary)?;
        let Some(blocks) = blocks.as_binary_opt::<i32>() else {
            return exec_err!(
                "{} takes Binary blocks, got {}",
                self.name,
                blocks.data_type()
            );
        };
        let mut decoded = Vec::with_capacity(blocks.len());
        for i in 0..blocks.len() {
            if blocks.is_null(i) {
                return exec_err!("{}: block {i} is null", self.name);
            }
            let batch = self
                .codec
                .decode_block(blocks.value(i))
                .map_err(|e| exec_datafusion_err!("{}: block {i}: {e}", self.name))?;
            self.count_decode();
            decoded.push(batch);
        }
        let lengths = decoded.iter().map(|b| b.num_rows());
        let offsets = OffsetBuffer::from_lengths(lengths);
        let rows = arrow::compute::concat_batches(&self.codec.output_schema(), &decoded)?;
        let values: ArrayRef = Arc::new(StructArray::from(rows));
        let list = ListArray::try_new(Arc::new(self.item()), offsets, values, None)?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}
