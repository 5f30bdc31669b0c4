//! ndarray owned arrays as `.npy`, readable by `numpy.load`, and the npy
//! [`Header`] on its own, for tools that look at record files of any type.

use std::io::{Cursor, Read, Write};

use ndarray::{ArrayBase, Dimension, IxDyn, OwnedRepr, ShapeBuilder};
use ndarray_npy::{
    ReadNpyError, ReadNpyExt, ReadableElement, WritableElement, WriteNpyError, WriteNpyExt,
};

use super::Storable;
use crate::error::{Error, Result};

/// The first bytes of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";

impl<A, D> Storable for ArrayBase<OwnedRepr<A>, D>
where
    A: WritableElement + ReadableElement,
    D: Dimension,
{
    const EXTENSION: &'static str = "npy";

    fn write(&self, w: &mut dyn Write) -> Result<()> {
        write_array(self, w).map_err(|e| match e {
            WriteNpyError::Io(e) => Error::io(e),
            other => Error::corrupt(format!("cannot write npy: {other}")),
        })
    }

    fn read(r: &mut dyn Read) -> Result<Self> {
        read_array(r).map_err(read_error::<A>)
    }
}

/// Writes an array, formatting the usual header here: a contiguous array (C
/// or Fortran order) of an element whose dtype is a plain string (`<f8`).
///
/// ndarray-npy formats every header through a general Python-literal
/// writer, which costs a small record's save more than writing its data.
/// The bytes are the same (a test compares them); any other array goes to
/// ndarray-npy.
fn write_array<A, D>(
    a: &ArrayBase<OwnedRepr<A>, D>,
    w: &mut dyn Write,
) -> std::result::Result<(), WriteNpyError>
where
    A: WritableElement,
    D: Dimension,
{
    let fortran = if a.is_standard_layout() {
        false
    } else if a.view().reversed_axes().is_standard_layout() {
        true
    } else {
        return a.write_npy(w);
    };
    let (Some(data), py_literal::Value::String(descr)) =
        (a.as_slice_memory_order(), A::type_descriptor())
    else {
        return a.write_npy(w);
    };
    let Some(header) = header_bytes(&descr, fortran, a.shape()) else {
        return a.write_npy(w);
    };
    w.write_all(&header)?;
    A::write_slice(data, &mut *w)?;
    w.flush()?;
    Ok(())
}

/// The version 1.0 header ndarray-npy (and numpy) write for a plain dtype:
/// the dict, spaces to a multiple of 64 bytes in all, a newline. `None` for
/// a dtype that would need quoting, or a header too long for version 1.0.
fn header_bytes(descr: &str, fortran: bool, shape: &[usize]) -> Option<Vec<u8>> {
    use std::fmt::Write as _;
    const ALIGN: usize = 64;
    if !descr
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"<>|=".contains(&b))
    {
        return None;
    }
    let mut dict = String::with_capacity(96);
    dict.push_str("{'descr': '");
    dict.push_str(descr);
    dict.push_str("', 'fortran_order': ");
    dict.push_str(if fortran { "True" } else { "False" });
    dict.push_str(", 'shape': (");
    for (i, n) in shape.iter().enumerate() {
        if i > 0 {
            dict.push_str(", ");
        }
        let _ = write!(dict, "{n}");
    }
    if shape.len() == 1 {
        dict.push(',');
    }
    dict.push_str(")}");
    // Magic, version, the u16 length; then the dict and its newline.
    let prefix = MAGIC.len() + 2 + 2;
    let unpadded = prefix + dict.len() + 1;
    let total = unpadded + (ALIGN - unpadded % ALIGN);
    let len = u16::try_from(total - prefix).ok()?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    Some(out)
}

