//! A bounded walk over a GGUF header, before anything trusts it. candle's
//! reader allocates whatever a header claims (a 48-byte file claiming a
//! 2^62-byte string aborts the process), so every length and count is
//! checked here against the bytes the file really has, with checked
//! arithmetic, and nothing is allocated beyond a short key.

use std::io::Read;

/// GGUF value types (gguf.md): 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32,
/// 6 f32, 7 bool, 8 string, 9 array, 10 u64, 11 i64, 12 f64.
fn scalar_size(kind: u32) -> Option<u64> {
    Some(match kind {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => return None,
    })
}

/// Most dimensions a tensor may have (ggml's GGML_MAX_DIMS).
const MAX_DIMS: u32 = 4;
/// Deepest nesting of arrays in arrays we accept.
const MAX_ARRAY_DEPTH: u32 = 3;

struct Scan<'a, R> {
    reader: &'a mut R,
    /// Bytes of the file not read yet.
    left: u64,
    /// Version 1 writes lengths and counts as u32, later versions as u64.
    wide: bool,
}

type Checked<T> = std::result::Result<T, String>;

impl<R: Read> Scan<'_, R> {
    fn take(&mut self, n: u64, what: &str) -> Checked<()> {
        if n > self.left {
            return Err(format!(
                "its header claims {n} bytes for {what}, but only {} are left in the file",
                self.left
            ));
        }
        std::io::copy(&mut (&mut *self.reader).take(n), &mut std::io::sink())
            .map_err(|e| format!("the header cannot be read: {e}"))?;
        self.left -= n;
        Ok(())
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Checked<[u8; N]> {
        if (N as u64) > self.left {
            return Err(format!("the file ends inside its header ({what})"));
        }
        let mut buf = [0u8; N];
        self.reader
            .read_exact(&mut buf)
            .map_err(|e| format!("the header cannot be read: {e}"))?;
        self.left -= N as u64;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Checked<u32> {
        Ok(u32::from_le_bytes(self.bytes::<4>(what)?))
    }

    fn u64(&mut self, what: &str) -> Checked<u64> {
        Ok(u64::from_le_bytes(self.bytes::<8>(what)?))
    }

    /// A length or count: u32 in version 1, u64 later.
    fn count(&mut self, what: &str) -> Checked<u64> {
        if self.wide {
            self.u64(what)
        } else {
            self.u32(what).map(u64::from)
        }
    }

    /// A count of items of at least `min_size` bytes each: it cannot
    /// exceed what the rest of the file could hold.
    fn item_count(&mut self, min_size: u64, what: &str) -> Checked<u64> {
        let n = self.count(what)?;
        if n.checked_mul(min_size)
            .is_none_or(|bytes| bytes > self.left)
        {
            return Err(format!(
                "its header claims {n} {what}, more than the file could hold"
            ));
        }
        Ok(n)
    }

    fn string(&mut self, what: &str) -> Checked<()> {
        let len = self.count(what)?;
        self.take(len, what)
    }

    fn value(&mut self, kind: u32, depth: u32) -> Checked<()> {
        if let Some(size) = scalar_size(kind) {
            return self.take(size, "a value");
        }
        match kind {
            8 => self.string("a string value"),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err("its header nests arrays too deeply".into());
                }
                let inner = self.u32("an array type")?;
                // The smallest element of that type (a string is at least
                // its length field).
                let min = match (scalar_size(inner), inner) {
                    (Some(size), _) => size,
                    (None, 8 | 9) => {
                        if self.wide {
                            8
                        } else {
                            4
                        }
                    }
                    _ => return Err(format!("its header has an unknown value type {inner}")),
                };
                let n = self.item_count(min, "array elements")?;
                match scalar_size(inner) {
                    Some(size) => self.take(n * size, "an array"),
                    None => (0..n).try_for_each(|_| self.value(inner, depth + 1)),
                }
            }
            other => Err(format!("its header has an unknown value type {other}")),
        }
    }
}

