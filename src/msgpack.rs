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
        // Fast paths for what structs are made of: small integers (positive and negative
        // fixint, one byte each) and short strings (fixstr).
        if !(0x80..0xe0).contains(&marker) {
            continue;
        }
        if marker & 0xe0 == 0xa0 {
            cur.skip(u64::from(marker & 0x1f))?;
            continue;
        }
        let children: u64 = match marker {
            // nil, false, true: one byte. Fixint and fixstr (0x00..=0x7f, 0xa0..=0xbf,
            // 0xe0..=0xff) were taken by the fast paths above and never get here; they are
            // in this arm only to make the match exhaustive without a second, unreachable copy
            // of the fixstr skip.
            0x00..=0x7f | 0xa0..=0xbf | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => 0,
            0x80..=0x8f => 2 * u64::from(marker & 0x0f),
            0x90..=0x9f => u64::from(marker & 0x0f),
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
        let mut be = [0u8; 8];
        be[8 - width..].copy_from_slice(bytes);
        Ok(u64::from_be_bytes(be))
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

/// Whether some map in `input`, one value that [`single_value_len`] accepted, has two keys
/// with the same bytes (SPEC.md section 3.1: keys MUST be distinct). An encoder writes every
/// key in the canonical form, so equal bytes are equal keys. Recursive, at most
/// [`MAX_DEPTH`] deep (the framing check ran first); a map's keys are compared sorted, without
/// an allocation for a map of at most 16 entries.
pub(crate) fn has_repeated_key(input: &[u8]) -> bool {
    const INLINE_KEYS: usize = 16;
    fn walk(input: &[u8], pos: usize) -> Option<(usize, bool)> {
        let marker = *input.get(pos)?;
        let (count, start, is_map) = match marker {
            0x80..=0x8f => (usize::from(marker & 0x0f), pos + 1, true),
            0x90..=0x9f => (usize::from(marker & 0x0f), pos + 1, false),
            0xdc => (be(input, pos + 1, 2)?, pos + 3, false),
            0xdd => (be(input, pos + 1, 4)?, pos + 5, false),
            0xde => (be(input, pos + 1, 2)?, pos + 3, true),
            0xdf => (be(input, pos + 1, 4)?, pos + 5, true),
            _ => return Some((pos + single_value_len(input.get(pos..)?).ok()?, false)),
        };
        let mut at = start;
        if !is_map {
            for _ in 0..count {
                let (end, repeated) = walk(input, at)?;
                if repeated {
                    return Some((end, true));
                }
                at = end;
            }
            return Some((at, false));
        }
        // The keys of a map of up to INLINE_KEYS entries (a struct, most maps) are kept on the
        // stack: `dumps` of a typical payload allocates nothing here (tests/alloc.rs).
        let mut inline: [&[u8]; INLINE_KEYS] = [&[]; INLINE_KEYS];
        let mut spilled: Vec<&[u8]> = Vec::new();
        let mut kept = 0;
        for _ in 0..count {
            let (key_end, repeated) = walk(input, at)?;
            if repeated {
                return Some((key_end, true));
            }
            let key = input.get(at..key_end)?;
            if count <= INLINE_KEYS {
                inline[kept] = key;
                kept += 1;
            } else {
                spilled.push(key);
            }
            let (value_end, repeated) = walk(input, key_end)?;
            if repeated {
                return Some((value_end, true));
            }
            at = value_end;
        }
        let keys = if count <= INLINE_KEYS {
            &mut inline[..kept]
        } else {
            &mut spilled[..]
        };
        keys.sort_unstable();
        Some((at, keys.windows(2).any(|pair| pair[0] == pair[1])))
    }

    fn be(input: &[u8], pos: usize, width: usize) -> Option<usize> {
        let bytes = input.get(pos..pos + width)?;
        Some(bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)))
    }

    // A plaintext that is not one well-framed value never gets here; if it did, it is no
    // payload to make, so it counts as refused.
    walk(input, 0).is_none_or(|(_, repeated)| repeated)
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

    /// Property tests: arbitrary valid MessagePack values, written with `rmp` in every marker
    /// family (including non-shortest forms), framed exactly.
    mod props {
        use super::super::*;
        use proptest::collection::vec;
        use proptest::prelude::*;
        use rmp::encode as enc;
        use rmp::Marker;

        /// Which form a length-prefixed value is written in: the shortest (rmp chooses, fix
        /// forms included), or a forced 8/16/32-bit length (for a short value: non-shortest).
        #[derive(Debug, Clone, Copy)]
        enum Form {
            Shortest,
            W8,
            W16,
            W32,
        }

        #[derive(Debug, Clone)]
        enum V {
            Nil,
            Bool(bool),
            PosFix(u8),
            NegFix(i8),
            U8(u8),
            U16(u16),
            U32(u32),
            U64(u64),
            I8(i8),
            I16(i16),
            I32(i32),
            I64(i64),
            F32(f32),
            F64(f64),
            Str(Form, Vec<u8>),
            Bin(Form, Vec<u8>),
            Ext(Form, i8, Vec<u8>),
            Array(Form, Vec<V>),
            Map(Form, Vec<(V, V)>),
        }

        /// A length or count field of an encoding, and where the value it belongs to ends.
        #[derive(Debug)]
        struct Field {
            /// Offset of the field; for fix forms, of the marker that holds it.
            at: usize,
            /// Big-endian width in bytes; 0 when the field is the marker's low bits.
            width: usize,
            /// For fix forms: the largest marker of the same family.
            fix_max: u8,
            /// A count of child values (array elements, map pairs), not a byte length.
            is_count: bool,
            /// Offset just past the value.
            end: usize,
        }

        /// Writes a marker and a big-endian length of `width` bytes; returns the length's offset.
        fn forced(out: &mut Vec<u8>, marker: Marker, width: usize, n: usize) -> usize {
            out.push(marker.to_u8());
            let at = out.len();
            out.extend_from_slice(&(n as u64).to_be_bytes()[8 - width..]);
            at
        }

        /// Where the length field of a value that starts at `start` with `marker` is.
        fn field_of(marker: Marker, start: usize, is_count: bool) -> Field {
            let (at, width, fix_max) = match marker {
                Marker::FixStr(_) => (start, 0, 0xbf),
                Marker::FixArray(_) => (start, 0, 0x9f),
                Marker::FixMap(_) => (start, 0, 0x8f),
                Marker::FixExt1 | Marker::FixExt2 | Marker::FixExt4 | Marker::FixExt8 => {
                    (start, 0, 0xd8)
                }
                Marker::FixExt16 => (start, 0, 0xd8),
                Marker::Str8 | Marker::Bin8 | Marker::Ext8 => (start + 1, 1, 0),
                Marker::Str16 | Marker::Bin16 | Marker::Ext16 => (start + 1, 2, 0),
                Marker::Array16 | Marker::Map16 => (start + 1, 2, 0),
                _ => (start + 1, 4, 0),
            };
            Field {
                at,
                width,
                fix_max,
                is_count,
                end: 0,
            }
        }

        fn encode(v: &V, out: &mut Vec<u8>, fields: &mut Vec<Field>) {
            let start = out.len();
            let mut field = None;
            match v {
                V::Nil => enc::write_nil(out).unwrap(),
                V::Bool(b) => enc::write_bool(out, *b).unwrap(),
                V::PosFix(n) => enc::write_pfix(out, *n).unwrap(),
                V::NegFix(n) => enc::write_nfix(out, *n).unwrap(),
                V::U8(n) => enc::write_u8(out, *n).unwrap(),
                V::U16(n) => enc::write_u16(out, *n).unwrap(),
                V::U32(n) => enc::write_u32(out, *n).unwrap(),
                V::U64(n) => enc::write_u64(out, *n).unwrap(),
                V::I8(n) => enc::write_i8(out, *n).unwrap(),
                V::I16(n) => enc::write_i16(out, *n).unwrap(),
                V::I32(n) => enc::write_i32(out, *n).unwrap(),
                V::I64(n) => enc::write_i64(out, *n).unwrap(),
                V::F32(x) => enc::write_f32(out, *x).unwrap(),
                V::F64(x) => enc::write_f64(out, *x).unwrap(),
                V::Str(form, data) | V::Bin(form, data) => {
                    let str = matches!(v, V::Str(..));
                    let n = data.len();
                    let marker = match form {
                        Form::W8 if n <= 0xff => {
                            forced(out, if str { Marker::Str8 } else { Marker::Bin8 }, 1, n);
                            if str {
                                Marker::Str8
                            } else {
                                Marker::Bin8
                            }
                        }
                        Form::W16 => {
                            let m = if str { Marker::Str16 } else { Marker::Bin16 };
                            forced(out, m, 2, n);
                            m
                        }
                        Form::W32 => {
                            let m = if str { Marker::Str32 } else { Marker::Bin32 };
                            forced(out, m, 4, n);
                            m
                        }
                        _ if str => enc::write_str_len(out, n as u32).unwrap(),
                        _ => enc::write_bin_len(out, n as u32).unwrap(),
                    };
                    field = Some(field_of(marker, start, false));
                    out.extend_from_slice(data);
                }
                V::Ext(form, ty, data) => {
                    let n = data.len();
                    let marker = match form {
                        Form::W8 if n <= 0xff => {
                            forced(out, Marker::Ext8, 1, n);
                            Marker::Ext8
                        }
                        Form::W16 => {
                            forced(out, Marker::Ext16, 2, n);
                            Marker::Ext16
                        }
                        Form::W32 => {
                            forced(out, Marker::Ext32, 4, n);
                            Marker::Ext32
                        }
                        _ => {
                            let m = enc::write_ext_meta(out, n as u32, *ty).unwrap();
                            out.pop(); // the type byte, pushed again below for every form
                            m
                        }
                    };
                    out.push(*ty as u8);
                    field = Some(field_of(marker, start, false));
                    out.extend_from_slice(data);
                }
                V::Array(form, items) => {
                    let n = items.len();
                    let marker = match form {
                        Form::W16 => {
                            forced(out, Marker::Array16, 2, n);
                            Marker::Array16
                        }
                        Form::W32 => {
                            forced(out, Marker::Array32, 4, n);
                            Marker::Array32
                        }
                        _ => enc::write_array_len(out, n as u32).unwrap(),
                    };
                    let index = fields.len();
                    fields.push(field_of(marker, start, true));
                    for item in items {
                        encode(item, out, fields);
                    }
                    fields[index].end = out.len();
                }
                V::Map(form, pairs) => {
                    let n = pairs.len();
                    let marker = match form {
                        Form::W16 => {
                            forced(out, Marker::Map16, 2, n);
                            Marker::Map16
                        }
                        Form::W32 => {
                            forced(out, Marker::Map32, 4, n);
                            Marker::Map32
                        }
                        _ => enc::write_map_len(out, n as u32).unwrap(),
                    };
                    let index = fields.len();
                    fields.push(field_of(marker, start, true));
                    for (k, v) in pairs {
                        encode(k, out, fields);
                        encode(v, out, fields);
                    }
                    fields[index].end = out.len();
                }
            }
            if let Some(mut f) = field {
                f.end = out.len();
                fields.push(f);
            }
        }

        fn form() -> impl Strategy<Value = Form> {
            prop_oneof![
                3 => Just(Form::Shortest),
                1 => Just(Form::W8),
                1 => Just(Form::W16),
                1 => Just(Form::W32),
            ]
        }

        fn data() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                // the fixext sizes
                prop::sample::select(vec![1usize, 2, 4, 8, 16])
                    .prop_flat_map(|n| vec(any::<u8>(), n)),
                vec(any::<u8>(), 0..40),
                // past 255: str/bin/ext 16 in the shortest form
                vec(any::<u8>(), 250..300),
            ]
        }

        fn leaf() -> impl Strategy<Value = V> {
            prop_oneof![
                Just(V::Nil),
                any::<bool>().prop_map(V::Bool),
                (0u8..0x80).prop_map(V::PosFix),
                (-32i8..0).prop_map(V::NegFix),
                any::<u8>().prop_map(V::U8),
                any::<u16>().prop_map(V::U16),
                any::<u32>().prop_map(V::U32),
                any::<u64>().prop_map(V::U64),
                any::<i8>().prop_map(V::I8),
                any::<i16>().prop_map(V::I16),
                any::<i32>().prop_map(V::I32),
                any::<i64>().prop_map(V::I64),
                any::<f32>().prop_map(V::F32),
                any::<f64>().prop_map(V::F64),
                (form(), data()).prop_map(|(f, d)| V::Str(f, d)),
                (form(), data()).prop_map(|(f, d)| V::Bin(f, d)),
                // non-negative types: rmp reserves the negative ones
                (form(), 0i8..=127, data()).prop_map(|(f, t, d)| V::Ext(f, t, d)),
            ]
        }

        fn value() -> impl Strategy<Value = V> {
            leaf().prop_recursive(4, 48, 18, |inner| {
                prop_oneof![
                    // array/map 16 when the count passes 15 in the shortest form
                    (form(), vec(inner.clone(), 0..18)).prop_map(|(f, i)| V::Array(f, i)),
                    (form(), vec((inner.clone(), inner), 0..17)).prop_map(|(f, p)| V::Map(f, p)),
                ]
            })
        }

        fn encoded(v: &V) -> (Vec<u8>, Vec<Field>) {
            let mut out = Vec::new();
            let mut fields = Vec::new();
            encode(v, &mut out, &mut fields);
            (out, fields)
        }

        /// The field, increased to `target` (which is larger).
        fn set_field(bytes: &mut [u8], f: &Field, target: u64) {
            if f.width == 0 {
                bytes[f.at] = target as u8;
            } else {
                let be = target.to_be_bytes();
                bytes[f.at..f.at + f.width].copy_from_slice(&be[8 - f.width..]);
            }
        }

        /// The field's value (the marker byte for fix forms) and the largest it can hold.
        fn field_range(bytes: &[u8], f: &Field) -> (u64, u64) {
            if f.width == 0 {
                (u64::from(bytes[f.at]), u64::from(f.fix_max))
            } else {
                let v = bytes[f.at..f.at + f.width]
                    .iter()
                    .fold(0u64, |a, &b| (a << 8) | u64::from(b));
                (v, (1u64 << (8 * f.width)) - 1)
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

            #[test]
            fn framing_of_valid_values(
                v in value(),
                trailing in vec(any::<u8>(), 1..6),
            ) {
                let (bytes, fields) = encoded(&v);
                prop_assert_eq!(single_value_len(&bytes), Ok(bytes.len()));
                for cut in 0..bytes.len() {
                    prop_assert_eq!(
                        single_value_len(&bytes[..cut]),
                        Err(FrameError::Truncated),
                        "prefix of {} bytes", cut
                    );
                }
                // The check returns the first value's length; the caller compares it with the
                // plaintext's.
                let mut longer = bytes.clone();
                longer.extend_from_slice(&trailing);
                prop_assert_eq!(single_value_len(&longer), Ok(bytes.len()));

                // A larger count anywhere needs values the input does not have (the byte
                // stream parses into the same values, fewer than the counts now ask for). A
                // larger byte length of a value that ends the input runs past it. (A larger
                // length elsewhere may reframe the rest into something valid: not a property.)
                for f in fields.iter().filter(|f| f.is_count || f.end == bytes.len()) {
                    let (old, max) = field_range(&bytes, f);
                    for target in [old + 1, max] {
                        if target <= old || target > max {
                            continue;
                        }
                        let mut bad = bytes.clone();
                        set_field(&mut bad, f, target);
                        // FixExt1 -> FixExt2 etc. is a larger length: 0xd4..=0xd8 are ordered.
                        prop_assert_eq!(
                            single_value_len(&bad),
                            Err(FrameError::Truncated),
                            "field at {} set to {:#x}", f.at, target
                        );
                    }
                }
            }

            #[test]
            fn counts_the_input_cannot_hold_are_truncated(
                kind in 0usize..6,
                count in 1u32..40,
                rest in vec(prop_oneof![Just(0xc1u8), any::<u8>()], 0..80),
            ) {
                // Every value takes at least one byte: a container asking for more values
                // than bytes are left is refused as truncated, before any of them is read
                // (whatever they are: a reserved marker, a deeper container).
                let (form, map) = ([Form::Shortest, Form::W16, Form::W32][kind % 3], kind >= 3);
                let values = if map { 2 * count as usize } else { count as usize };
                let rest = &rest[..rest.len().min(values - 1)];
                let v = if map {
                    V::Map(form, vec![(V::Nil, V::Nil); count as usize])
                } else {
                    V::Array(form, vec![V::Nil; count as usize])
                };
                let mut bytes = encoded(&v).0;
                bytes.truncate(bytes.len() - values);
                bytes.extend_from_slice(rest);
                prop_assert_eq!(single_value_len(&bytes), Err(FrameError::Truncated));
            }

            #[test]
            fn depth_limit_across_container_kinds(
                kinds in vec((0usize..6, any::<bool>(), 0usize..3), MAX_DEPTH + 1),
                bottom in leaf(),
            ) {
                // Containers of every kind, nested MAX_DEPTH (accepted) and MAX_DEPTH + 1
                // (refused) deep, the nested one as a key or a value, with 0..3 siblings
                // after it (so each level's count must come back when its child closes).
                let nest = |levels: &[(usize, bool, usize)]| {
                    let mut v = bottom.clone();
                    for &(kind, as_key, siblings) in levels.iter().rev() {
                        let form = [Form::Shortest, Form::W16, Form::W32][kind % 3];
                        v = if kind < 3 {
                            let mut items = vec![v];
                            items.extend(std::iter::repeat_n(V::PosFix(7), siblings));
                            V::Array(form, items)
                        } else {
                            let mut pairs =
                                vec![if as_key { (v, V::Nil) } else { (V::Nil, v) }];
                            pairs.extend(
                                std::iter::repeat_n((V::PosFix(1), V::PosFix(2)), siblings),
                            );
                            V::Map(form, pairs)
                        };
                    }
                    encoded(&v).0
                };
                let ok = nest(&kinds[..MAX_DEPTH]);
                prop_assert_eq!(single_value_len(&ok), Ok(ok.len()));
                let deep = nest(&kinds);
                prop_assert_eq!(single_value_len(&deep), Err(FrameError::TooDeep));
            }
        }
    }

    #[test]
    fn repeated_map_keys_are_found_at_any_depth() {
        // {"a": 1, "b": 2}: distinct.
        assert!(!has_repeated_key(&[
            0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0x02
        ]));
        // {"a": 1, "a": 2}: repeated.
        assert!(has_repeated_key(&[
            0x82, 0xa1, b'a', 0x01, 0xa1, b'a', 0x02
        ]));
        // [[{"k": 0, "k": 0}]]: found inside arrays.
        assert!(has_repeated_key(&[
            0x91, 0x91, 0x82, 0xa1, b'k', 0x00, 0xa1, b'k', 0x00
        ]));
        // {"x": {1: nil, 1: nil}}: found in a map's value...
        assert!(has_repeated_key(&[
            0x81, 0xa1, b'x', 0x82, 0x01, 0xc0, 0x01, 0xc0
        ]));
        // ...and in a map used as a key: {{1: nil, 1: nil}: 0}.
        assert!(has_repeated_key(&[
            0x81, 0x82, 0x01, 0xc0, 0x01, 0xc0, 0x00
        ]));
        // 1 and 1.0 are different keys; so are two maps that differ.
        let one_and_float_one = [0x82, 0x01, 0xc0, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xc0];
        assert!(!has_repeated_key(&one_and_float_one));
        // map 16 and array 16 forms are walked too.
        assert!(has_repeated_key(&[
            0xde, 0x00, 0x02, 0x05, 0xc0, 0x05, 0xc0
        ]));
        assert!(has_repeated_key(&[
            0xdc, 0x00, 0x01, 0x82, 0x05, 0xc0, 0x05, 0xc0
        ]));
        assert!(!has_repeated_key(&[
            0xdc, 0x00, 0x02, 0x81, 0x05, 0xc0, 0x81, 0x05, 0xc0
        ]));
        // Nested 32-bit forms read their count after their own marker.
        assert!(!has_repeated_key(&[0x91, 0xdd, 0, 0, 0, 2, 0x01, 0x02]));
        assert!(!has_repeated_key(&[0x91, 0xdf, 0, 0, 0, 1, 0x01, 0x02]));
        // Counts past one byte are read whole: 256 elements, the repeat in the last.
        let mut long = vec![0xdc, 0x01, 0x00];
        long.extend(std::iter::repeat_n(0xc0, 255));
        long.extend_from_slice(&[0x82, 0x05, 0xc0, 0x05, 0xc0]);
        assert!(has_repeated_key(&long));
        // ...and the 32-bit forms.
        assert!(has_repeated_key(&[
            0xdf, 0, 0, 0, 0x02, 0x05, 0xc0, 0x05, 0xc0
        ]));
        assert!(has_repeated_key(&[
            0xdd, 0, 0, 0, 0x01, 0x82, 0x05, 0xc0, 0x05, 0xc0
        ]));
        assert!(!has_repeated_key(&[
            0xdf, 0, 0, 0, 0x02, 0x05, 0xc0, 0x06, 0xc0
        ]));
        // Maps of more than 16 entries (their keys compared on the heap): 17 distinct keys,
        // then the same with the last key equal to the first.
        let big = |last: u8| {
            let mut map = vec![0xde, 0x00, 17];
            for key in 0..16u8 {
                map.extend_from_slice(&[key, 0xc0]);
            }
            map.extend_from_slice(&[last, 0xc0]);
            map
        };
        assert!(!has_repeated_key(&big(16)));
        assert!(has_repeated_key(&big(0)));
        // Scalars and empty containers have no keys.
        for plain in [
            &[0x01u8][..],
            &[0x80],
            &[0x90],
            &[0xa3, b'a', b'b', b'c'],
            &[0xc4, 1, 0],
        ] {
            assert!(!has_repeated_key(plain), "{plain:?}");
        }
    }
}