/// Reads an array, parsing the usual header (`{'descr': '<f8', 'fortran_order':
/// False, 'shape': (3, 4), }`, as numpy and ndarray-npy write it) here.
///
/// ndarray-npy parses every header with a general Python-literal grammar,
/// which costs more than reading a small array's data; on a store of small
/// records it was a third of a load's time. Any other header (a structured
/// dtype, an unusual spelling) goes to ndarray-npy unchanged, with the bytes
/// already read put back in front.
fn read_array<A, D>(
    r: &mut dyn Read,
) -> std::result::Result<ArrayBase<OwnedRepr<A>, D>, ReadNpyError>
where
    A: ReadableElement,
    D: Dimension,
{
    let mut prelude = [0u8; 10];
    r.read_exact(&mut prelude)?;
    let header_len = match prelude {
        [.., 1, 0, lo, hi] if prelude.starts_with(MAGIC) => {
            usize::from(u16::from_le_bytes([lo, hi]))
        }
        // Versions 2 and 3 (headers over 64 KiB, or not Latin-1), or no npy.
        _ => return fallback(prelude.to_vec(), r),
    };
    let mut header = vec![0u8; header_len];
    r.read_exact(&mut header)?;
    let Some((descr, fortran, shape)) = std::str::from_utf8(&header).ok().and_then(parse_header)
    else {
        let mut head = prelude.to_vec();
        head.extend_from_slice(&header);
        return fallback(head, r);
    };
    let shape = IxDyn(&shape);
    let ndim = shape.ndim();
    let len = length_checked::<A>(&shape).ok_or(ReadNpyError::LengthOverflow)?;
    let data = A::read_to_end_exact_vec(r, &py_literal::Value::String(descr.to_owned()), len)?;
    ArrayBase::from_shape_vec(shape.set_f(fortran), data)
        .map_err(|_| ReadNpyError::LengthOverflow)?
        .into_dimensionality()
        .map_err(|_| ReadNpyError::WrongNdim(D::NDIM, ndim))
}

/// Hands a file whose header the fast path does not read to ndarray-npy.
fn fallback<A, D>(
    head: Vec<u8>,
    r: &mut dyn Read,
) -> std::result::Result<ArrayBase<OwnedRepr<A>, D>, ReadNpyError>
where
    A: ReadableElement,
    D: Dimension,
{
    ArrayBase::read_npy(Cursor::new(head).chain(r))
}

/// The element count of `shape`, if it and its size in bytes fit an `isize`
/// (the same rule as ndarray-npy's).
fn length_checked<A>(shape: &IxDyn) -> Option<usize> {
    let len = shape.size_checked()?;
    let bytes = len.checked_mul(std::mem::size_of::<A>())?;
    (isize::try_from(len).is_ok() && isize::try_from(bytes).is_ok()).then_some(len)
}

/// `descr`, `fortran_order` and `shape` of a header of the usual form, or
/// `None` for anything else (which ndarray-npy then parses).
fn parse_header(text: &str) -> Option<(&str, bool, Vec<usize>)> {
    let body = text.trim_end_matches([' ', '\n']);
    let mut rest = body.strip_prefix('{')?.strip_suffix('}')?.trim();
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    while !rest.is_empty() {
        let (key, after) = quoted(rest)?;
        let after = after.trim_start().strip_prefix(':')?.trim_start();
        rest = match key {
            "descr" if descr.is_none() => {
                let (value, after) = quoted(after)?;
                descr = Some(value);
                after
            }
            "fortran_order" if fortran.is_none() => {
                if let Some(after) = after.strip_prefix("False") {
                    fortran = Some(false);
                    after
                } else {
                    fortran = Some(true);
                    after.strip_prefix("True")?
                }
            }
            "shape" if shape.is_none() => {
                let (inner, after) = after.strip_prefix('(')?.split_once(')')?;
                let dims = inner
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(|d| {
                        d.bytes()
                            .all(|b| b.is_ascii_digit())
                            .then(|| d.parse::<usize>().ok())
                            .flatten()
                    })
                    .collect::<Option<Vec<_>>>()?;
                // `(3)` is the number 3 in Python, not a tuple.
                if dims.len() == 1 && !inner.trim_end().ends_with(',') {
                    return None;
                }
                shape = Some(dims);
                after
            }
            _ => return None,
        }
        .trim_start();
        rest = match rest.strip_prefix(',') {
            Some(after) => after.trim_start(),
            None if rest.is_empty() => rest,
            None => return None,
        };
    }
    Some((descr?, fortran?, shape?))
}

