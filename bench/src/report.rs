//! Figures as a table and as JSON; percentiles.

use serde_json::Value;
use std::time::Duration;

/// One section of the table.
#[derive(Debug, Default)]
pub struct Section {
    pub title: String,
    pub notes: Vec<String>,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub footer: Vec<String>,
}

/// A figure that missed its target.
#[derive(Debug, Clone)]
pub struct Miss {
    pub figure: String,
    pub measured: String,
    pub target: String,
}

/// What a part of the bench hands back.
#[derive(Debug, Default)]
pub struct Out {
    pub json: Value,
    pub sections: Vec<Section>,
    pub missed: Vec<Miss>,
}

impl Section {
    pub fn new(title: &str, headers: &[&str]) -> Self {
        Section {
            title: title.to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            ..Section::default()
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for n in &self.notes {
            out.push_str(&format!("  {n}\n"));
        }
        if !self.headers.is_empty() {
            let cols = self.headers.len();
            let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
            for r in &self.rows {
                for (i, c) in r.iter().enumerate().take(cols) {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
            let line = |cells: &[String]| {
                let mut s = String::from("  ");
                for (i, c) in cells.iter().enumerate().take(cols) {
                    let pad = widths[i] - c.chars().count();
                    s.push_str(c);
                    if i + 1 < cols {
                        s.push_str(&" ".repeat(pad + 2));
                    }
                }
                s.trim_end().to_owned() + "\n"
            };
            out.push_str(&line(&self.headers));
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&line(&rule));
            for r in &self.rows {
                out.push_str(&line(r));
            }
        }
        for f in &self.footer {
            out.push_str(&format!("  {f}\n"));
        }
        out
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted values.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

pub fn fmt_ms(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x < 10.0 {
        format!("{x:.2} ms")
    } else {
        format!("{x:.1} ms")
    }
}

pub fn yes_no(ok: bool) -> String {
    if ok { "yes" } else { "NO" }.into()
}

/// Rounded for JSON (three decimals).
pub fn r3(x: f64) -> Value {
    if x.is_finite() {
        serde_json::json!((x * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = sorted((1..=100).rev().map(f64::from).collect());
        assert_eq!(pct(&v, 50.0), 50.0);
        assert_eq!(pct(&v, 99.0), 99.0);
        assert_eq!(pct(&v, 0.0), 1.0);
        assert_eq!(pct(&v, 100.0), 100.0);
        assert_eq!(pct(&[7.0], 99.0), 7.0);
        assert!(pct(&[], 50.0).is_nan());
    }
}
