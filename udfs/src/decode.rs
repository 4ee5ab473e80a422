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

/// Decodes the latent columns of one model into its decoded and constant columns.
///
/// Takes the latent columns (`baler_z0, …`, Float32) as arguments and returns a struct with one
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
        let k = header.model.latent;
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
        let latents = header.latent.columns.join(", ");
        let documentation = Documentation::builder(
            DocSection {
                include: true,
                label: "baler",
                description: None,
            },
            "Decodes the latent columns of a baler-compressed file into its original columns, one forward pass per batch.",
            format!("{name}({latents})"),
        )
        .with_sql_example(format!("SELECT get_field({name}({latents}), 'pt') FROM jets_stored"))
        .build();
        Self {
            signature: Signature::exact(vec![DataType::Float32; k], Volatility::Immutable),
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

    /// Decodes the model columns from the latent columns: the kernel behind the UDF and the
    /// compressed table.
    ///
    /// # Errors
    /// An execution error when the latents are not Float32 or the decoder fails.
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
