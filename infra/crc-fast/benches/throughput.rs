//! Each CRC's throughput over the largest upload the worker reads (5 MiB), best of N runs:
//! `cargo bench -p crc-fast [-- N]`.

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use crc_fast::{CrcAlgorithm, Digest};

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(20);
    let data: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for algorithm in [
        CrcAlgorithm::Crc32IsoHdlc,
        CrcAlgorithm::Crc32Iscsi,
        CrcAlgorithm::Crc64Nvme,
    ] {
        let best = (0..runs)
            .map(|_| {
                let start = Instant::now();
                let mut digest = Digest::new(algorithm);
                digest.update(black_box(&data));
                black_box(digest.finalize());
                start.elapsed()
            })
            .min()
            .unwrap_or(Duration::ZERO);
        println!(
            "{algorithm:?}: {:.1} GB/s, 5 MiB in {:.2} ms (best of {runs})",
            data.len() as f64 / best.as_secs_f64() / 1e9,
            best.as_secs_f64() * 1e3
        );
    }
}
