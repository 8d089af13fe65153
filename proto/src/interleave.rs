//! Interleaving address families (HE-4.3), as a pure function.

use std::net::SocketAddr;

use super::Family;
use super::sort::{Candidate, Keyed, PolicyTable, SourceLabels, sort_keyed_slice};

/// Sorts destinations (RFC 6724, HE-4.1) and interleaves the families (HE-4.3), over groups tried
/// one after the other (HE-10.6: service priorities), each sorted and interleaved within itself,
/// alternation going on from one group to the next, handing each destination to `place` in
/// order (one scratch list for all the sorting, nothing else allocated). `lead` is given the
/// family of the best sorted destination and returns the family to lead with and how many of it
/// come first.
///
/// Destinations that failed recently (HE-4.2) go behind all the others of their group, whatever
/// their family, sorted and interleaved among themselves: tried last, and at once when the others
/// fail, never dropped. Without `history`, what the candidates' history says is left out: the
/// order a race without history would use.
pub(crate) fn sort_and_interleave_into<'a, G>(
    groups: impl IntoIterator<Item = G>,
    table: &PolicyTable,
    history: bool,
    lead: impl FnOnce(Family) -> (Family, usize),
    mut place: impl FnMut(SocketAddr),
) where
    G: IntoIterator<Item = &'a Candidate>,
{
    // Short groups (most races have one of two destinations) are sorted on the stack.
    const INLINE: usize = 4;
    let mut inline = [Keyed::EMPTY; INLINE];
    let mut heap = Vec::new();
    let mut last_family = None;
    let mut lead = Some(lead);
    for group in groups {
        let group = group.into_iter();
        let mut labels = SourceLabels::default();
        let mut key = |c| Keyed::of(c, table, history, &mut labels);
        let keyed: &mut [Keyed] = match group.size_hint().1 {
            Some(most) if most <= INLINE => {
                let mut n = 0;
                for (slot, c) in inline.iter_mut().zip(group) {
                    *slot = key(c);
                    n += 1;
                }
                &mut inline[..n]
            }
            _ => {
                heap.clear();
                heap.extend(group.map(key));
                &mut heap
            }
        };
        let split = sort_keyed_slice(keyed);
        let (fresh, failed) = keyed.split_at(split);
        for part in [fresh, failed] {
            let Some(best) = part.first().map(|k| k.family) else {
                continue;
            };
            let (family, count) = match (lead.take(), last_family) {
                (Some(lead), _) => lead(best),
                // Alternation goes on from the last destination placed.
                (None, Some(last)) => (Family::other(last), 1),
                (None, None) => (best, 1),
            };
            alternate(
                part,
                |k| k.family,
                family,
                count,
                |k| {
                    last_family = Some(k.family);
                    place(k.dst);
                },
            );
        }
    }
}

/// Walks `sorted` in the order [`interleave`] gives, handing each item to `place`.
fn alternate<T: Copy>(
    sorted: &[T],
    family_of: impl Fn(&T) -> Family,
    lead: Family,
    lead_count: usize,
    mut place: impl FnMut(T),
) {
    let mut first = sorted.iter().filter(|t| family_of(t) == lead);
    let mut second = sorted.iter().filter(|t| family_of(t) != lead);
    for t in first.by_ref().take(lead_count) {
        place(*t);
    }
    loop {
        match (second.next(), first.next()) {
            (None, None) => break,
            (x, y) => x.into_iter().chain(y).for_each(|t| place(*t)),
        }
    }
}

/// Reorders a sorted list of destinations and the families they count as (a NAT64 translation
/// counts as IPv4, HE-7.8) so that, after `lead_count` addresses of `lead`, the families alternate,
/// starting with the other family. Within each family the sorted order is kept. When one family
/// runs out, the rest of the other follows in order.
///
/// At the start of a connect `lead` is the family of the best sorted address and `lead_count` the
/// First Address Family Count; when answers arrive mid-race the driver passes the family that must
/// come next so that alternation continues from what was already tried.
#[cfg(test)]
pub(crate) fn interleave(
    sorted: &[(SocketAddr, Family)],
    lead: Family,
    lead_count: usize,
) -> Vec<(SocketAddr, Family)> {
    let mut out = Vec::with_capacity(sorted.len());
    alternate(sorted, |&(_, f)| f, lead, lead_count, |t| out.push(t));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &str) -> Vec<SocketAddr> {
        list.split_whitespace()
            .map(|s| {
                if s.contains(':') {
                    format!("[{s}]:1").parse().unwrap()
                } else {
                    format!("{s}:1").parse().unwrap()
                }
            })
            .collect()
    }

    /// HE-4.3: after First Address Family Count addresses of the first family, alternate.
    #[test]
    fn he_4_3_interleave_table() {
        let table: &[(&str, Family, usize, &str)] = &[
            (
                "2001:db8::1 2001:db8::2 2001:db8::3 192.0.2.1 192.0.2.2",
                Family::V6,
                1,
                "2001:db8::1 192.0.2.1 2001:db8::2 192.0.2.2 2001:db8::3",
            ),
            (
                "2001:db8::1 2001:db8::2 2001:db8::3 192.0.2.1 192.0.2.2",
                Family::V6,
                2,
                "2001:db8::1 2001:db8::2 192.0.2.1 2001:db8::3 192.0.2.2",
            ),
            (
                "192.0.2.1 192.0.2.2 2001:db8::1",
                Family::V4,
                1,
                "192.0.2.1 2001:db8::1 192.0.2.2",
            ),
            (
                "2001:db8::1 2001:db8::2",
                Family::V6,
                1,
                "2001:db8::1 2001:db8::2",
            ),
            ("192.0.2.1 192.0.2.2", Family::V6, 1, "192.0.2.1 192.0.2.2"),
            // Mid-race: IPv4 was tried last, so the untried list leads with IPv6.
            (
                "2001:db8::1 2001:db8::2 192.0.2.2",
                Family::V6,
                1,
                "2001:db8::1 192.0.2.2 2001:db8::2",
            ),
            ("", Family::V6, 1, ""),
            // Sorting put the families in mixed order: interleave keeps each family's order.
            (
                "2001:db8::1 192.0.2.1 2001:db8::2 192.0.2.2 192.0.2.3",
                Family::V6,
                1,
                "2001:db8::1 192.0.2.1 2001:db8::2 192.0.2.2 192.0.2.3",
            ),
        ];
        for (input, lead, count, want) in table {
            let given: Vec<_> = addrs(input)
                .into_iter()
                .map(|a| (a, Family::of(&a)))
                .collect();
            let got: Vec<SocketAddr> = interleave(&given, *lead, *count)
                .into_iter()
                .map(|(a, _)| a)
                .collect();
            assert_eq!(got, addrs(want), "{input} lead {lead:?} x{count}");
        }
    }
}
