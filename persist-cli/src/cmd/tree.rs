//! `persist tree`: the store as a tree, with sizes.

use std::process::ExitCode;

use persist_core::Store;

use crate::output::{human_bytes, width, Out, Style};
use crate::{CliResult, Opened};

struct Node {
    name: String,
    is_dir: bool,
    size: u64,
    files: u64,
    children: Vec<Node>,
}

fn build_tree(store: &Store, path: &str, name: String) -> CliResult<Node> {
    let mut entries = store.backend().list(path)?;
    entries.sort_by(|a, b| natural(&a.name, &b.name));
    let mut node = Node {
        name,
        is_dir: true,
        size: 0,
        files: 0,
        children: Vec::with_capacity(entries.len()),
    };
    for e in entries {
        let child_path = if path.is_empty() {
            e.name.clone()
        } else {
            format!("{path}/{}", e.name)
        };
        let child = if e.is_dir {
            build_tree(store, &child_path, e.name)?
        } else {
            Node {
                name: e.name,
                is_dir: false,
                size: e.size,
                files: 1,
                children: Vec::new(),
            }
        };
        node.size += child.size;
        node.files += child.files;
        node.children.push(child);
    }
    Ok(node)
}

/// Numbered folders in numeric order, everything else by name.
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        _ => a.cmp(b),
    }
}

pub(crate) fn tree(opened: &Opened, depth: Option<usize>, out: &mut Out) -> CliResult {
    let root = build_tree(&opened.store, "", opened.shown.clone())?;
    let mut lines: Vec<(String, String, Style, String)> = Vec::new();
    lines.push((
        String::new(),
        root.name.clone(),
        Style::Blue,
        human_bytes(root.size),
    ));
    tree_lines(&root, "", 1, depth, &mut lines);
    let w = lines
        .iter()
        .map(|(pre, name, _, _)| width(pre) + width(name))
        .max()
        .unwrap_or(0);
    let sw = lines.iter().map(|l| width(&l.3)).max().unwrap_or(0);
    let p = out.paint;
    for (prefix, name, style, size) in lines {
        let pad = " ".repeat(w - width(&prefix) - width(&name));
        let size = format!("{size:>sw$}");
        out.line(format!(
            "{prefix}{}{pad}  {}",
            p.style(style, &name),
            p.style(Style::Dim, &size)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn tree_lines(
    node: &Node,
    prefix: &str,
    level: usize,
    depth: Option<usize>,
    lines: &mut Vec<(String, String, Style, String)>,
) {
    let n = node.children.len();
    for (i, child) in node.children.iter().enumerate() {
        let last = i + 1 == n;
        let branch = if last { "└── " } else { "├── " };
        let collapsed =
            child.is_dir && depth.is_some_and(|d| level >= d) && !child.children.is_empty();
        let (name, style) = if child.is_dir {
            let mut name = format!("{}/", child.name);
            if collapsed {
                let files = if child.files == 1 { "file" } else { "files" };
                name.push_str(&format!(" ({} {files})", child.files));
            }
            (name, Style::Blue)
        } else if child.name.starts_with('.') {
            (child.name.clone(), Style::Dim)
        } else {
            (child.name.clone(), Style::Plain)
        };
        lines.push((
            format!("{prefix}{branch}"),
            name,
            style,
            human_bytes(child.size),
        ));
        if child.is_dir && !collapsed {
            let next = format!("{prefix}{}", if last { "    " } else { "│   " });
            tree_lines(child, &next, level + 1, depth, lines);
        }
    }
}
