//! crc-fast's interface, narrowed to the three CRCs that S3's checksums use, each computed by a
//! crate that knows only that CRC.
//!
//! Why it exists: `aws-sdk-s3` computes and checks object checksums with `aws-smithy-checksums`,
//! which computes its CRCs with crates.io's `crc-fast` 1.10. That crate picks its software lookup
//! table by a value known only at run time, so the linker cannot leave any out: the `worker`
//! binary carried 49 tables of 16×256 entries, 0.66 MB, and 45 KB of crc-fast's code
//! (`nm -S --size-sort` on an unstripped build), near-random data that zip cannot shrink. The
//! workspace substitutes this crate for it (`[patch.crates-io]` in the root Cargo.toml), which
//! links two tables of its own (32 KB for CRC-64/NVME, 16 KB for CRC-32C): the worker's package
//! went from 4.17 to 3.62 MB zipped, its binary from 8.73 to 8.05 MB (README, "Packaging").
//!
//! It offers exactly what `aws-smithy-checksums` 0.65 calls — [`Digest::new`],
//! [`Digest::update`], [`Digest::finalize`] and [`checksum`] — with crc-fast's semantics: a 32-bit
//! CRC comes back in the low half of a `u64`, and `finalize` neither consumes nor resets the
//! digest. [`CrcAlgorithm`] names only the three CRCs computed here, so a dependency that asks
//! for another one, or a release of the SDK that calls more of crc-fast, fails to compile
//! instead of computing something else at run time.
//!
//! The work is done by crates.io crates:
//!
//! - CRC-32/ISO-HDLC by `crc32fast` (carry-less multiplication on x86_64, the CRC instructions on
//!   aarch64), which the SDK's event streams and the PNG decoder link anyway;
//! - CRC-32/ISCSI by `crc32c` (SSE 4.2 or the aarch64 CRC instructions);
//! - CRC-64/NVME by `crc`, table-driven (slice-by-16, one 32 KB table built at compile time): the
//!   one SIMD crate for it, crc64fast-nvme, is archived in favour of crc-fast itself. It runs at
//!   2.4 GB/s where crc-fast's carry-less multiplication ran about 30 on the same machine, 2 ms
//!   for the largest upload the worker reads (5 MiB; `cargo bench -p crc-fast`), which S3 stores
//!   with a CRC-64/NVME when the client sends none.

use std::fmt;

/// The CRCs this crate computes: the ones S3 calls `crc32`, `crc32c` and `crc64nvme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrcAlgorithm {
    /// CRC-32/ISO-HDLC, the CRC-32 of zlib, PNG and Ethernet.
    Crc32IsoHdlc,
    /// CRC-32/ISCSI, Castagnoli's CRC-32C.
    Crc32Iscsi,
    /// CRC-64/NVME (the Linux kernel's CRC-64/Rocksoft).
    Crc64Nvme,
}

/// CRC-64/NVME's parameters and slice-by-16 table, computed by the compiler: `crc::Crc::new` is a
/// `const fn`.
static CRC_64_NVME: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_NVME);

/// A CRC being computed over data that arrives in pieces.
#[derive(Clone)]
pub struct Digest {
    state: State,
}

#[derive(Clone)]
enum State {
    Crc32IsoHdlc(crc32fast::Hasher),
    /// The CRC of the data so far, as `crc32c::crc32c_append` takes and returns it.
    Crc32Iscsi(u32),
    Crc64Nvme(crc::Digest<'static, u64, crc::Table<16>>),
}

impl Digest {
    /// A digest of no data yet.
    pub fn new(algorithm: CrcAlgorithm) -> Self {
        let state = match algorithm {
            CrcAlgorithm::Crc32IsoHdlc => State::Crc32IsoHdlc(crc32fast::Hasher::new()),
            CrcAlgorithm::Crc32Iscsi => State::Crc32Iscsi(0),
            CrcAlgorithm::Crc64Nvme => State::Crc64Nvme(CRC_64_NVME.digest()),
        };
        Self { state }
    }

    /// Adds `data` after what the digest has seen.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32IsoHdlc(hasher) => hasher.update(data),
            State::Crc32Iscsi(crc) => *crc = crc32c::crc32c_append(*crc, data),
            State::Crc64Nvme(digest) => digest.update(data),
        }
    }

    /// The CRC of everything seen so far; the digest carries on, as crc-fast's does.
    pub fn finalize(&self) -> u64 {
        match &self.state {
            State::Crc32IsoHdlc(hasher) => u64::from(hasher.clone().finalize()),
            State::Crc32Iscsi(crc) => u64::from(*crc),
            State::Crc64Nvme(digest) => digest.clone().finalize(),
        }
    }

    /// Which CRC this digest computes.
    fn algorithm(&self) -> CrcAlgorithm {
        match self.state {
            State::Crc32IsoHdlc(_) => CrcAlgorithm::Crc32IsoHdlc,
            State::Crc32Iscsi(_) => CrcAlgorithm::Crc32Iscsi,
            State::Crc64Nvme(_) => CrcAlgorithm::Crc64Nvme,
        }
    }
}

// By hand: `crc::Digest` has no `Debug`, and the running value says nothing useful.
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digest")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

