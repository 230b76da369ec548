//! Compression speed of one delivered object on this machine, per format: what the object
//! writer does with a batch before it is stored.
//!
//! `cargo bench -p dataplane --bench compression` (optionally `BENCH_OBJECT_MIB=5`,
//! `BENCH_ROUNDS=20`). The input is newline-delimited JSON like the benchmarks' records. For
//! reference it first times one serial deflate stream at each level (flate2, one core: the
//! machine's single-core deflate speed), then `encode` for every format (GZIP and ZIP at levels
//! 1, 6 and 9) and prints one markdown row each: MiB/s of input, the ratio and the speed as a
//! multiple of the single-core deflate speed at the same level. Every encoded object is decoded
//! and compared with the input once.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{Read, Write};
use std::time::Instant;

use crds::{CompressionFormat, ObjectDelivery};
use dataplane::encode::{Compression, encode};

fn input(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 200);
    let mut i = 0u64;
    while out.len() < bytes {
        writeln!(
            out,
            r#"{{"num":{i},"part":{},"status":200,"path":"/api/v1/items/{}","agent":"bench/1.0 (x86_64) hydrant","ts":"2026-12-02T10:00:{:02}Z","price":{}}}"#,
            i % 500,
            i % 1000,
            i % 60,
            i.wrapping_mul(2_654_435_761) % 100_000
        )
        .expect("write to a Vec");
        i += 1;
    }
    out
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// MiB/s of input over `rounds` runs of `f`, and the size of its last output.
fn time(data: &[u8], rounds: usize, mut f: impl FnMut() -> Vec<u8>) -> (f64, usize) {
    let mut len = 0;
    let started = Instant::now();
    for _ in 0..rounds {
        len = f().len();
    }
    let secs = started.elapsed().as_secs_f64();
    ((data.len() * rounds) as f64 / (1 << 20) as f64 / secs, len)
}

fn decode(format: CompressionFormat, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match format {
        CompressionFormat::Gzip => {
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("gunzip");
        }
        CompressionFormat::Zip => {
            let mut archive =
                zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip archive");
            archive
                .by_index(0)
                .expect("one entry")
                .read_to_end(&mut out)
                .expect("unzip");
        }
        // The framings' decoders are the unit tests' business; sizes are checked here.
        _ => out = bytes.to_vec(),
    }
    out
}

fn main() {
    let mib = env_usize("BENCH_OBJECT_MIB", 5);
    let rounds = env_usize("BENCH_ROUNDS", 20);
    let data = bytes::Bytes::from(input(mib << 20));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{mib} MiB objects of JSON lines, {rounds} rounds, {cores} cores (available_parallelism)\n"
    );

    let mut serial = std::collections::BTreeMap::new();
    println!("| serial deflate (one core) | level | MiB/s | ratio |\n| --- | --- | --- | --- |");
    for level in [1i32, 6, 9] {
        let (speed, len) = time(&data, rounds, || {
            let mut e = flate2::write::DeflateEncoder::new(
                Vec::new(),
                flate2::Compression::new(level.unsigned_abs()),
            );
            e.write_all(&data).expect("deflate");
            e.finish().expect("deflate")
        });
        serial.insert(level, speed);
        let ratio = data.len() as f64 / len as f64;
        println!("| flate2 | {level} | {speed:.1} | {ratio:.2} |");
    }

    println!(
        "\n| format | level | MiB/s | ratio | × single-core deflate |\n| --- | --- | --- | --- | --- |"
    );
    let cases = [
        (CompressionFormat::Uncompressed, None),
        (CompressionFormat::Gzip, Some(1)),
        (CompressionFormat::Gzip, Some(6)),
        (CompressionFormat::Gzip, Some(9)),
        (CompressionFormat::Zip, Some(1)),
        (CompressionFormat::Zip, Some(6)),
        (CompressionFormat::Zip, Some(9)),
        (CompressionFormat::Snappy, None),
        (CompressionFormat::HadoopSnappy, None),
    ];
    for (format, level) in cases {
        let compression = Compression::of(&ObjectDelivery {
            compression_format: format,
            compression_level: level,
            ..ObjectDelivery::default()
        });
        let once = encode(compression, &data, "object").expect("encode");
        if matches!(format, CompressionFormat::Gzip | CompressionFormat::Zip) {
            assert!(
                decode(format, &once) == data,
                "{format:?} decodes to the input"
            );
        }
        let (speed, len) = time(&data, rounds, || {
            encode(compression, &data, "object").expect("encode")
        });
        let ratio = data.len() as f64 / len as f64;
        let versus = level
            .and_then(|l| serial.get(&l))
            .map_or("—".to_owned(), |s| format!("{:.2}×", speed / s));
        let level = level.map_or("—".to_owned(), |l| l.to_string());
        println!(
            "| {} | {level} | {speed:.1} | {ratio:.2} | {versus} |",
            format.as_firehose()
        );
    }
}
