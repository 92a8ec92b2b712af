//! A framing check for MessagePack plaintext, run before serde sees it.
//!
//! rmp-serde's slice deserializer does not say how many bytes it consumed, so it cannot reject
//! trailing bytes by itself; its nesting limit (1024) is deeper than a service thread's stack
//! should be asked to recurse, and it does not count enum nesting at all (a recursive enum
//! nested a few thousand deep would overflow the stack). Serde sizes allocations from length
//! prefixes (capped, but per level). [`single_value_len`] walks the markers without recursion and
//! without allocating, and returns the length of the first value, refusing nesting deeper than
//! [`MAX_DEPTH`] and any length prefix that runs past the end of the input.

/// The deepest nesting of arrays and maps a payload may have.
pub(crate) const MAX_DEPTH: usize = 128;
/// Nesting levels tracked without allocating.
const INLINE_DEPTH: usize = 16;

/// Why a plaintext is not exactly one well-framed MessagePack value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Input ended inside a value, or a length prefix runs past the end.
    Truncated,
    /// The reserved marker 0xc1.
    Reserved,
    /// Arrays and maps nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// The length in bytes of the first MessagePack value in `input`.
pub(crate) fn single_value_len(input: &[u8]) -> Result<usize, FrameError> {
    // `remaining` counts the values still to read in the innermost open container (at first,
    // the single top-level value); `parents[d]` keeps that count for the container at depth
    // `d` while a deeper one is read.
    // The first INLINE_DEPTH levels live on the stack (a struct payload needs one or two); the
    // rest spill to a Vec of at most MAX_DEPTH - INLINE_DEPTH entries. Zeroing a full
    // MAX_DEPTH array on every call cost more than walking a session-sized payload.
    let mut parents = [0u64; INLINE_DEPTH];
    let mut spilled: Vec<u64> = Vec::new();
    let mut depth = 0usize;
    let mut remaining = 1u64;
    let mut cur = Cursor { input, pos: 0 };
    loop {
        while remaining == 0 {
            if depth == 0 {
                return Ok(cur.pos);
            }
            depth -= 1;
            remaining = match parents.get(depth) {
                Some(&r) => r,
                // depth >= INLINE_DEPTH: one entry was spilled for each such level.
                None => spilled.pop().ok_or(FrameError::TooDeep)?,
            };
        }
        remaining -= 1;
        let marker = cur.byte()?;
        // Fast paths for what structs are made of: small integers and short strings.
        if !(0x80..0xe0).contains(&marker) {
            continue;
        }
        if marker & 0xe0 == 0xa0 {
            cur.skip(u64::from(marker & 0x1f))?;
            continue;
        }
        let children: u64 = match marker {
            // positive fixint, nil, false, true, negative fixint
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => 0,
            0x80..=0x8f => 2 * u64::from(marker & 0x0f),
            0x90..=0x9f => u64::from(marker & 0x0f),
            0xa0..=0xbf => cur.skip(u64::from(marker & 0x1f))?,
            0xc1 => return Err(FrameError::Reserved),
            // bin 8/16/32 and str 8/16/32: length, data
            0xc4 | 0xd9 => cur.read(1).and_then(|n| cur.skip(n))?,
            0xc5 | 0xda => cur.read(2).and_then(|n| cur.skip(n))?,
            0xc6 | 0xdb => cur.read(4).and_then(|n| cur.skip(n))?,
            // ext 8/16/32: length, type byte, data
            0xc7 => cur.read(1).and_then(|n| cur.skip(n + 1))?,
            0xc8 => cur.read(2).and_then(|n| cur.skip(n + 1))?,
            0xc9 => cur.read(4).and_then(|n| cur.skip(n + 1))?,
            // float 32/64, uint 8..64, int 8..64
            0xca | 0xce | 0xd2 => cur.skip(4)?,
            0xcb | 0xcf | 0xd3 => cur.skip(8)?,
            0xcc | 0xd0 => cur.skip(1)?,
            0xcd | 0xd1 => cur.skip(2)?,
            // fixext 1/2/4/8/16: type byte, data
            0xd4 => cur.skip(2)?,
            0xd5 => cur.skip(3)?,
            0xd6 => cur.skip(5)?,
            0xd7 => cur.skip(9)?,
            0xd8 => cur.skip(17)?,
            // array 16/32, map 16/32: count of elements or of key-value pairs
            0xdc => cur.read(2)?,
            0xdd => cur.read(4)?,
            0xde => 2 * cur.read(2)?,
            0xdf => 2 * cur.read(4)?,
        };
        if children > 0 {
            // Every value takes at least one byte: refuse counts the input cannot hold before
            // anything downstream sizes an allocation by them.
            if children > (input.len() - cur.pos) as u64 {
                return Err(FrameError::Truncated);
            }
            if depth == MAX_DEPTH {
                return Err(FrameError::TooDeep);
            }
            match parents.get_mut(depth) {
                Some(slot) => *slot = remaining,
                None => spilled.push(remaining),
            }
            depth += 1;
            remaining = children;
        }
    }
}

struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, FrameError> {
        let b = *self.input.get(self.pos).ok_or(FrameError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads a big-endian unsigned integer of `width` bytes (at most 8).
    fn read(&mut self, width: usize) -> Result<u64, FrameError> {
        let end = self.pos + width;
        let bytes = self.input.get(self.pos..end).ok_or(FrameError::Truncated)?;
        self.pos = end;
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Skips `n` bytes; always returns `Ok(0)` (no child values) when they are there.
    fn skip(&mut self, n: u64) -> Result<u64, FrameError> {
        let remaining = (self.input.len() - self.pos) as u64;
        if n > remaining {
            return Err(FrameError::Truncated);
        }
        // n <= remaining, which is a usize.
        self.pos += n as usize;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named<T: serde::Serialize + ?Sized>(v: &T) -> Vec<u8> {
        rmp_serde::to_vec_named(v).unwrap()
    }

    #[test]
    fn lengths_of_real_values() {
        let values = vec![
            named(&0u8),
            named(&-1i64),
            named(&u64::MAX),
            named(&i64::MIN),
            named(&1.5f32),
            named(&1.5f64),
            named("x".repeat(40).as_str()),
            named("x".repeat(300).as_str()),
            named("x".repeat(70_000).as_str()),
            named(&serde_bytes_like(5)),
            named(&vec![1u32; 20]),
            named(&vec![vec![true]; 3]),
            named(&std::collections::BTreeMap::from([(1u8, "a"), (2, "b")])),
            named(
                &(0..20)
                    .map(|i| (i, i))
                    .collect::<std::collections::BTreeMap<u32, u32>>(),
            ),
            named(&Option::<u8>::None),
        ];
        for v in values {
            assert_eq!(single_value_len(&v), Ok(v.len()));
            let mut trailing = v.clone();
            trailing.push(0);
            assert_eq!(single_value_len(&trailing), Ok(v.len()));
            assert_eq!(
                single_value_len(&v[..v.len() - 1]),
                Err(FrameError::Truncated)
            );
        }
    }

    fn serde_bytes_like(n: usize) -> rmpv_bin::Bin {
        rmpv_bin::Bin(vec![7; n])
    }

    mod rmpv_bin {
        pub struct Bin(pub Vec<u8>);
        impl serde::Serialize for Bin {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn ext_values() {
        // fixext 1 (type 5, data 0x2a), ext 8 of length 3
        assert_eq!(single_value_len(&[0xd4, 5, 0x2a]), Ok(3));
        assert_eq!(single_value_len(&[0xc7, 3, 5, 1, 2, 3]), Ok(6));
        assert_eq!(
            single_value_len(&[0xc7, 3, 5, 1, 2]),
            Err(FrameError::Truncated)
        );
    }

    #[test]
    fn depth_limit() {
        let mut ok = vec![0x91; MAX_DEPTH];
        ok.push(0xc0);
        assert_eq!(single_value_len(&ok), Ok(ok.len()));
        let mut deep = vec![0x91; MAX_DEPTH + 1];
        deep.push(0xc0);
        assert_eq!(single_value_len(&deep), Err(FrameError::TooDeep));
    }

    #[test]
    fn siblings_across_spilled_levels() {
        // 40 levels, past the inline ones: level d is an array of 2 or 3 values (the nested
        // array first, then 1 or 2 fixints), so each level's count must come back right when
        // its child closes. One trailing byte must not be counted.
        let levels = 40;
        let mut value: Vec<u8> = (0..levels).map(|d| 0x92 + (d % 2) as u8).collect();
        value.push(0xc0);
        for d in (0..levels).rev() {
            value.extend(std::iter::repeat_n(0x07, 1 + d % 2));
        }
        assert_eq!(value, named(&nested(levels)));
        let len = value.len();
        value.push(0x00);
        assert_eq!(single_value_len(&value), Ok(len));
        // One sibling fewer at the deepest spilled level: the input ends early.
        let mut short = named(&nested(levels));
        short.remove(levels + 1);
        assert_eq!(single_value_len(&short), Err(FrameError::Truncated));
    }

    /// Arrays nested `levels` deep, level d holding the next level then 1 + d % 2 sevens.
    fn nested(levels: usize) -> serde_json::Value {
        let mut v = serde_json::Value::Null;
        for d in (0..levels).rev() {
            let mut items = vec![v];
            items.extend(std::iter::repeat_n(serde_json::Value::from(7), 1 + d % 2));
            v = serde_json::Value::Array(items);
        }
        v
    }

    #[test]
    fn hostile_prefixes() {
        assert_eq!(single_value_len(&[]), Err(FrameError::Truncated));
        assert_eq!(single_value_len(&[0xc1]), Err(FrameError::Reserved));
        assert_eq!(
            single_value_len(&[0xdb, 0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::Truncated)
        );
        assert_eq!(
            single_value_len(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]),
            Err(FrameError::Truncated)
        );
        assert_eq!(
            single_value_len(&[0xdf, 0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::Truncated)
        );
        assert_eq!(single_value_len(&[0xcf, 1, 2]), Err(FrameError::Truncated));
    }
}