/// A single-quoted string without escapes at the start of `s`, and what
/// follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let (value, after) = s.strip_prefix('\'')?.split_once('\'')?;
    (!value.contains('\\')).then_some((value, after))
}

/// The header of a `.npy` file: the dtype, order and shape of its array,
/// read without the array.
///
/// For tools that look at record files of any type, such as `persist show`;
/// loading a record reads its header on the way and needs none of this.
///
/// ```
/// use persist_core::format::npy::Header;
/// use persist_core::ndarray::array;
/// use persist_core::Storable;
///
/// let mut bytes = Vec::new();
/// array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]].write(&mut bytes)?;
/// let header = Header::read(&mut bytes.as_slice())?;
/// assert_eq!(header.descr, "<f4");
/// assert!(!header.fortran_order);
/// assert_eq!(header.shape, [2, 3]);
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// The numpy type string (`<f8`: little-endian 8-byte float). A structured
    /// dtype is its Python literal (`[('a', '<f8')]`).
    pub descr: String,
    /// Whether the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array's shape; empty for a 0-dimensional array.
    pub shape: Vec<usize>,
}

/// The longest header [`Header::read`] accepts (numpy itself writes at most
/// a few kB, and by default refuses to read more than 10 kB).
const MAX_HEADER: usize = 1 << 20;

impl Header {
    /// Reads the header from the start of an npy file, and nothing after it.
    ///
    /// Every format version (1.0, 2.0, 3.0) is read. Returns
    /// [`Error::Corrupt`] for bytes that are not an npy file or a header that
    /// does not parse, and [`Error::Io`] if reading fails.
    pub fn read(r: &mut dyn Read) -> Result<Header> {
        let truncated = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::corrupt("npy header is truncated"),
            _ => Error::io(e),
        };
        let mut lead = [0u8; 8];
        r.read_exact(&mut lead).map_err(truncated)?;
        if !lead.starts_with(MAGIC) {
            return Err(Error::corrupt("not an npy file (no \\x93NUMPY magic)"));
        }
        let major = lead[6];
        let len = match major {
            1 => {
                let mut b = [0u8; 2];
                r.read_exact(&mut b).map_err(truncated)?;
                usize::from(u16::from_le_bytes(b))
            }
            2 | 3 => {
                let mut b = [0u8; 4];
                r.read_exact(&mut b).map_err(truncated)?;
                usize::try_from(u32::from_le_bytes(b)).unwrap_or(usize::MAX)
            }
            v => return Err(Error::corrupt(format!("unknown npy format version {v}"))),
        };
        if len > MAX_HEADER {
            return Err(Error::corrupt(format!(
                "npy header of {len} bytes is implausibly long"
            )));
        }
        let mut bytes = vec![0u8; len];
        r.read_exact(&mut bytes).map_err(truncated)?;
        // Versions 1 and 2 are Latin-1, version 3 UTF-8.
        let text: String = if major == 3 {
            String::from_utf8(bytes)
                .map_err(|_| Error::corrupt("npy header (version 3) is not UTF-8"))?
        } else {
            bytes.iter().map(|&b| char::from(b)).collect()
        };
        if let Some((descr, fortran_order, shape)) = parse_header(&text) {
            return Ok(Header {
                descr: descr.to_owned(),
                fortran_order,
                shape,
            });
        }
        Header::parse_literal(&text)
    }

    /// A header of any other spelling, through the Python-literal grammar
    /// ndarray-npy uses too.
    fn parse_literal(text: &str) -> Result<Header> {
        use py_literal::Value;
        let bad = |what: &str| Error::corrupt(format!("npy header {what}: {}", text.trim()));
        let value: Value = text
            .trim()
            .parse()
            .map_err(|_| bad("is not a Python literal"))?;
        let Value::Dict(entries) = value else {
            return Err(bad("is not a dict"));
        };
        let field = |name: &str| {
            entries.iter().find_map(|(k, v)| match k {
                Value::String(k) if k == name => Some(v),
                _ => None,
            })
        };
        let descr = match field("descr") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return Err(bad("has no 'descr'")),
        };
        let fortran_order = match field("fortran_order") {
            Some(Value::Boolean(b)) => *b,
            _ => return Err(bad("has no boolean 'fortran_order'")),
        };
        let shape = match field("shape") {
            Some(Value::Tuple(dims)) => dims
                .iter()
                .map(|d| match d {
                    Value::Integer(n) => n.to_string().parse::<usize>().ok(),
                    _ => None,
                })
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| bad("'shape' is not a tuple of sizes"))?,
            _ => return Err(bad("has no tuple 'shape'")),
        };
        Ok(Header {
            descr,
            fortran_order,
            shape,
        })
    }
}

