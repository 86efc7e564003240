//! Reading a service's `/metrics` page the way Prometheus does, so tests assert values.

/// One scrape of a `/metrics` page (Prometheus' text format).
#[derive(Debug, Clone)]
pub struct Scrape(pub String);

impl Scrape {
    /// The value of the sample `name{labels…}` whose labels include every pair given (others
    /// may be present); `None` if there is no such sample.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.matching(name, labels).next()
    }

    /// The sum over every sample `name{…}` whose labels include the pairs given (0 if none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).sum()
    }

    /// The values of the samples `name{…}` whose labels include every pair given.
    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = f64> + 'a {
        self.samples(name)
            .filter(move |(sample_labels, _)| {
                labels.iter().all(|(key, value)| {
                    sample_labels.contains(&format!("{key}=\"{}\"", escape(value)))
                })
            })
            .map(|(_, value)| value)
    }

    /// What every Prometheus client reports of its process, with plausible values.
    pub fn assert_process_metrics(&self) {
        let memory = self
            .value("process_resident_memory_bytes", &[])
            .expect("resident memory");
        assert!(memory > 1_000_000.0, "{memory}");
        assert!(self.value("process_cpu_seconds_total", &[]).is_some());
        let fds = self.value("process_open_fds", &[]).expect("open fds");
        assert!(fds > 0.0, "{fds}");
    }

    /// Whether the page has a `# TYPE name kind` line.
    pub fn has_type(&self, name: &str, kind: &str) -> bool {
        self.0
            .lines()
            .any(|line| line == format!("# TYPE {name} {kind}"))
    }

    /// `(labels, value)` of every sample line of `name` (labels as written, `""` if none).
    fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        self.0.lines().filter_map(move |line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = if let Some(rest) = rest.strip_prefix('{') {
                let (labels, value) = rest.split_once("} ")?;
                (labels, value)
            } else {
                ("", rest.strip_prefix(' ')?)
            };
            Some((labels, value.split(' ').next()?.parse().ok()?))
        })
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}
