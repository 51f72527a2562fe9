//! Upgrade domains: the targets, in rollout order, cut into consecutive groups of even size.

/// The targets (by index, in rollout order) of each upgrade domain: `domains` groups whose sizes
/// differ by at most one, the larger ones first (14 targets in 5 domains: 3, 3, 3, 3, 2). With
/// fewer targets than domains, each target is a domain of its own (no empty domains).
pub fn distribute(targets: usize, domains: usize) -> Vec<Vec<usize>> {
    let domains = domains.max(1).min(targets);
    if domains == 0 {
        return Vec::new();
    }
    let base = targets / domains;
    let extra = targets % domains;
    let mut out = Vec::with_capacity(domains);
    let mut next = 0;
    for d in 0..domains {
        let size = base + usize::from(d < extra);
        out.push((next..next + size).collect());
        next += size;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(targets: usize, domains: usize) -> Vec<usize> {
        distribute(targets, domains).iter().map(Vec::len).collect()
    }

    #[test]
    fn fourteen_targets_in_five_domains() {
        assert_eq!(sizes(14, 5), [3, 3, 3, 3, 2]);
        assert_eq!(
            distribute(14, 5),
            [
                vec![0, 1, 2],
                vec![3, 4, 5],
                vec![6, 7, 8],
                vec![9, 10, 11],
                vec![12, 13]
            ]
        );
    }

    #[test]
    fn even_and_uneven_spreads() {
        assert_eq!(sizes(20, 5), [4, 4, 4, 4, 4]);
        assert_eq!(sizes(100, 5), [20; 5]);
        assert_eq!(sizes(10, 3), [4, 3, 3]);
        assert_eq!(
            sizes(21, 20),
            [2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        );
        assert_eq!(sizes(7, 1), [7]);
    }

    #[test]
    fn fewer_targets_than_domains_gives_one_target_per_domain() {
        assert_eq!(sizes(3, 5), [1, 1, 1]);
        assert_eq!(sizes(1, 20), [1]);
        assert!(distribute(0, 5).is_empty());
    }

    #[test]
    fn every_target_lands_in_exactly_one_domain_in_order() {
        for targets in 0..60 {
            for domains in 1..=20 {
                let got = distribute(targets, domains);
                let flat: Vec<usize> = got.iter().flatten().copied().collect();
                assert_eq!(flat, (0..targets).collect::<Vec<_>>());
                let (min, max) = (
                    got.iter().map(Vec::len).min().unwrap_or(0),
                    got.iter().map(Vec::len).max().unwrap_or(0),
                );
                assert!(max - min <= 1, "{targets} in {domains}: {got:?}");
                assert_eq!(got.len(), domains.min(targets));
            }
        }
    }
}
