//! Terminal output: aligned tables, sizes, and colour only where it belongs.

use std::io::{self, BufWriter, IsTerminal, Stdout, Write};

/// Standard output, buffered, with the colour decision made once.
pub(crate) struct Out {
    w: BufWriter<Stdout>,
    pub(crate) paint: Paint,
}

impl Out {
    pub(crate) fn stdout() -> Out {
        let stdout = io::stdout();
        let paint = Paint::for_stream(stdout.is_terminal());
        Out {
            w: BufWriter::new(stdout),
            paint,
        }
    }

    /// Writes one line.
    pub(crate) fn line(&mut self, text: impl AsRef<str>) -> io::Result<()> {
        self.w.write_all(text.as_ref().as_bytes())?;
        self.w.write_all(b"\n")
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// ANSI styles, or nothing: colour only on a terminal, and never with `NO_COLOR`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paint {
    on: bool,
}

/// A style for one table cell or word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
    Blue,
}

impl Paint {
    /// Colour for a stream that is (or is not) a terminal, unless `NO_COLOR`
    /// is set to anything non-empty (<https://no-color.org>).
    pub(crate) fn for_stream(is_terminal: bool) -> Paint {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Paint {
            on: is_terminal && !no_color,
        }
    }

    pub(crate) fn is_on(self) -> bool {
        self.on
    }

    pub(crate) fn style(self, style: Style, text: &str) -> String {
        let code = match style {
            Style::Plain => return text.to_owned(),
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Red => "31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Blue => "1;34",
        };
        if self.on && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub(crate) fn error(self, text: &str) -> String {
        self.style(Style::Red, text)
    }
}

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table printed with aligned columns: widths come from the plain text,
/// colour is applied after padding so escapes never shift a column.
pub(crate) struct Table {
    headers: Vec<&'static str>,
    align: Vec<Align>,
    rows: Vec<Vec<(String, Style)>>,
    indent: usize,
}

impl Table {
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            align: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
            indent: 0,
        }
    }

    /// Indents every line by `n` spaces.
    pub(crate) fn indent(mut self, n: usize) -> Table {
        self.indent = n;
        self
    }

    pub(crate) fn row(&mut self, cells: Vec<(String, Style)>) {
        self.rows.push(cells);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn print(&self, out: &mut Out) -> io::Result<()> {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, (text, _)) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(width(text));
            }
        }
        let paint = out.paint;
        let header: Vec<(String, Style)> = self
            .headers
            .iter()
            .map(|h| ((*h).to_owned(), Style::Bold))
            .collect();
        let header_line = self.format_row(&header, &widths, paint);
        out.line(header_line)?;
        for row in &self.rows {
            let line = self.format_row(row, &widths, paint);
            out.line(line)?;
        }
        Ok(())
    }

    fn format_row(&self, row: &[(String, Style)], widths: &[usize], paint: Paint) -> String {
        let mut line = " ".repeat(self.indent);
        let last = row.len().min(widths.len()).saturating_sub(1);
        for (i, (text, style)) in row.iter().enumerate().take(widths.len()) {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i].saturating_sub(width(text));
            let styled = paint.style(*style, text);
            match self.align[i] {
                Align::Right => {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(&styled);
                }
                Align::Left => {
                    line.push_str(&styled);
                    // No trailing spaces after the last column.
                    if i < last {
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
        }
        line
    }
}

/// Columns a text takes on a terminal (one per character: good enough for
/// the names persist writes).
pub(crate) fn width(text: &str) -> usize {
    text.chars().count()
}

/// A byte count as people read it: `812 B`, `1.2 KiB`, `3.4 GiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A duration as people write it: `1h`, `30m`, `90s`.
pub(crate) fn human_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// How old something is, in its largest whole unit: `40d`, `3h`, `12m`, `5s`.
pub(crate) fn short_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `saved_at` as stored (`2026-11-21T23:53:03Z`) in a shorter form
/// (`2026-11-21 23:53:03`); other text unchanged.
pub(crate) fn short_time(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z') {
        Some(t) if t.len() == 19 && t.as_bytes().get(10) == Some(&b'T') => t.replacen('T', " ", 1),
        _ => rfc3339.to_owned(),
    }
}

/// Cuts a text to `max` characters, marking the cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(200 * 1024 * 1024), "200 MiB");
        assert_eq!(human_bytes(u64::MAX), "16 EiB");
    }

    #[test]
    fn times_and_clips() {
        assert_eq!(short_time("2026-11-21T23:53:03Z"), "2026-11-21 23:53:03");
        assert_eq!(short_time("yesterday"), "yesterday");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(human_age(std::time::Duration::from_secs(3600)), "1h");
        assert_eq!(human_age(std::time::Duration::from_secs(90)), "90s");
        assert_eq!(
            short_age(std::time::Duration::from_secs(40 * 86_400 + 5)),
            "40d"
        );
        assert_eq!(short_age(std::time::Duration::from_secs(7199)), "1h");
        assert_eq!(short_age(std::time::Duration::from_secs(59)), "59s");
    }

    #[test]
    fn table_aligns_without_trailing_spaces() {
        let mut t = Table::new(&[
            ("A", Align::Left),
            ("SIZE", Align::Right),
            ("NAME", Align::Left),
        ]);
        t.row(vec![
            ("x".into(), Style::Plain),
            ("1 B".into(), Style::Plain),
            ("n".into(), Style::Plain),
        ]);
        t.row(vec![
            ("long".into(), Style::Plain),
            ("10 KiB".into(), Style::Plain),
            ("m".into(), Style::Plain),
        ]);
        let paint = Paint { on: false };
        let widths = [4, 6, 4];
        assert_eq!(t.format_row(&t.rows[0], &widths, paint), "x        1 B  n");
        assert_eq!(t.format_row(&t.rows[1], &widths, paint), "long  10 KiB  m");
    }
}
