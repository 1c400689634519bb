//! Repetitions and their summary: every case runs its baseline and pagelog in turn,
//! `reps` times, and reports min / median / max of each and the ratio of medians.

/// Figures of one side of a case (higher is better unless the row says otherwise).
#[derive(Debug, Default, Clone)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    pub fn push(&mut self, x: f64) {
        self.0.push(x);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }
}

/// One printed row: a figure for pagelog, optionally against a baseline.
pub struct Row {
    pub case: String,
    pub unit: &'static str,
    pub baseline: Option<Samples>,
    pub pagelog: Samples,
    /// Extra figures (syncs per op, bytes per message...), already formatted.
    pub note: String,
}

impl Row {
    pub fn ratio(&self) -> Option<f64> {
        self.baseline
            .as_ref()
            .map(|b| self.pagelog.median() / b.median())
    }
}

fn fmt_triplet(s: &Samples) -> String {
    format!(
        "{} / {} / {}",
        short(s.min()),
        short(s.median()),
        short(s.max())
    )
}

/// A figure in three significant digits, with k/M suffixes.
pub fn short(x: f64) -> String {
    let (v, suffix) = if x.abs() >= 1e6 {
        (x / 1e6, "M")
    } else if x.abs() >= 1e4 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{suffix}")
}

/// Prints the table: one line per row, min / median / max of each side.
pub fn print_table(rows: &[Row]) {
    println!(
        "{:<44} {:>10} {:>26} {:>26} {:>7}  note",
        "case", "unit", "baseline min/med/max", "pagelog min/med/max", "ratio"
    );
    for r in rows {
        let base = r.baseline.as_ref().map_or("-".to_string(), fmt_triplet);
        let ratio = r.ratio().map_or("-".to_string(), |x| format!("{x:.2}"));
        println!(
            "{:<44} {:>10} {:>26} {:>26} {:>7}  {}",
            r.case,
            r.unit,
            base,
            fmt_triplet(&r.pagelog),
            ratio,
            r.note
        );
    }
}

/// The machine's load averages now (from /proc/loadavg), to print with the run.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_string())
}
