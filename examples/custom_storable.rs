//! Your own file format: implement `Storable` (dman's `storable`) and use the
//! type in a `#[record]` field or with `save_file`.
//!
//! ```text
//! cargo run --example custom_storable
//! ```

use std::io::{Read, Write};

use persist_core::{Error, Lazy, Persistence, Result, Storable, Store};

/// A table of (x, y) points kept as CSV, readable by any spreadsheet.
#[derive(Debug, Clone, PartialEq, Default)]
struct Points(Vec<(f64, f64)>);

impl Storable for Points {
    const EXTENSION: &'static str = "csv";

    fn write(&self, w: &mut dyn Write) -> Result<()> {
        writeln!(w, "x,y").map_err(Error::io)?;
        for (x, y) in &self.0 {
            writeln!(w, "{x},{y}").map_err(Error::io)?;
        }
        Ok(())
    }

    fn read(r: &mut dyn Read) -> Result<Self> {
        let mut text = String::new();
        r.read_to_string(&mut text).map_err(Error::io)?;
        let mut points = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let bad = || Error::corrupt(format!("line {}: expected `x,y`, found {line:?}", i + 1));
            let (x, y) = line.split_once(',').ok_or_else(bad)?;
            points.push((
                x.trim().parse().map_err(|_| bad())?,
                y.trim().parse().map_err(|_| bad())?,
            ));
        }
        Ok(Points(points))
    }
}

#[derive(Persistence, Debug)]
struct Curve {
    #[key]
    #[filename]
    name: String,
    #[record]
    points: Lazy<Points>,
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let mut curve = Curve::new("parabola");
    curve.points.set(Points(
        (0..5).map(|i| (f64::from(i), f64::from(i * i))).collect(),
    ));
    curve.save(&store)?;
    let back = Curve::new("parabola").load(&store)?;
    println!("{back}: {:?}", back.points.get()?.0);
    assert_eq!(back.points.get()?, curve.points.get()?);
    Ok(())
}
