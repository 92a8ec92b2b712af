//! Python objects to MessagePack values and back.
//!
//! Python to MessagePack goes through [`rmpv::Value`], whose `Serialize` writes what rmp-serde
//! writes for the equivalent serde value (a `dict` with `str` keys is a struct's map, integers
//! take their shortest form, `float` is a 64-bit float, `bytes` is bin). The tree is owned, so
//! large payloads are sealed with the GIL released.
//!
//! MessagePack to Python is a serde visitor that builds the Python objects as rmp-serde reads
//! (for tokens opened with the GIL held), or a walk over an [`rmpv::Value`] (for tokens opened
//! without it). Depth is bounded by the crate's framing check (128 nested containers) before
//! either runs.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use rmpv::Value;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::type_name;

/// The deepest nesting of lists, tuples and dicts a payload may have: the limit the crate
/// applies when loading, so that everything `dumps` makes can be loaded.
pub(crate) const MAX_DEPTH: usize = 128;

/// `obj` as a MessagePack value, and an estimate of its encoded length in bytes.
pub(crate) fn to_msgpack_value(obj: &Bound<'_, PyAny>) -> PyResult<(Value, usize)> {
    let mut estimated_len = 0usize;
    let value = to_value(obj, 0, &mut estimated_len)?;
    Ok((value, estimated_len))
}

fn to_value(obj: &Bound<'_, PyAny>, depth: usize, len: &mut usize) -> PyResult<Value> {
    if let Ok(text) = obj.cast::<PyString>() {
        // A str with lone surrogates has no UTF-8: a fixed message (the codec's own would quote
        // the payload).
        let text = text.to_cow().map_err(|_| {
            PyValueError::new_err("a str in the payload is not valid Unicode (a lone surrogate)")
        })?;
        *len = len.saturating_add(text.len() + 5);
        return Ok(Value::from(text.as_ref()));
    }
    *len = len.saturating_add(9);
    if let Ok(dict) = obj.cast::<PyDict>() {
        let depth = enter(depth)?;
        let mut entries = Vec::with_capacity(dict.len());
        for (key, value) in dict.iter() {
            entries.push((to_value(&key, depth, len)?, to_value(&value, depth, len)?));
        }
        return Ok(Value::Map(entries));
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Boolean(obj.is_truthy()?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(n) = obj.extract::<i64>() {
            return Ok(Value::from(n));
        }
        if let Ok(n) = obj.extract::<u64>() {
            return Ok(Value::from(n));
        }
        return Err(PyValueError::new_err(
            "int is out of the 64-bit range of MessagePack (-2**63 to 2**64 - 1)",
        ));
    }
    if let Ok(float) = obj.cast::<PyFloat>() {
        return Ok(Value::F64(float.value()));
    }
    if obj.is_none() {
        return Ok(Value::Nil);
    }
    if let Ok(list) = obj.cast::<PyList>() {
        let depth = enter(depth)?;
        let mut items = Vec::with_capacity(list.len());
        for item in list.iter() {
            items.push(to_value(&item, depth, len)?);
        }
        return Ok(Value::Array(items));
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        let depth = enter(depth)?;
        let mut items = Vec::with_capacity(tuple.len());
        for item in tuple.iter() {
            items.push(to_value(&item, depth, len)?);
        }
        return Ok(Value::Array(items));
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        let bytes = bytes.as_bytes();
        *len = len.saturating_add(bytes.len());
        return Ok(Value::Binary(bytes.to_vec()));
    }
    Err(PyTypeError::new_err(format!(
        "cannot put an object of type {} in a token: use dict, list, tuple, str, int, float, bool, None or bytes",
        type_name(obj)
    )))
}

/// One level deeper, or the error for a payload nested too deeply (or a container that
/// contains itself).
fn enter(depth: usize) -> PyResult<usize> {
    if depth >= MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "payload is nested deeper than {MAX_DEPTH} containers"
        )));
    }
    Ok(depth + 1)
}

/// The Python object of a MessagePack value. Fails on ext values and on map keys Python cannot
/// hash (a list or a dict); the caller reports either as a payload of the wrong shape.
pub(crate) fn from_msgpack_value<'py>(
    py: Python<'py>,
    value: &Value,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Nil => py.None().into_bound(py),
        Value::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Integer(n) => {
            if let Some(n) = n.as_i64() {
                n.into_pyobject(py)?.into_any()
            } else if let Some(n) = n.as_u64() {
                n.into_pyobject(py)?.into_any()
            } else {
                return Err(PyValueError::new_err("integer out of range"));
            }
        }
        Value::F32(f) => PyFloat::new(py, f64::from(*f)).into_any(),
        Value::F64(f) => PyFloat::new(py, *f).into_any(),
        Value::String(s) => match s.as_str() {
            Some(text) => PyString::new(py, text).into_any(),
            // A str that is not UTF-8 reaches serde as bytes; do the same here.
            None => PyBytes::new(py, s.as_bytes()).into_any(),
        },
        Value::Binary(b) => PyBytes::new(py, b).into_any(),
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|item| from_msgpack_value(py, item))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Map(entries) => {
            let dict = PyDict::new(py);
            for (key, value) in entries {
                dict.set_item(from_msgpack_value(py, key)?, from_msgpack_value(py, value)?)?;
            }
            dict.into_any()
        }
        Value::Ext(..) => return Err(PyValueError::new_err("ext values are not supported")),
    })
}

/// Builds the Python object of a MessagePack value as serde reads it.
#[derive(Clone, Copy)]
pub(crate) struct PyValueSeed<'py>(pub(crate) Python<'py>);

impl<'de, 'py> DeserializeSeed<'de> for PyValueSeed<'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The Python error's text is not used: any failure is reported as `Error::Payload`.
fn py_error<E: de::Error>(_: PyErr) -> E {
    E::custom("cannot build the Python object")
}

impl<'de, 'py> Visitor<'de> for PyValueSeed<'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a MessagePack value without ext types")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.0.None().into_bound(self.0))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.0, v).to_owned().into_any())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        let Ok(n) = v.into_pyobject(self.0);
        Ok(n.into_any())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        let Ok(n) = v.into_pyobject(self.0);
        Ok(n.into_any())
    }

    fn visit_f32<E: de::Error>(self, v: f32) -> Result<Self::Value, E> {
        self.visit_f64(f64::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.0, v).into_any())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.0, v).into_any())
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(PyBytes::new(self.0, v).into_any())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // No preallocation from the length prefix: the items that are really there decide.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(PyList::new(self.0, items).map_err(py_error)?.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.0);
        while let Some(key) = map.next_key_seed(self)? {
            let value = map.next_value_seed(self)?;
            dict.set_item(key, value).map_err(py_error)?;
        }
        Ok(dict.into_any())
    }
}

/// A payload loaded straight into a Python object, for `loads` with the GIL held: the
/// `DeserializeOwned` the crate's `loads` asks for.
pub(crate) struct PyOut(pub(crate) Py<PyAny>);

impl<'de> serde::Deserialize<'de> for PyOut {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The caller holds the GIL, so this only looks up the thread's state.
        Python::attach(|py| {
            PyValueSeed(py)
                .deserialize(deserializer)
                .map(|obj| PyOut(obj.unbind()))
        })
    }
}