fn read_error<A>(e: ReadNpyError) -> Error {
    match e {
        ReadNpyError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::corrupt("npy file is truncated")
        }
        ReadNpyError::Io(e) => Error::io(e),
        ReadNpyError::WrongNdim(expected, found) => wrong_ndim(expected, found),
        ReadNpyError::WrongDescriptor(descr) => wrong_dtype::<A>(&descr),
        ReadNpyError::MissingData => Error::corrupt("npy file is truncated (data missing)"),
        other => Error::corrupt(format!("not a valid npy file: {other}")),
    }
}

/// The error for an npy file with `found` dimensions where `expected` (any,
/// if `None`) were asked for; reads and memory maps report it alike.
pub(crate) fn wrong_ndim(expected: Option<usize>, found: usize) -> Error {
    Error::type_mismatch(
        match expected {
            Some(n) => format!("an array of {n} dimension(s)"),
            None => "an array of any dimension".to_owned(),
        },
        format!("an array of {found} dimension(s)"),
    )
}

/// The error for an npy file whose dtype `descr` is not `A`'s.
pub(crate) fn wrong_dtype<A>(descr: &dyn std::fmt::Display) -> Error {
    Error::type_mismatch(
        format!("npy dtype of {}", std::any::type_name::<A>()),
        format!("dtype {descr}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1, Array2, Array3, ArrayD};

    fn npy<T: WriteNpyExt>(a: &T) -> Vec<u8> {
        let mut out = Vec::new();
        a.write_npy(&mut out).unwrap();
        out
    }

    /// What persist writes, byte for byte, is what ndarray-npy writes.
    #[test]
    fn arrays_are_written_as_ndarray_npy_writes_them() {
        fn same<A: WritableElement + ReadableElement, D: Dimension>(a: ArrayBase<OwnedRepr<A>, D>) {
            let mut ours = Vec::new();
            a.write(&mut ours).unwrap();
            assert_eq!(ours, npy(&a), "{:?}", a.shape());
        }
        same(array![1.5f64, -2.0, 3.25]);
        same(Array1::<f64>::zeros(128));
        same(Array1::<f32>::zeros(0));
        same(Array2::<i64>::from_shape_fn((3, 4), |(i, j)| {
            (i * 4 + j) as i64
        }));
        same(Array2::<u8>::from_shape_fn((3, 4).f(), |(i, j)| {
            (i + j) as u8
        }));
        same(Array3::<i32>::from_shape_fn((2, 3, 5), |(i, j, k)| {
            (i + j + k) as i32
        }));
        same(Array3::<u16>::zeros((2, 3, 5).f()));
        same(array![true, false, true]);
        same(ndarray::arr0(7i8));
        same(ArrayD::<f64>::zeros(IxDyn(&[1; 20])));
        // Header lengths around the 64-byte steps (dicts of 53 to 60 bytes).
        for n in [1usize, 9, 99, 999, 9_999, 99_999, 999_999] {
            same(Array1::<u8>::zeros(n));
            same(Array2::<u8>::zeros((n, 1)));
        }
        // Not contiguous: ndarray-npy writes it.
        let mut strided = Array2::<f64>::zeros((4, 6));
        strided.swap_axes(0, 1);
        let strided = strided.slice_move(ndarray::s![.., ..;2]);
        same(strided);
    }

    #[test]
    fn usual_headers_are_read_here() {
        // The header ndarray-npy writes (numpy writes the same form).
        let bytes = npy(&array![[1.0f64, 2.0]]);
        let len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        let text = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
        assert_eq!(parse_header(text), Some(("<f8", false, vec![1, 2])));
        assert_eq!(
            parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   \n"),
            Some(("<f8", false, vec![3, 4]))
        );
        assert_eq!(
            parse_header("{'descr': '|u1', 'fortran_order': True, 'shape': (7,), }"),
            Some(("|u1", true, vec![7]))
        );
        assert_eq!(
            parse_header("{'shape': (), 'descr': '<i8', 'fortran_order': False}"),
            Some(("<i8", false, vec![]))
        );
    }

    #[test]
    fn other_headers_are_left_to_ndarray_npy() {
        for text in [
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3), }",
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-3,), }",
            "{'descr': '<f8', 'fortran_order': False, }",
            "{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
            "{\"descr\": '<f8', 'fortran_order': False, 'shape': (3,), }",
            "not a dict",
        ] {
            assert_eq!(parse_header(text), None, "{text}");
        }
    }

    #[test]
    fn arrays_read_the_same_as_through_ndarray_npy() {
        let a2 = array![[1.5f64, 2.0, -3.0], [4.0, 5.0, 6.25]];
        let f2 = a2.t().to_owned(); // written in C order from a transposed view
        let a3 = Array3::<i32>::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 100 + j * 10 + k) as i32);
        let fortran = Array2::<u16>::from_shape_vec((2, 3).f(), vec![1, 2, 3, 4, 5, 6]).unwrap();
        let bytes = npy(&a2);
        let back: Array2<f64> = Storable::read(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, a2);
        let back: Array2<f64> = Storable::read(&mut npy(&f2).as_slice()).unwrap();
        assert_eq!(back, f2);
        let back: Array3<i32> = Storable::read(&mut npy(&a3).as_slice()).unwrap();
        assert_eq!(back, a3);
        let back: Array2<u16> = Storable::read(&mut npy(&fortran).as_slice()).unwrap();
        assert_eq!(back, fortran);
        let via_npy = Array2::<u16>::read_npy(npy(&fortran).as_slice()).unwrap();
        assert_eq!(back, via_npy);
        let empty: Array1<f64> =
            Storable::read(&mut npy(&Array1::<f64>::zeros(0)).as_slice()).unwrap();
        assert_eq!(empty.len(), 0);
        let scalar = ArrayD::<i64>::from_elem(IxDyn(&[]), 42);
        let back: ArrayD<i64> = Storable::read(&mut npy(&scalar).as_slice()).unwrap();
        assert_eq!(back, scalar);
    }

    #[test]
    fn errors_are_the_same_as_before() {
        let bytes = npy(&array![1.0f64, 2.0, 3.0]);
        let err = <Array1<f32> as Storable>::read(&mut bytes.as_slice()).unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        let err = <Array2<f64> as Storable>::read(&mut bytes.as_slice()).unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        let err = <Array1<f64> as Storable>::read(&mut &bytes[..bytes.len() - 3]).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        let mut longer = bytes.clone();
        longer.push(0);
        let err = <Array1<f64> as Storable>::read(&mut longer.as_slice()).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        let err =
            <Array1<f64> as Storable>::read(&mut &b"\x93NUMPX\x01\x00\x00\x00"[..]).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        let err = <Array1<f64> as Storable>::read(&mut &bytes[..5]).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }

    #[test]
    fn a_header_the_fast_path_refuses_still_reads() {
        // Python accepts double quotes; the fast path does not, ndarray-npy does.
        let mut bytes = npy(&array![1u8, 2, 3]);
        let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        let text = "{\"descr\": '|u1', \"fortran_order\": False, \"shape\": (3,)}";
        assert_eq!(parse_header(text), None);
        let mut header = text.as_bytes().to_vec();
        header.resize(header_len - 1, b' ');
        header.push(b'\n');
        bytes.splice(10..10 + header_len, header);
        let back: Array1<u8> = Storable::read(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, array![1u8, 2, 3]);
    }

    /// An npy file of format `major` with header `text`, then some data.
    fn npy_file(major: u8, text: &str) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[major, 0]);
        match major {
            1 => out.extend_from_slice(&u16::try_from(text.len()).unwrap().to_le_bytes()),
            _ => out.extend_from_slice(&u32::try_from(text.len()).unwrap().to_le_bytes()),
        }
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(&[0u8; 64]);
        out
    }

    #[test]
    fn header_reads_what_persist_writes_and_stops_there() {
        let bytes = npy(&array![[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        let mut r = bytes.as_slice();
        let h = Header::read(&mut r).unwrap();
        assert_eq!(
            h,
            Header {
                descr: "<f8".to_owned(),
                fortran_order: false,
                shape: vec![2, 3],
            }
        );
        // Only the header was consumed: the 48 data bytes are left.
        assert_eq!(r.len(), 6 * 8);
    }

    #[test]
    fn header_reads_every_version_and_spelling() {
        let usual = "{'descr': '|u1', 'fortran_order': True, 'shape': (5,), }";
        for major in [1, 2, 3] {
            let h = Header::read(&mut npy_file(major, usual).as_slice()).unwrap();
            assert_eq!((h.descr.as_str(), h.fortran_order), ("|u1", true));
            assert_eq!(h.shape, [5]);
        }
        // Not the usual form: through the Python-literal grammar.
        let h = Header::read(
            &mut npy_file(
                1,
                "{\"descr\": '>i4', \"shape\": (), 'fortran_order': False}",
            )
            .as_slice(),
        )
        .unwrap();
        assert_eq!((h.descr.as_str(), h.shape.len()), (">i4", 0));
        let h = Header::read(
            &mut npy_file(
                1,
                "{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (3,), }",
            )
            .as_slice(),
        )
        .unwrap();
        assert!(
            h.descr.contains("'a'") && h.descr.contains("<i4"),
            "{}",
            h.descr
        );
        assert_eq!(h.shape, [3]);
    }

    #[test]
    fn header_refuses_what_is_not_npy() {
        let corrupt = |bytes: &[u8]| {
            let err = Header::read(&mut &bytes[..]).unwrap_err();
            assert!(matches!(err, Error::Corrupt { .. }), "{err}");
            err.to_string()
        };
        assert!(corrupt(b"hello world").contains("not an npy file"));
        assert!(corrupt(b"\x93NUMPY\x01\x00\xff").contains("truncated"));
        assert!(corrupt(&npy_file(4, "{}")).contains("version 4"));
        assert!(corrupt(&npy_file(1, "{'fortran_order': False, 'shape': (3,)}")).contains("descr"));
        assert!(corrupt(&npy_file(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}"
        ))
        .contains("shape"));
        assert!(corrupt(&npy_file(1, "not a dict")).contains("npy header"));
    }
}
