//! How the parent summarises repetitions (median, spread, ratios). What a repetition measures
//! of its own process comes from `impl/benches/cluster/process_stats.rs`, shared with the cluster bench.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::process_stats::round;

/// Median, min and max of the finite values, and every value as measured (an infinite value,
/// such as a detection that never came, shows as `null` in `values` and is counted apart).
pub(crate) fn summary(values: &[f64]) -> Value {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let missing = values.len() - v.len();
    let listed: Vec<Value> = values
        .iter()
        .map(|x| {
            if x.is_finite() {
                json!(round(*x))
            } else {
                Value::Null
            }
        })
        .collect();
    if v.is_empty() {
        return json!({ "median": null, "min": null, "max": null, "missing": missing, "values": listed });
    }
    json!({
        "median": round(median(&v)),
        "min": round(v[0]),
        "max": round(v[v.len() - 1]),
        "missing": missing,
        "values": listed,
    })
}

/// Median of sorted finite values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The repetitions of one library, metric by metric (each repetition reports a flat map of
/// figures; a metric missing from a repetition is left out of that metric's column).
pub(crate) fn columns(reps: &[Map<String, Value>]) -> BTreeMap<String, Vec<f64>> {
    let mut cols: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for rep in reps {
        for (k, v) in rep {
            // A JSON null stands for "never happened" (infinite time).
            let x = v.as_f64().unwrap_or(f64::INFINITY);
            cols.entry(k.clone()).or_default().push(x);
        }
    }
    cols
}

/// `ours / base` of the medians and of the maxima of every metric both have (a zero or
/// missing base gives no ratio).
pub(crate) fn ratios(ours: &Map<String, Value>, base: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (k, s) in ours {
        let Some(b) = base.get(k) else { continue };
        let mut r = Map::new();
        for stat in ["median", "max"] {
            if let (Some(x), Some(y)) = (s[stat].as_f64(), b[stat].as_f64())
                && y != 0.0
            {
                r.insert(stat.into(), json!(round(x / y)));
            }
        }
        if !r.is_empty() {
            out.insert(k.clone(), Value::Object(r));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_the_median_of_finite_values_and_counts_the_rest() {
        let s = summary(&[3.0, 1.0, f64::INFINITY, 2.0, 10.0]);
        assert_eq!(s["median"], json!(2.5));
        assert_eq!(s["min"], json!(1.0));
        assert_eq!(s["max"], json!(10.0));
        assert_eq!(s["missing"], json!(1));
        assert_eq!(s["values"][2], Value::Null);
        assert_eq!(summary(&[])["median"], Value::Null);
    }

    #[test]
    fn ratios_divide_medians_and_maxima_and_skip_a_zero_base() {
        let ours = json!({ "a": summary(&[2.0, 4.0]), "b": summary(&[1.0]), "c": summary(&[1.0]) });
        let base = json!({ "a": summary(&[1.0, 1.0]), "b": summary(&[0.0]) });
        let r = ratios(ours.as_object().unwrap(), base.as_object().unwrap());
        assert_eq!(r["a"]["median"], json!(3.0));
        assert_eq!(r["a"]["max"], json!(4.0));
        assert!(r.get("b").is_none() && r.get("c").is_none());
    }

    #[test]
    fn columns_gather_each_metric_and_read_null_as_never() {
        let reps: Vec<Map<String, Value>> = [json!({"t": 1.0}), json!({"t": null, "u": 2})]
            .into_iter()
            .map(|v| v.as_object().unwrap().clone())
            .collect();
        let cols = columns(&reps);
        assert_eq!(cols["t"][0], 1.0);
        assert!(cols["t"][1].is_infinite());
        assert_eq!(cols["u"], vec![2.0]);
    }

    #[test]
    fn round_keeps_four_significant_digits() {
        assert_eq!(round(0.000_323_456), 0.000_323_5);
        assert_eq!(round(1234.56), 1235.0);
    }
}