/// The CRC of `data` in one call.
pub fn checksum(algorithm: CrcAlgorithm, data: &[u8]) -> u64 {
    match algorithm {
        CrcAlgorithm::Crc32IsoHdlc => u64::from(crc32fast::hash(data)),
        CrcAlgorithm::Crc32Iscsi => u64::from(crc32c::crc32c(data)),
        CrcAlgorithm::Crc64Nvme => CRC_64_NVME.checksum(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CrcAlgorithm; 3] = [
        CrcAlgorithm::Crc32IsoHdlc,
        CrcAlgorithm::Crc32Iscsi,
        CrcAlgorithm::Crc64Nvme,
    ];

    /// The CRC of `data` bit by bit, from the definition: all three CRCs are reflected, start
    /// from all ones and end XORed with all ones; `poly` is the reflected polynomial.
    fn by_definition(algorithm: CrcAlgorithm, data: &[u8]) -> u64 {
        let (poly, ones): (u64, u64) = match algorithm {
            CrcAlgorithm::Crc32IsoHdlc => (0xEDB8_8320, 0xFFFF_FFFF),
            CrcAlgorithm::Crc32Iscsi => (0x82F6_3B78, 0xFFFF_FFFF),
            CrcAlgorithm::Crc64Nvme => (0x9A6C_9329_AC4B_C9B5, u64::MAX),
        };
        let mut crc = ones;
        for &byte in data {
            crc ^= u64::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ poly
                } else {
                    crc >> 1
                };
            }
        }
        crc ^ ones
    }

    /// Deterministic bytes that are not a pattern a CRC would be kind to.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    #[test]
    fn each_crc_gives_its_catalogued_check_value() {
        let check = b"123456789";
        assert_eq!(checksum(CrcAlgorithm::Crc32IsoHdlc, check), 0xCBF4_3926);
        assert_eq!(checksum(CrcAlgorithm::Crc32Iscsi, check), 0xE306_9283);
        assert_eq!(
            checksum(CrcAlgorithm::Crc64Nvme, check),
            0xAE8B_1486_0A79_9888
        );
        for algorithm in ALL {
            let mut digest = Digest::new(algorithm);
            digest.update(check);
            assert_eq!(
                digest.finalize(),
                checksum(algorithm, check),
                "{algorithm:?}"
            );
            assert_eq!(by_definition(algorithm, check), checksum(algorithm, check));
        }
    }

    #[test]
    fn the_sdk_s_own_figures_for_its_test_data_come_out() {
        // aws-smithy-checksums' unit tests expect these for "test data".
        let data = b"test data";
        assert_eq!(checksum(CrcAlgorithm::Crc32IsoHdlc, data), 0xD308_AEB2);
        assert_eq!(checksum(CrcAlgorithm::Crc32Iscsi, data), 0x3379_B4CA);
        assert_eq!(
            checksum(CrcAlgorithm::Crc64Nvme, data),
            0xAECA_F3AF_9C98_A855
        );
    }

    #[test]
    fn no_data_has_a_crc_of_zero_and_an_empty_update_changes_nothing() {
        for algorithm in ALL {
            assert_eq!(checksum(algorithm, b""), 0, "{algorithm:?}");
            let mut digest = Digest::new(algorithm);
            assert_eq!(digest.finalize(), 0, "{algorithm:?}");
            digest.update(b"");
            assert_eq!(digest.finalize(), 0, "{algorithm:?}");
            digest.update(b"123456789");
            digest.update(b"");
            assert_eq!(digest.finalize(), checksum(algorithm, b"123456789"));
        }
    }

    #[test]
    fn every_length_agrees_with_the_definition() {
        // Past the SIMD paths' block sizes (16 to 256 bytes and their tails) and the table's 16.
        let data = noise(1100);
        for algorithm in ALL {
            for len in 0..=data.len() {
                let data = &data[..len];
                assert_eq!(
                    checksum(algorithm, data),
                    by_definition(algorithm, data),
                    "{algorithm:?} over {len} bytes"
                );
            }
        }
    }

    #[test]
    fn updates_in_pieces_give_the_crc_of_the_whole() {
        let data = noise(70_000);
        for algorithm in ALL {
            let whole = checksum(algorithm, &data);
            for piece in [1, 3, 8, 15, 64, 255, 4096, 65_537] {
                let mut digest = Digest::new(algorithm);
                for chunk in data.chunks(piece) {
                    digest.update(chunk);
                }
                assert_eq!(
                    digest.finalize(),
                    whole,
                    "{algorithm:?} in pieces of {piece}"
                );
            }
            for split in [1, 17, 1000, 69_999] {
                let (head, tail) = data.split_at(split);
                let mut digest = Digest::new(algorithm);
                digest.update(head);
                digest.update(tail);
                assert_eq!(digest.finalize(), whole, "{algorithm:?} split at {split}");
            }
        }
    }

    #[test]
    fn finalize_leaves_the_digest_running() {
        for algorithm in ALL {
            let mut digest = Digest::new(algorithm);
            digest.update(b"12345");
            assert_eq!(digest.finalize(), checksum(algorithm, b"12345"));
            assert_eq!(digest.finalize(), checksum(algorithm, b"12345"));
            digest.update(b"6789");
            assert_eq!(digest.finalize(), checksum(algorithm, b"123456789"));
            assert_eq!(digest.algorithm(), algorithm);
        }
    }

    #[test]
    fn a_digest_names_its_crc_when_printed() {
        let digest = Digest::new(CrcAlgorithm::Crc64Nvme);
        assert_eq!(format!("{digest:?}"), "Digest { algorithm: Crc64Nvme, .. }");
    }
}
