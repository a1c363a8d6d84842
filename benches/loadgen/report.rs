//! The run's record: the machine, the commit, the command, one table of figures against their
//! targets, printed and written into BENCHMARKS.md as its `## Performance (issue 6)` section.

use std::path::Path;
use std::process::Command;

pub const SECTION: &str = "## Performance (issue 6)";

/// One line of the table.
pub struct Row {
    pub measure: String,
    pub figure: String,
    pub target: String,
    /// `None` when the figure has no target.
    pub met: Option<bool>,
}

impl Row {
    pub fn new(measure: impl Into<String>, figure: impl Into<String>) -> Row {
        Row {
            measure: measure.into(),
            figure: figure.into(),
            target: "-".into(),
            met: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>, met: bool) -> Row {
        self.target = target.into();
        self.met = Some(met);
        self
    }

    fn verdict(&self) -> &'static str {
        match self.met {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "-",
        }
    }
}

fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// What the figures were measured on, one item per line.
pub fn machine() -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown OS".into());
    let kernel = run("uname", &["-r"]).unwrap_or_else(|| "?".into());
    let redis = run("redis-server", &["--version"]).unwrap_or_else(|| "redis-server ?".into());
    let rustc = run("rustc", &["--version"]).unwrap_or_else(|| "rustc ?".into());
    let moto = run(
        "python3",
        &["-c", "import moto; print('moto ' + moto.__version__)"],
    )
    .unwrap_or_else(|| "moto ?".into());
    vec![
        format!(
            "{model}, {cores} cores, {:.1} GiB RAM",
            mem_kib as f64 / 1024.0 / 1024.0
        ),
        format!("{os}, Linux {kernel}"),
        redis,
        rustc,
        moto,
    ]
}

/// The short commit, with `+uncommitted` when the work tree has changes.
pub fn commit(root: &Path) -> String {
    let root = root.to_string_lossy();
    let head = run("git", &["-C", &root, "rev-parse", "--short", "HEAD"])
        .unwrap_or_else(|| "unknown".into());
    let dirty = run("git", &["-C", &root, "status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}+uncommitted")
    } else {
        head
    }
}

/// 12345.6 -> "12,346".
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// The table as aligned text, for the terminal.
pub fn text_table(rows: &[Row]) -> String {
    let w = |f: fn(&Row) -> &str| rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0);
    let (wm, wf, wt) = (
        w(|r| &r.measure).max(7),
        w(|r| &r.figure).max(6),
        w(|r| &r.target).max(6),
    );
    let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n.saturating_sub(s.chars().count())));
    let mut out = format!(
        "{}  {}  {}  result\n",
        pad("measure", wm),
        pad("figure", wf),
        pad("target", wt)
    );
    for r in rows {
        out.push_str(&format!(
            "{}  {}  {}  {}\n",
            pad(&r.measure, wm),
            pad(&r.figure, wf),
            pad(&r.target, wt),
            r.verdict()
        ));
    }
    out
}

/// The table in Markdown.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = String::from("| measure | figure | target | result |\n|---|---|---|---|\n");
    for r in rows {
        let verdict = match r.met {
            Some(_) => format!("**{}**", r.verdict()),
            None => "-".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.measure, r.figure, r.target, verdict
        ));
    }
    out
}

/// Replace the section (from its heading to the end of the file, where it lives) with `body`,
/// or append it.
pub fn write_section(path: &Path, body: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let kept = match text.find(&format!("\n{SECTION}\n")) {
        Some(at) => &text[..at],
        None => text.as_str(),
    };
    let mut out = kept.trim_end().to_string();
    out.push_str("\n\n");
    out.push_str(body.trim_end());
    out.push('\n');
    std::fs::write(path, out)
}
