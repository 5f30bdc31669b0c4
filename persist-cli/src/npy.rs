//! The header of a `.npy` file: dtype and shape, read without the array.
//!
//! Format: `\x93NUMPY`, major and minor version bytes, the header length
//! (u16 little-endian in version 1, u32 in versions 2 and 3), then a Python
//! dict literal such as `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`.

use std::io::Read;

/// What the header of an npy file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NpyHeader {
    /// The numpy type string (`<f8`).
    pub(crate) descr: String,
    pub(crate) fortran_order: bool,
    pub(crate) shape: Vec<u64>,
}

/// The longest header read (numpy itself refuses more than 10 kB by default).
const MAX_HEADER: usize = 1 << 20;

impl NpyHeader {
    /// Reads the header from the start of the file, and nothing after it.
    pub(crate) fn read(r: &mut dyn Read) -> Result<NpyHeader, String> {
        let mut lead = [0u8; 8];
        r.read_exact(&mut lead)
            .map_err(|e| format!("cannot read the npy magic: {e}"))?;
        if &lead[..6] != b"\x93NUMPY" {
            return Err("not an npy file (no \\x93NUMPY magic)".to_owned());
        }
        let len = match lead[6] {
            1 => {
                let mut b = [0u8; 2];
                r.read_exact(&mut b)
                    .map_err(|e| format!("truncated npy header: {e}"))?;
                usize::from(u16::from_le_bytes(b))
            }
            2 | 3 => {
                let mut b = [0u8; 4];
                r.read_exact(&mut b)
                    .map_err(|e| format!("truncated npy header: {e}"))?;
                usize::try_from(u32::from_le_bytes(b))
                    .map_err(|_| "npy header too long".to_owned())?
            }
            v => return Err(format!("unknown npy format version {v}")),
        };
        if len > MAX_HEADER {
            return Err(format!("npy header of {len} bytes is implausibly long"));
        }
        let mut header = vec![0u8; len];
        r.read_exact(&mut header)
            .map_err(|e| format!("truncated npy header: {e}"))?;
        let text = String::from_utf8_lossy(&header);
        NpyHeader::parse(&text)
    }

    fn parse(text: &str) -> Result<NpyHeader, String> {
        let descr = quoted_value(text, "descr").ok_or("npy header has no 'descr'")?;
        let fortran_order =
            value_after(text, "fortran_order").is_some_and(|v| v.starts_with("True"));
        let shape_text = value_after(text, "shape").ok_or("npy header has no 'shape'")?;
        let inner = shape_text
            .strip_prefix('(')
            .and_then(|s| s.split(')').next())
            .ok_or("npy header 'shape' is not a tuple")?;
        let shape = inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.trim_end_matches('L').parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|e| format!("npy header 'shape' is not a tuple of integers: {e}"))?;
        Ok(NpyHeader {
            descr,
            fortran_order,
            shape,
        })
    }

    /// The dtype as numpy names it (`float64`), or the type string.
    pub(crate) fn dtype(&self) -> String {
        let d = self.descr.as_str();
        let (order, code) = match d.chars().next() {
            Some('<' | '>' | '|' | '=') => (&d[..1], &d[1..]),
            _ => ("", d),
        };
        let named = match code {
            "b1" => Some("bool".to_owned()),
            _ => {
                let mut chars = code.chars();
                let kind = chars.next().map(String::from).unwrap_or_default();
                chars.as_str().parse::<u32>().ok().and_then(|bytes| {
                    let bits = bytes * 8;
                    match kind.as_str() {
                        "f" => Some(format!("float{bits}")),
                        "i" => Some(format!("int{bits}")),
                        "u" => Some(format!("uint{bits}")),
                        "c" => Some(format!("complex{bits}")),
                        "U" => Some(format!("str{bytes}")),
                        "S" => Some(format!("bytes{bytes}")),
                        _ => None,
                    }
                })
            }
        };
        match named {
            // Name the byte order only when it is not the usual little-endian.
            Some(n) if order == ">" => format!("{n} (big-endian)"),
            Some(n) => n,
            None => d.to_owned(),
        }
    }

    /// The shape as numpy prints it: `(3, 4)`, `(5,)`, `()`.
    pub(crate) fn shape_text(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(u64::to_string).collect();
        let mut s = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        if self.fortran_order {
            s.push_str(" F-order");
        }
        s
    }
}

/// The text after `'name':` in the dict, trimmed.
fn value_after<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let at = text
        .find(&format!("'{name}'"))
        .or_else(|| text.find(&format!("\"{name}\"")))?;
    let rest = &text[at + name.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    Some(rest.trim_start())
}

/// A quoted string value of the dict.
fn quoted_value(text: &str, name: &str) -> Option<String> {
    let v = value_after(text, name)?;
    let quote = v.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &v[1..];
    body.find(quote).map(|end| body[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&u16::try_from(header.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&[0u8; 64]);
        out
    }

    #[test]
    fn reads_dtype_and_shape() {
        let bytes = file("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }\n");
        let h = NpyHeader::read(&mut bytes.as_slice()).expect("header");
        assert_eq!(h.dtype(), "float64");
        assert_eq!(h.shape, vec![3, 4]);
        assert_eq!(h.shape_text(), "(3, 4)");

        let bytes = file("{'descr': '|u1', 'fortran_order': True, 'shape': (5,), }");
        let h = NpyHeader::read(&mut bytes.as_slice()).expect("header");
        assert_eq!(
            (h.dtype().as_str(), h.shape_text().as_str()),
            ("uint8", "(5,) F-order")
        );

        let bytes = file("{'descr': '>i4', 'fortran_order': False, 'shape': (), }");
        let h = NpyHeader::read(&mut bytes.as_slice()).expect("header");
        assert_eq!(
            (h.dtype().as_str(), h.shape_text().as_str()),
            ("int32 (big-endian)", "()")
        );
    }

    #[test]
    fn refuses_what_is_not_npy() {
        assert!(NpyHeader::read(&mut &b"hello world"[..]).is_err());
        assert!(NpyHeader::read(&mut &b"\x93NUMPY\x01\x00\xff"[..]).is_err());
        let bytes = file("{'fortran_order': False}");
        assert!(NpyHeader::read(&mut bytes.as_slice()).is_err());
    }
}
