//! Just enough of the ONNX format to read the Silero VAD: the operator types of the main graph
//! (to check that a file is the network we implement) and its float initializers (the weights).
//!
//! An ONNX file is one protobuf `ModelProto`. Rather than pull in a protobuf code generator (the
//! candle-onnx crate needs `protoc` at build time) for six fields, this walks the protobuf wire
//! format directly: `ModelProto.graph` (field 7) → `GraphProto.node` (1) and `.initializer` (5);
//! `NodeProto.input` (1), `.op_type` (4); `TensorProto.dims` (1), `.data_type` (2), `.float_data` (4),
//! `.name` (8), `.raw_data` (9). Field numbers are those of onnx/onnx.proto.

use std::collections::HashMap;

/// ONNX `TensorProto.DataType.FLOAT`.
const FLOAT: u64 = 1;

/// A float tensor of the graph: its shape and values (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct FloatTensor {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values, `dims.iter().product()` of them.
    pub data: Vec<f32>,
}

/// One node of the graph: its operator and the names of its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `op_type` (`Conv`, `LSTM`, ...).
    pub op_type: String,
    /// Input names, in order (empty strings for omitted optional inputs).
    pub inputs: Vec<String>,
}

/// What the VAD needs from an ONNX model: its main graph's nodes in order and its float
/// initializers by name (other initializers, int64 shape constants, are skipped).
#[derive(Debug, Clone, Default)]
pub struct OnnxGraph {
    /// The nodes of the main graph, in order.
    pub nodes: Vec<Node>,
    /// Float initializers by name.
    pub initializers: HashMap<String, FloatTensor>,
}

/// Parses the main graph of an ONNX model. Errors carry the byte offset of the problem.
pub fn parse(bytes: &[u8]) -> Result<OnnxGraph, String> {
    let mut graph = None;
    for field in Fields::new(bytes) {
        let (number, value) = field?;
        if number == 7 {
            graph = Some(value.bytes("ModelProto.graph")?);
        }
    }
    let graph = graph.ok_or("the model has no graph")?;
    let mut out = OnnxGraph::default();
    for field in Fields::new(graph) {
        match field? {
            (1, value) => out.nodes.push(node(value.bytes("GraphProto.node")?)?),
            (5, value) => {
                if let Some((name, tensor)) = float_tensor(value.bytes("GraphProto.initializer")?)?
                {
                    out.initializers.insert(name, tensor);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A `NodeProto`'s operator and inputs.
fn node(node: &[u8]) -> Result<Node, String> {
    let mut op_type = None;
    let mut inputs = Vec::new();
    for field in Fields::new(node) {
        match field? {
            (1, value) => inputs.push(value.string("NodeProto.input")?),
            (4, value) => op_type = Some(value.string("NodeProto.op_type")?),
            _ => {}
        }
    }
    let op_type = op_type.ok_or("a node without op_type")?;
    Ok(Node { op_type, inputs })
}

/// A `TensorProto` as (name, tensor), or `None` when it does not hold floats.
fn float_tensor(tensor: &[u8]) -> Result<Option<(String, FloatTensor)>, String> {
    let mut dims = Vec::new();
    let mut data_type = 0;
    let mut name = String::new();
    let mut data = Vec::new();
    for field in Fields::new(tensor) {
        match field? {
            (1, Value::Varint(d)) => dims.push(d as usize),
            (1, Value::Bytes(packed)) => {
                let mut at = 0;
                while at < packed.len() {
                    dims.push(varint(packed, &mut at)? as usize);
                }
            }
            (2, Value::Varint(t)) => data_type = t,
            (4, Value::Fixed32(bits)) => data.push(f32::from_bits(bits)),
            (4, Value::Bytes(packed)) | (9, Value::Bytes(packed)) => {
                if packed.len() % 4 != 0 {
                    return Err(format!(
                        "tensor data of {} bytes is not whole floats",
                        packed.len()
                    ));
                }
                data.extend(
                    packed
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            (8, value) => name = value.string("TensorProto.name")?,
            _ => {}
        }
    }
    if data_type != FLOAT {
        return Ok(None);
    }
    let count: usize = dims.iter().product();
    if data.len() != count {
        return Err(format!(
            "initializer {name} has shape {dims:?} but {} values (external data is not supported)",
            data.len()
        ));
    }
    Ok(Some((name, FloatTensor { dims, data })))
}

/// One field's value, by wire type.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64,
    /// Wire type 2: a sub-message, string, bytes or packed repeated field.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

impl<'a> Value<'a> {
    fn bytes(self, what: &str) -> Result<&'a [u8], String> {
        match self {
            Value::Bytes(b) => Ok(b),
            _ => Err(format!("{what} is not length-delimited")),
        }
    }

    fn string(self, what: &str) -> Result<String, String> {
        String::from_utf8(self.bytes(what)?.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }
}

/// The fields of one protobuf message, in order, as (field number, value).
struct Fields<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields { buf, at: 0 }
    }

    fn field(&mut self) -> Result<(u64, Value<'a>), String> {
        let start = self.at;
        let key = varint(self.buf, &mut self.at)?;
        let number = key >> 3;
        let value = match key & 7 {
            0 => Value::Varint(varint(self.buf, &mut self.at)?),
            1 => {
                self.take(8, start)?;
                Value::Fixed64
            }
            2 => {
                let len = varint(self.buf, &mut self.at)? as usize;
                Value::Bytes(self.take(len, start)?)
            }
            5 => {
                let b = self.take(4, start)?;
                Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            other => return Err(format!("wire type {other} at byte {start}")),
        };
        Ok((number, value))
    }

    fn take(&mut self, len: usize, start: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| format!("field at byte {start} runs past the end of its message"))?;
        let bytes = &self.buf[self.at..end];
        self.at = end;
        Ok(bytes)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            // Stop after the first error: the rest cannot be framed.
            self.at = self.buf.len();
        }
        Some(field)
    }
}

/// A base-128 varint at `*at`, advancing `*at`.
fn varint(buf: &[u8], at: &mut usize) -> Result<u64, String> {
    let start = *at;
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf
            .get(*at)
            .ok_or_else(|| format!("truncated varint at byte {start}"))?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(format!("varint longer than 10 bytes at byte {start}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-encoded ModelProto: graph { node { op_type "Relu" } initializer { dims 2
    /// data_type FLOAT name "w" raw_data [1.0, -2.5] } }.
    #[test]
    fn reads_op_types_and_float_initializers() {
        let node = [&[0x0a, 1, b'x', 0x22, 4][..], b"Relu"].concat();
        let raw: Vec<u8> = [1.0f32, -2.5]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let tensor = [&[0x08, 2, 0x10, 1, 0x42, 1, b'w', 0x4a, 8][..], &raw[..]].concat();
        let graph = [
            &[0x0a, node.len() as u8][..],
            &node,
            &[0x2a, tensor.len() as u8],
            &tensor,
        ]
        .concat();
        let model = [&[0x3a, graph.len() as u8][..], &graph].concat();
        let parsed = parse(&model).unwrap();
        assert_eq!(
            parsed.nodes,
            [Node {
                op_type: "Relu".into(),
                inputs: vec!["x".into()]
            }]
        );
        assert_eq!(
            parsed.initializers["w"],
            FloatTensor {
                dims: vec![2],
                data: vec![1.0, -2.5]
            }
        );
        let truncated = &model[..model.len() - 3];
        assert!(parse(truncated).unwrap_err().contains("runs past the end"));
    }
}
