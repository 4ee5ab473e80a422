//! `baler_decode_<model>`: the scalar UDF that decodes every model column of a batch in one
//! forward pass and returns them as a struct.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{ArrayRef, StructArray};
use arrow::datatypes::{DataType, Fields};
use datafusion::common::{Result as DFResult, exec_datafusion_err};
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::codec::Codec;
use crate::format::Storage;

/// SQL name prefix of the decode functions; the model's id follows.
pub const DECODE_FUNCTION_PREFIX: &str = "baler_decode_";

/// Decodes the model inputs of one model into its decoded, predicted and constant columns.
///
/// Takes the model inputs (latents `baler_z0, …`, then residuals `baler_r_<column>`) as arguments and returns a struct with one
/// field per decoded or constant column, under its original name and type. One call runs the
/// decoder once for the whole batch.
#[derive(Debug)]
pub struct DecodeFunc {
    name: String,
    model_id: String,
    codec: Arc<Codec>,
    signature: Signature,
    fields: Fields,
    documentation: Documentation,
    forward_passes: AtomicU64,
}

impl DecodeFunc {
    /// The function for `codec`'s model; `model_id` (the decoder's SHA-256) names it.
    pub fn new(codec: Arc<Codec>, model_id: &str) -> Self {
        let header = codec.header();
        let inputs = header.model_inputs();
        let schema = codec.output_schema();
        let fields: Fields = header
            .columns
            .iter()
            .zip(schema.fields())
            .filter(|(c, _)| !matches!(c.storage, Storage::PassThrough))
            .map(|(_, f)| f.clone())
            .collect();
        let name = format!(
            "{DECODE_FUNCTION_PREFIX}{}",
            &model_id[..model_id.len().min(12)]
        );
        let args = inputs
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let documentation = Documentation::builder(
            DocSection {
                include: true,
                label: "baler",
                description: None,
            },
            "Decodes the stored model inputs of a baler-compressed file (latents, then residuals) into its original columns, one forward pass per batch.",
            format!("{name}({args})"),
        )
        .with_sql_example(format!("SELECT get_field({name}({args}), 'pt') FROM jets_stored"))
        .build();
        Self {
            signature: Signature::exact(
                inputs.into_iter().map(|(_, t)| t).collect(),
                Volatility::Immutable,
            ),
            name,
            model_id: model_id.to_owned(),
            codec,
            fields,
            documentation,
            forward_passes: AtomicU64::new(0),
        }
    }

    /// The struct fields the function returns.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// The codec it decodes with.
    pub fn codec(&self) -> &Arc<Codec> {
        &self.codec
    }

    /// How many times the decoder has run (once per batch decoded).
    pub fn forward_passes(&self) -> u64 {
        self.forward_passes.load(Ordering::Relaxed)
    }

    /// Decodes the model columns from the model inputs: the kernel behind the UDF and the
    /// compressed table.
    ///
    /// # Errors
    /// An execution error when an input has the wrong type or the decoder fails.
    pub fn decode(&self, latents: &[&ArrayRef]) -> DFResult<Vec<ArrayRef>> {
        self.forward_passes.fetch_add(1, Ordering::Relaxed);
        self.codec
            .decode_model_columns(latents)
            .map_err(|e| exec_datafusion_err!("{}: {e}", self.name))
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
        Ok(DataType::Struct(self.fields.clone()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let latents: Vec<&ArrayRef> = arrays.iter().collect();
        let columns = self.decode(&latents)?;
        Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(
            self.fields.clone(),
            columns,
            None,
        )?)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}
