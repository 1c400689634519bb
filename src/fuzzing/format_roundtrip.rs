//! Fuzz body `format_roundtrip`: every on-disk header decodes arbitrary bytes without
//! panicking, and encodes and decodes to itself.
//!
//! Input: the first 40 bytes (zero-padded) are fed to each decoder as they are; the
//! same bytes then supply the fields of one segment, message and blob header each,
//! and the rest of the input is the message payload and blob value.

use crate::log::format::{
    BlobHeader, MessageHeader, Nonce, Place, SEGMENT_HEADER_LEN, SegmentHeader, StoredKind,
};

const PLACE: Place<'static> = Place {
    file: "fuzz",
    offset: 0,
};

/// Runs one input. Panics if a header does not round-trip.
pub fn format_roundtrip(data: &[u8]) {
    let mut raw = [0_u8; SEGMENT_HEADER_LEN];
    let n = data.len().min(raw.len());
    raw[..n].copy_from_slice(&data[..n]);
    let rest = &data[n..];
    decode_anything(&raw, rest);
    let u64_at = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
    let nonce = Nonce(u32::from_le_bytes(raw[32..36].try_into().expect("4 bytes")));
    segment_roundtrip(u64_at(0), u64_at(8), u64_at(16), raw[24], nonce);
    message_roundtrip(raw[25], u64_at(8), u64_at(16), rest, nonce);
    blob_roundtrip(u64_at(0), rest, nonce);
}

/// Decoders on raw bytes: any outcome but a panic is fine.
fn decode_anything(raw: &[u8], rest: &[u8]) {
    let _ = SegmentHeader::decode(raw, PLACE);
    let max_len = rest.len() as u64;
    if let Ok(h) = MessageHeader::decode(raw, max_len, PLACE) {
        assert!(u64::from(h.len) <= max_len, "decoded length past its bound");
        let payload = &rest[..h.len as usize];
        let _ = h.check_payload(payload, Nonce(0), PLACE);
    }
    if let Ok(h) = BlobHeader::decode(raw, max_len + 32, Nonce(0), PLACE) {
        assert!(h.len <= max_len, "decoded blob length past the file");
        let _ = h.check_value(&rest[..h.len as usize], PLACE);
    }
}

fn segment_roundtrip(a: u64, b: u64, c: u64, log2: u8, nonce: Nonce) {
    // A valid header orders its lsns: stable <= previous end <= segment lsn.
    let mut lsns = [a, b, c];
    lsns.sort_unstable();
    let h = SegmentHeader {
        segment_lsn: lsns[2],
        stable_lsn: lsns[0],
        prev_end: lsns[1],
        size_log2: u16::from(8 + log2 % 23),
        nonce,
    };
    let back = SegmentHeader::decode(&h.encode(), PLACE).expect("own segment header");
    assert_eq!(back, h, "segment header round trip");
}

fn message_roundtrip(code: u8, pid: u64, lsn: u64, payload: &[u8], nonce: Nonce) {
    let kind = StoredKind::ALL[usize::from(code) % StoredKind::ALL.len()];
    let h = MessageHeader::new(kind, pid, lsn, payload, nonce).expect("small payload");
    let back = MessageHeader::decode(&h.encode(), payload.len() as u64, PLACE)
        .expect("own message header");
    assert_eq!(back, h, "message header round trip");
    back.check_payload(payload, nonce, PLACE)
        .expect("own payload checks");
    back.check_lsn(lsn, PLACE).expect("own lsn");
    // A Vouch's checksum is unseeded (format.rs): any run's nonce checks it.
    if !payload.is_empty() && kind != StoredKind::Vouch {
        let other = Nonce(nonce.0 ^ 1);
        assert!(
            back.check_payload(payload, other, PLACE).is_err(),
            "another run's nonce accepted"
        );
    }
}

fn blob_roundtrip(lsn: u64, value: &[u8], nonce: Nonce) {
    let h = BlobHeader::new(lsn, value, nonce);
    let file_len = 32 + value.len() as u64;
    let back = BlobHeader::decode(&h.encode(), file_len, nonce, PLACE).expect("own blob header");
    assert_eq!(back, h, "blob header round trip");
    back.check_value(value, PLACE).expect("own value checks");
}