/// Walks the header of the GGUF file behind `reader` (`file_bytes` long):
/// magic, version, every key/value pair and every tensor description.
/// Errors are plain-words reasons ("its header claims …").
pub(crate) fn check_header<R: Read>(reader: &mut R, file_bytes: u64) -> Checked<()> {
    let mut scan = Scan {
        reader,
        left: file_bytes,
        wide: true,
    };
    if &scan.bytes::<4>("the magic number")? != b"GGUF" {
        return Err("it does not start with the GGUF magic number".into());
    }
    let version = scan.u32("the version")?;
    if !(1..=3).contains(&version) {
        return Err(format!(
            "it has GGUF version {version}, which we do not know"
        ));
    }
    scan.wide = version >= 2;
    let min_len = if scan.wide { 8 } else { 4 };
    // A tensor description is at least a name length, a dimension count,
    // a type and an offset.
    let tensors = scan.count("the tensor count")?;
    let kv_pairs = scan.item_count(min_len + 4, "metadata entries")?;
    for _ in 0..kv_pairs {
        scan.string("a metadata key")?;
        let kind = scan.u32("a value type")?;
        scan.value(kind, 0)?;
    }
    if tensors
        .checked_mul(min_len + 4 + 4 + 8)
        .is_none_or(|bytes| bytes > scan.left)
    {
        return Err(format!(
            "its header claims {tensors} tensors, more than the file could hold"
        ));
    }
    for _ in 0..tensors {
        scan.string("a tensor name")?;
        let dims = scan.u32("a tensor's dimension count")?;
        if dims > MAX_DIMS {
            return Err(format!(
                "a tensor claims {dims} dimensions (at most {MAX_DIMS})"
            ));
        }
        let mut elements: u64 = 1;
        for _ in 0..dims {
            let d = scan.count("a tensor dimension")?;
            elements = elements
                .checked_mul(d)
                .ok_or_else(|| "a tensor's size overflows".to_string())?;
        }
        if elements > file_bytes.saturating_mul(2) {
            // No ggml type stores more than two elements per byte.
            return Err(format!(
                "a tensor claims {elements} elements, more than the file could hold"
            ));
        }
        scan.u32("a tensor type")?;
        scan.u64("a tensor offset")?;
    }
    Ok(())
}

/// The crafted headers of the reliability review (each once aborted or
/// panicked the process), for the tests here and in `gguf_info`.
#[cfg(test)]
pub(crate) mod crafted {
    /// A version-`version` header: magic, version, tensor and entry counts.
    pub(crate) fn header(version: u32, tensors: u64, kvs: u64) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(version.to_le_bytes());
        b.extend(tensors.to_le_bytes());
        b.extend(kvs.to_le_bytes());
        b
    }

    /// 48 bytes whose one key claims 2^62 bytes.
    pub(crate) fn huge_string() -> Vec<u8> {
        let mut b = header(3, 0, 1);
        b.extend((1u64 << 62).to_le_bytes());
        b.resize(48, 0);
        b
    }

    /// A key length of u64::MAX ("capacity overflow" before).
    pub(crate) fn max_key() -> Vec<u8> {
        let mut b = header(3, 0, 1);
        b.extend(u64::MAX.to_le_bytes());
        b
    }

    /// 84 bytes whose one value claims a 2^40-element u32 array.
    pub(crate) fn huge_array() -> Vec<u8> {
        let mut b = header(3, 0, 1);
        b.extend(1u64.to_le_bytes());
        b.push(b'k');
        b.extend(9u32.to_le_bytes());
        b.extend(4u32.to_le_bytes());
        b.extend((1u64 << 40).to_le_bytes());
        b.resize(84, 0);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::check_header;
    use super::crafted::{header, huge_array, huge_string, max_key};

    fn check(bytes: &[u8]) -> Result<(), String> {
        check_header(&mut std::io::Cursor::new(bytes), bytes.len() as u64)
    }

    #[test]
    fn a_small_valid_header_passes() {
        let mut b = header(3, 1, 1);
        b.extend(4u64.to_le_bytes());
        b.extend(b"name");
        b.extend(8u32.to_le_bytes()); // string
        b.extend(3u64.to_le_bytes());
        b.extend(b"abc");
        b.extend(1u64.to_le_bytes());
        b.extend(b"w");
        b.extend(2u32.to_le_bytes());
        b.extend(4u64.to_le_bytes());
        b.extend(4u64.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        check(&b).expect("valid header");
    }

    #[test]
    fn claims_beyond_the_file_are_refused() {
        assert!(check(&huge_string()).unwrap_err().contains("claims"));
        assert!(check(&max_key()).is_err());
        assert!(check(&huge_array())
            .unwrap_err()
            .contains("more than the file could hold"));
        // 2^60 metadata entries or tensors.
        assert!(check(&header(3, 0, 1 << 60)).is_err());
        assert!(check(&header(3, 1 << 60, 0)).is_err());
    }

    #[test]
    fn wrong_magic_and_versions_are_refused() {
        assert!(check(b"GGML\x03\0\0\0").unwrap_err().contains("magic"));
        assert!(check(&header(9, 0, 0)).unwrap_err().contains("version 9"));
        assert!(check(b"GG").is_err());
    }
}
