//! Training, encoding and decoding throughput of the paper's model, in rows per second.
//!
//! `BALER_BENCH_JETS` sets the number of generated jets (default 100 000; the README figures use
//! 600 000 through `benches/train_vs_pytorch.sh`, which also runs the same model in PyTorch).

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float32Array, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use baler_arrow::generate::{DEFAULT_SEED, generate, jet_schema};
use baler_arrow::model::{
    Autoencoder, ColumnStats, DEFAULT_HIDDEN, DEFAULT_NEGATIVE_SLOPE, TrainConfig, train,
};
use baler_arrow::progress::NoProgress;
use baler_udfs::codec::Codec;
use baler_udfs::format::{
    AeSpec, ColumnSpec, Footer, Header, LatentSpec, MethodSpec, ModelSpec, Storage,
    TrainingSummary, Transform, latent_name,
};
use baler_udfs::normalise::{Normalisation, Normaliser};
use candle_core::{Device, Module, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BATCH_ROWS: usize = 65_536;

fn jets() -> RecordBatch {
    let rows = std::env::var("BALER_BENCH_JETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let batches: Vec<_> = generate(rows, DEFAULT_SEED, BATCH_ROWS).collect();
    concat_batches(&jet_schema(), &batches).expect("same schema")
}

/// The model columns (all but `event`) as f64 columns, and their normaliser.
fn columns(batch: &RecordBatch) -> (Vec<Vec<f64>>, Normaliser) {
    let cols: Vec<Vec<f64>> = batch.columns()[1..]
        .iter()
        .map(|c| {
            let c = arrow::compute::cast(c, &DataType::Float64).expect("numeric");
            c.as_primitive::<Float64Type>().values().to_vec()
        })
        .collect();
    let ranges = cols.iter().map(|c| {
        let mut s = ColumnStats::default();
        s.update(c.iter().map(|v| Some(*v)));
        Normalisation {
            min: s.min,
            max: s.max,
            transform: Transform::Identity,
        }
    });
    let normaliser = Normaliser::new(ranges.collect::<Vec<_>>());
    (cols, normaliser)
}

fn spec(n: usize) -> ModelSpec {
    ModelSpec {
        outputs: n,
        hidden: DEFAULT_HIDDEN.to_vec(),
        latent: n.div_ceil(3),
        negative_slope: DEFAULT_NEGATIVE_SLOPE,
    }
}

fn codec(c: &mut Criterion) {
    let device = Device::Cpu;
    let batch = jets();
    let rows = batch.num_rows();
    let (cols, normaliser) = columns(&batch);
    let data = normaliser.normalise(&cols);
    let spec = spec(cols.len());
    let model = Autoencoder::new(&spec, DEFAULT_SEED, &device).expect("model");
    let one_epoch = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };

    let mut group = c.benchmark_group("codec");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(format!("train_epoch/{rows}"), |b| {
        b.iter(|| train(&model, data.clone(), &one_epoch, &device, &NoProgress).expect("trained"))
    });

    let x = Tensor::from_vec(data.clone(), (rows, spec.outputs), &device).expect("tensor");
    group.bench_function(format!("encode/{rows}"), |b| {
        b.iter(|| {
            model
                .encoder
                .forward(&x)
                .expect("encoded")
                .to_vec2::<f32>()
                .expect("values")
        })
    });

    let z = model
        .encoder
        .forward(&x)
        .expect("encoded")
        .to_vec2::<f32>()
        .expect("values");
    let latents = latent_batch(&z);
    let footer = Footer {
        header: header(&batch, &spec, &normaliser),
        weights: model.decoder_bytes().expect("serialised"),
    };
    let codec = Codec::try_new(&footer).expect("codec");
    let originals = batch
        .project(&(1..batch.num_columns()).collect::<Vec<_>>())
        .expect("columns");
    let blocks: Vec<Vec<u8>> = (0..rows)
        .step_by(BATCH_ROWS)
        .map(|start| {
            let n = BATCH_ROWS.min(rows - start);
            codec
                .encode_block(
                    &originals.slice(start, n),
                    latents.slice(start, n).columns(),
                )
                .expect("encoded")
                .bytes
        })
        .collect();
    group.bench_function(format!("decode/{rows}"), |b| {
        b.iter(|| {
            for block in &blocks {
                std::hint::black_box(codec.decode_block(block).expect("decoded"));
            }
        })
    });
    group.finish();
}

fn latent_batch(z: &[Vec<f32>]) -> RecordBatch {
    let k = z.first().map_or(0, Vec::len);
    let fields: Vec<_> = (0..k)
        .map(|j| Field::new(latent_name(j), DataType::Float32, false))
        .collect();
    let arrays: Vec<ArrayRef> = (0..k)
        .map(|j| Arc::new(Float32Array::from_iter_values(z.iter().map(|r| r[j]))) as ArrayRef)
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch")
}

fn header(batch: &RecordBatch, spec: &ModelSpec, normaliser: &Normaliser) -> Header {
    let columns = batch.schema().fields()[1..]
        .iter()
        .enumerate()
        .map(|(i, f)| ColumnSpec {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            storage: Storage::Decoded {
                index: i,
                min: normaliser.columns[i].min,
                max: normaliser.columns[i].max,
                transform: normaliser.columns[i].transform,
            },
            bound: None,
            split: None,
            grid: Default::default(),
        })
        .collect();
    Header {
        format: 3,
        tool: "bench".into(),
        columns,
        event: None,
        method: MethodSpec::Ae(AeSpec {
            latent: LatentSpec {
                columns: (0..spec.latent).map(latent_name).collect(),
                data_type: "Float32".into(),
                mantissa_bits: None,
            },
            model: spec.clone(),
            training: TrainingSummary {
                epochs: 0,
                final_loss: 0.0,
                seed: DEFAULT_SEED,
                device: "cpu".into(),
                rows: 0,
                learning_rate: 0.0,
                seconds: 0.0,
            },
        }),
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
