//! "Did you mean …?": the nearest known name to a misspelled key or section.
//!
//! Distance is optimal string alignment (Levenshtein plus adjacent transpositions), computed on
//! lowercased text, so `two_nodes` → `two_node`, `tokne` → `token`, `Token` → `token`. A
//! suggestion is only made when the distance is at most a third of the candidate's length (at
//! least 1), so unrelated words get no suggestion.

/// The closest of `known` to `word`, if it is close enough; ties go to the earlier entry.
pub(crate) fn nearest(word: &str, known: &[&'static str]) -> Option<&'static str> {
    let word: Vec<char> = word.to_lowercase().chars().collect();
    let mut best: Option<(usize, &'static str)> = None;
    for &candidate in known {
        let cand: Vec<char> = candidate.to_lowercase().chars().collect();
        let limit = (cand.len() / 3).max(1);
        let d = distance(&word, &cand);
        if d <= limit && !matches!(best, Some((bd, _)) if bd <= d) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance between `a` and `b`.
fn distance(a: &[char], b: &[char]) -> usize {
    // Three rolling rows: two back (for transpositions), previous, current.
    let width = b.len() + 1;
    let mut before: Vec<usize> = vec![0; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur: Vec<usize> = vec![0; width];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(a: &str, b: &str) -> usize {
        distance(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>())
    }

    #[test]
    fn distances() {
        assert_eq!(d("", ""), 0);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("two_nodes", "two_node"), 1);
        assert_eq!(d("tokne", "token"), 1);
        assert_eq!(d("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        let keys = ["token", "two_node", "join", "hold"];
        assert_eq!(nearest("two_nodes", &keys), Some("two_node"));
        assert_eq!(nearest("Token", &keys), Some("token"));
        assert_eq!(nearest("tokken", &keys), Some("token"));
        assert_eq!(nearest("banana", &keys), None);
        assert_eq!(nearest("", &keys), None);
    }
}
