//! A simulator that drives [`Race`] with an arbitrary sequence of events decoded from bytes, and
//! checks the machine's invariants after every step. The fuzz target and the property tests both
//! run it, so every CI run checks the same invariants the fuzzer does.
//!
//! Invariants:
//! 1. no address is tried twice, an IPv4-mapped IPv6 address and the IPv4 address it carries
//!    being one address (HE-5.6, HE-5.7);
//! 2. no attempt started by the stagger timer starts before the deadline the machine announced,
//!    nor closer than 10 ms to the attempt before it (HE-5.1, HE-5.2, HE-5.8);
//! 3. at most one winner, and nothing at all happens after `Done`;
//! 4. when the race is done, every started attempt has ended (failed, won or been cancelled);
//! 5. once both lookups are settled and no attempt is running, the race is done;
//! 6. the next deadline never lies in the past;
//! 7. the race always ends: after the events run out, failing every attempt and letting time pass
//!    reaches `Done` in a bounded number of steps;
//! 8. queries are asked for first, the HTTPS query (when on) before AAAA, AAAA before A, each at
//!    most once (HE-3.1, HE-10.2);
//! 9. a handshake under way holds the next attempt back by at most one attempt delay (HE-9.3);
//! 10. an alias is followed at most 8 times, and each TargetName is asked once per family
//!     (HE-10.7);
//! 11. an address the address policy denies is never started, a NAT64 translation judged by the
//!     IPv4 address it stands for (HE-7.6).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::Family;
use super::history::{PastFailure, Remembered};
use super::machine::{
    Action, Addresses, Answer, AttemptId, CancelReason, Input, MIN_ATTEMPT_GAP, Query, QueryId,
    Race, RaceConfig,
};
use super::nat64::{Nat64, PrefixSource, SynthesizedBy, Translation};
use super::policy::AddressPolicy;
use super::sort::Candidate;
use super::svcb::ServiceRecord;

/// Reads bytes one at a time; zero once they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A small pool, so duplicates are common; IPv6 includes hostile forms (v4-mapped, unspecified,
/// multicast) and some have no route (no source address). IPv4 answers include NAT64
/// translations (an IPv6 destination standing for an IPv4 address, HE-7.8).
fn address(family: Family, n: u8) -> Candidate {
    let i = n % 12;
    let ip = match family {
        Family::V6 => match i {
            9 => IpAddr::V6(Ipv4Addr::new(192, 0, 2, 9).to_ipv6_mapped()),
            10 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            11 => IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)),
            _ => IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0,
                u16::from(i % 3),
                0,
                0,
                0,
                u16::from(i) + 1,
            )),
        },
        Family::V4 => match i {
            9 => IpAddr::V6(crate::nat64::WELL_KNOWN.synthesize(Ipv4Addr::new(192, 0, 2, 10))),
            10 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            11 => IpAddr::V4(Ipv4Addr::BROADCAST),
            _ => IpAddr::V4(Ipv4Addr::new(192, 0, 2, i + 1)),
        },
    };
    let src = match (n / 12) % 4 {
        0 => None,
        _ if ip.is_ipv6() => Some(IpAddr::V6(Ipv6Addr::new(
            0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x100,
        ))),
        _ => Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200))),
    };
    Candidate {
        dst: SocketAddr::new(ip, 443),
        src,
        hist: history_of(n),
        origin: (family == Family::V4 && i == 9).then(|| Translation {
            ipv4: Ipv4Addr::new(192, 0, 2, 10),
            prefix: crate::nat64::WELL_KNOWN,
            by: SynthesizedBy::Client,
            learned: PrefixSource::WellKnown,
        }),
    }
}

/// Some addresses come with history: an RTT (near or far), a recent failure, or having worked.
fn history_of(n: u8) -> Remembered {
    let rtt = |ms: u64| Some((Duration::from_millis(ms), Duration::from_millis(ms / 2)));
    match (n / 48) % 5 {
        1 => Remembered::default().with_rtt(rtt(2)).with_worked(true),
        // HE-12.4: QUIC broken to it.
        2 => (Remembered::default().with_rtt(rtt(350)))
            .with_worked(true)
            .with_quic_broken(true),
        3 => Remembered::default().with_failed(Some(PastFailure::TimedOut)),
        4 => (Remembered::default().with_rtt(rtt(40))).with_failed(Some(PastFailure::LostRace)),
        _ => Remembered::default(),
    }
}

/// An HTTPS answer from the bytes: up to three records and their hints.
fn service_answer(b: &mut Bytes<'_>) -> (Vec<ServiceRecord>, Vec<Candidate>) {
    let mut records = Vec::new();
    let mut hints = Vec::new();
    for _ in 0..b.u8() % 4 {
        let k = b.u8();
        let mut r = ServiceRecord {
            priority: u16::from(k % 4),
            ..ServiceRecord::default()
        };
        if k & 0x10 != 0 {
            r.port = Some(8443);
        }
        if k & 0x20 != 0 {
            r.alpn = vec![b"h3".to_vec()];
            r.no_default_alpn = true;
        }
        // HE-10.7: other TargetNames (a small set, so they repeat), and aliases (priority 0).
        if k & 0x08 != 0 {
            r.target = format!("t{}.test", k % 3);
        }
        for _ in 0..(k >> 6) {
            let family = if b.u8() & 1 == 0 {
                Family::V6
            } else {
                Family::V4
            };
            let c = address(family, b.u8());
            match c.dst.ip() {
                IpAddr::V6(ip) => r.ipv6_hints.push(ip),
                IpAddr::V4(ip) => r.ipv4_hints.push(ip),
            }
            hints.push(c);
        }
        records.push(r);
    }
    (records, hints)
}

fn config(b: &mut Bytes<'_>) -> RaceConfig {
    let ms = |v: u16| Duration::from_millis(u64::from(v));
    let attempt_delay = ms(10 + b.u16() % 1991);
    RaceConfig {
        resolution_delay: ms(b.u16() % 2001),
        attempt_delay,
        // With history half of the time, decided without reading another byte (so the regression
        // corpus keeps its meaning).
        adaptive_delay: (attempt_delay.as_millis() % 2 == 0).then_some((ms(10), attempt_delay)),
        first_family_count: 1 + usize::from(b.u8() % 3),
        attempt_timeout: match b.u8() % 3 {
            0 => Some(ms(1 + b.u16() % 3000)),
            _ => None,
        },
        connect_timeout: match b.u8() % 3 {
            0 => Some(Duration::from_millis(1 + u64::from(b.u16()))),
            _ => None,
        },
    }
}

#[derive(Default)]
struct Seen {
    /// The race has the address policy of [`denies_nothing_ending_in_3`].
    policy: bool,
    started: Vec<(AttemptId, SocketAddr, Instant)>,
    addrs: HashSet<(SocketAddr, crate::Protocol)>,
    ended: HashSet<AttemptId>,
    winners: usize,
    done: bool,
    lookups_settled: [bool; 2],
    /// The HTTPS lookup is on and unanswered.
    service_pending: bool,
    service_queried: bool,
    /// Aliases followed, and TargetName queries asked and not answered.
    aliases: usize,
    targets_asked: HashSet<(String, Family)>,
    targets_pending: Vec<(QueryId, String, Family)>,
    /// The latest HTTPS query's id.
    service_id: Option<QueryId>,
    /// The machine's deadline as announced after the previous step.
    deadline: Option<Instant>,
    queried: HashSet<Family>,
}

/// Runs the simulation that `data` describes; `Err` names the first broken invariant.
// Public for the fuzz target (through `__internal`); only the crate's tests use it otherwise.
#[allow(unreachable_pub)]
pub fn run(data: &[u8]) -> Result<(), String> {
    let mut b = Bytes(data);
    let config = config(&mut b);
    let t0 = Instant::now();
    let mut now = t0;
    let query = [b.u8() % 4 != 0, b.u8() % 4 != 0];
    let addresses = if b.u8() % 2 == 0 {
        Addresses::Query {
            v6: query[0],
            v4: query[1],
        }
    } else {
        Addresses::Given {
            v6: query[0],
            v4: query[1],
        }
    };
    let mut race = Race::new(config, now, addresses);
    // An address policy for a third of the races, decided without reading another byte: it
    // denies the pool's addresses ending in 3 (a NAT64 translation judged by its IPv4 address).
    let policy = config.attempt_delay.as_millis().is_multiple_of(3);
    if policy {
        race = race.with_address_policy(AddressPolicy::custom(denies_nothing_ending_in_3));
    }
    // HTTPS records on for half of the races that query, decided without reading another byte
    // (so the regression corpus keeps its meaning).
    let service = matches!(addresses, Addresses::Query { .. })
        && query.contains(&true)
        && config.resolution_delay.as_millis() % 2 == 1;
    if service {
        race = race.with_service_query(
            "example.com",
            443,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            |_| {},
        );
    }
    // A network without an IPv4 route whose NAT64 prefix is discovered, for a fifth of the
    // races (decided without reading another byte).
    // HE-12.x: QUIC raced against TCP in one race of two, on the connect's port or another.
    let quic = config.attempt_delay.as_millis() % 8;
    if quic < 4 {
        race = race.with_quic(crate::QuicPlan {
            protocols: vec![b"h3".to_vec()],
            origin_port: [None, Some(443), Some(8443), Some(443)][quic as usize],
            prefer_tcp: quic == 2,
            recently_broken: quic == 3,
        });
    }
    if config.attempt_delay.as_millis().is_multiple_of(5) {
        let source = Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x100);
        race = race.with_nat64(Nat64::discover(Some(source.into())));
    }
    let mut seen = Seen {
        policy,
        lookups_settled: [!query[0], !query[1]],
        service_pending: service,
        ..Seen::default()
    };
    drain(&mut race, &mut seen, now, false)?;
    let mut steps = 0usize;
    while !b.is_empty() && steps < 10_000 {
        steps += 1;
        let op = b.u8();
        let timer = match op % 8 {
            0 | 1 => {
                let family = if op & 0x10 == 0 {
                    Family::V6
                } else {
                    Family::V4
                };
                let count = if op & 0x20 == 0 {
                    usize::from(b.u8() % 8)
                } else {
                    usize::from(b.u16() % 3000)
                };
                if family == Family::V4 && race.nat64_waiting() {
                    // HE-7.7: IPv4 destinations wait for the prefix, as a driver holds them.
                    answer_nat64(&mut race, op & 0x80 != 0, now);
                }
                let addrs = (0..count)
                    .map(|_| address(family, b.u8()))
                    .map(|c| Candidate {
                        // Through the race's NAT64 knowledge, as a driver feeds them.
                        hist: c.hist,
                        ..c.origin.map_or_else(|| race.candidate(c.dst, c.src), |_| c)
                    })
                    .collect();
                // An answer for a family not announced goes under an id the race never gave.
                let asked = race.query_id(&Query::Addresses(family));
                let id = asked.unwrap_or(QueryId(usize::from(op)));
                // Sometimes only a part of a long answer, with more to come.
                if op & 0x40 == 0 {
                    let answer = Answer::Addresses(addrs);
                    race.handle(Input::Answer { id, answer }, now);
                    seen.lookups_settled[family.index()] |= asked.is_some();
                } else {
                    let answer = Answer::Part(addrs);
                    race.handle(Input::Answer { id, answer }, now);
                }
                false
            }
            2 if op & 0x20 != 0 => {
                // The HTTPS answer: a few records, some AliasMode, some h3-only, some with a
                // port, with hints from the same small pool as the answers.
                let answer = if op & 0x40 != 0 {
                    Answer::Failed
                } else {
                    let (records, hints) = service_answer(&mut b);
                    Answer::Records { records, hints }
                };
                // Without an HTTPS query, under an id the race never gave.
                let id = seen.service_id.unwrap_or(QueryId(usize::from(op)));
                race.handle(Input::Answer { id, answer }, now);
                seen.service_pending = false;
                false
            }
            2 => {
                let family = if op & 0x10 == 0 {
                    Family::V6
                } else {
                    Family::V4
                };
                let asked = race.query_id(&Query::Addresses(family));
                let id = asked.unwrap_or(QueryId(usize::from(op)));
                race.handle(
                    Input::Answer {
                        id,
                        answer: Answer::Failed,
                    },
                    now,
                );
                seen.lookups_settled[family.index()] |= asked.is_some();
                false
            }
            3 | 4 => {
                // An event for a started attempt (or, sometimes, for one that does not exist).
                let pick = usize::from(b.u8());
                let id = seen
                    .started
                    .get(pick % seen.started.len().max(1))
                    .map_or(AttemptId(pick), |s| s.0);
                let input = match (op % 8, op & 0x40) {
                    (3, _) => Input::AttemptFailed(id),
                    (_, 0) => Input::Connected(id),
                    _ => Input::TcpConnected(id),
                };
                let running = seen.started.iter().any(|s| s.0 == id) && !seen.ended.contains(&id);
                let before = race.poll_timeout();
                race.handle(input.clone(), now);
                // 9: TCP progress moves the deadline by at most one attempt delay.
                if let (Input::TcpConnected(_), Some(before), Some(after)) =
                    (&input, before, race.poll_timeout())
                {
                    let most = config
                        .attempt_delay
                        .max(config.adaptive_delay.map_or(Duration::ZERO, |(_, max)| max));
                    if after > before + most {
                        return Err(format!(
                            "a handshake held the next attempt back by {:?}",
                            after - before
                        ));
                    }
                }
                if running {
                    match input {
                        Input::AttemptFailed(id) => {
                            seen.ended.insert(id);
                        }
                        Input::Connected(id) if !seen.done => {
                            seen.ended.insert(id);
                            seen.winners += 1;
                        }
                        _ => {}
                    }
                }
                false
            }
            5 => {
                now += Duration::from_millis(u64::from(b.u16() % 600));
                race.handle_timeout(now);
                true
            }
            6 => {
                // Jump straight to the next deadline, as a driver's timer would.
                if let Some(deadline) = race.poll_timeout() {
                    now = now.max(deadline);
                }
                race.handle_timeout(now);
                true
            }
            7 if op & 0x80 != 0 && !seen.targets_pending.is_empty() => {
                // A TargetName's answer (HE-10.7): addresses from the pool, or a failure.
                let (id, _, family) = seen.targets_pending.remove(0);
                let answer = if op & 0x40 != 0 {
                    Answer::Failed
                } else {
                    Answer::Addresses((0..b.u8() % 4).map(|_| address(family, b.u8())).collect())
                };
                race.handle(Input::Answer { id, answer }, now);
                false
            }
            _ => {
                // Time going backwards must be harmless.
                race.handle_timeout(
                    now.checked_sub(Duration::from_millis(u64::from(b.u8())))
                        .unwrap_or(now),
                );
                true
            }
        };
        drain(&mut race, &mut seen, now, timer)?;
    }
    // 7: the race ends once every attempt fails and every lookup settles.
    while seen.service_pending {
        let id = seen.service_id.unwrap_or(QueryId(usize::MAX));
        race.handle(
            Input::Answer {
                id,
                answer: Answer::Failed,
            },
            now,
        );
        seen.service_pending = false;
        drain(&mut race, &mut seen, now, false)?;
    }
    while !seen.targets_pending.is_empty() {
        let (id, _, _) = seen.targets_pending.remove(0);
        race.handle(
            Input::Answer {
                id,
                answer: Answer::Failed,
            },
            now,
        );
        drain(&mut race, &mut seen, now, false)?;
    }
    for family in [Family::V6, Family::V4] {
        if !seen.lookups_settled[family.index()] {
            let id = race.query_id(&Query::Addresses(family));
            let id = id.unwrap_or(QueryId(usize::MAX));
            race.handle(
                Input::Answer {
                    id,
                    answer: Answer::Failed,
                },
                now,
            );
            seen.lookups_settled[family.index()] = true;
            drain(&mut race, &mut seen, now, false)?;
        }
    }
    for _ in 0..20_000 {
        if seen.done {
            return Ok(());
        }
        let running: Vec<AttemptId> = seen
            .started
            .iter()
            .map(|s| s.0)
            .filter(|id| !seen.ended.contains(id))
            .collect();
        if let Some(id) = running.first() {
            race.handle(Input::AttemptFailed(*id), now);
            seen.ended.insert(*id);
            drain(&mut race, &mut seen, now, false)?;
        } else {
            let Some(deadline) = race.poll_timeout() else {
                return Err("not done, nothing running, and no deadline: the race is stuck".into());
            };
            now = now.max(deadline);
            race.handle_timeout(now);
            drain(&mut race, &mut seen, now, true)?;
        }
    }
    Err("the race did not end".into())
}

fn drain(race: &mut Race, seen: &mut Seen, now: Instant, timer: bool) -> Result<(), String> {
    let mut timed_out_this_step = false;
    while let Some(action) = race.poll_action() {
        if seen.done {
            return Err(format!("{action:?} after Done")); // 3
        }
        match action {
            Action::Query { id, query } => query_asked(seen, id, query)?,
            Action::Start { id, addr, protocol } => {
                // 11: a denied address is never started; what a start skips is recorded denied.
                if seen.policy && !denies_nothing_ending_in_3(judged(addr)) {
                    return Err(format!("{addr}, which the policy denies, was started"));
                }
                let canonical = SocketAddr::new(addr.ip().to_canonical(), addr.port());
                if !seen.addrs.insert((canonical, protocol)) {
                    return Err(format!("{addr} tried twice")); // 1
                }
                // 2: a start by the stagger timer waits for its deadline and the 10 ms floor.
                if timer && !timed_out_this_step {
                    if seen.deadline.is_some_and(|d| now < d) {
                        return Err(format!("timer-started attempt {id:?} before its deadline"));
                    }
                    if let Some((_, _, prev)) = seen.started.last()
                        && now.saturating_duration_since(*prev) < MIN_ATTEMPT_GAP
                    {
                        return Err(format!(
                            "timer-started attempt {id:?} only {:?} after the previous",
                            now - *prev
                        ));
                    }
                }
                seen.started.push((id, addr, now));
            }
            Action::Cancel { id, reason } => {
                if !seen.started.iter().any(|s| s.0 == id) || !seen.ended.insert(id) {
                    return Err(format!("cancelled {id:?}, which was not running"));
                }
                timed_out_this_step |= reason == CancelReason::AttemptTimedOut;
            }
            Action::Done(result) => {
                if let Ok(id) = result
                    && (seen.winners != 1 || !seen.ended.contains(&id))
                {
                    return Err(format!(
                        "Done({id:?}) but {} winners were reported",
                        seen.winners
                    ));
                }
                seen.done = true;
                // 4: every started attempt has ended.
                if let Some(s) = seen.started.iter().find(|s| !seen.ended.contains(&s.0)) {
                    return Err(format!("done with {:?} still running", s.0));
                }
            }
        }
    }
    if seen.winners > 1 {
        return Err("two winners".into()); // 3
    }
    // 6: the next deadline never lies in the past.
    seen.deadline = race.poll_timeout();
    if let Some(deadline) = seen.deadline
        && deadline <= now
    {
        return Err(format!("deadline {:?} in the past", now - deadline));
    }
    // 5: settled lookups and nothing running means done.
    let running = seen.started.iter().any(|s| !seen.ended.contains(&s.0));
    if seen.lookups_settled == [true, true]
        && !seen.service_pending
        && seen.targets_pending.is_empty()
        && !running
        && !seen.done
    {
        return Err("lookups settled, nothing running, but the race is not done".into());
    }
    Ok(())
}

/// The address policy of a third of the races: every address but those ending in 3.
fn denies_nothing_ending_in_3(ip: IpAddr) -> bool {
    let last = match ip.to_canonical() {
        IpAddr::V4(v4) => v4.octets()[3],
        IpAddr::V6(v6) => v6.octets()[15],
    };
    last % 10 != 3
}

/// The address the policy judges for `addr`: a translation's IPv4 address (HE-7.6).
fn judged(addr: SocketAddr) -> IpAddr {
    match addr.ip() {
        IpAddr::V6(v6) if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
            let o = v6.octets();
            IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
        }
        ip => ip,
    }
}

/// Answers the race's NAT64 discovery: the well-known prefix, or a failure (no NAT64).
fn answer_nat64(race: &mut Race, failed: bool, now: Instant) {
    let Some(id) = race.query_id(&Query::Nat64Prefix) else {
        return;
    };
    let answer = match failed {
        true => Answer::Failed,
        false => {
            let wka = crate::nat64::WELL_KNOWN.synthesize(Ipv4Addr::new(192, 0, 0, 170));
            Answer::Addresses(vec![Candidate::new(SocketAddr::new(wka.into(), 0), None)])
        }
    };
    race.handle(Input::Answer { id, answer }, now);
}

/// Invariants 8 and 10 for one query asked for.
fn query_asked(seen: &mut Seen, id: QueryId, query: Query) -> Result<(), String> {
    match query {
        Query::Service(_) if seen.service_queried => {
            // 10: bounded, and only while the HTTPS answer is awaited.
            seen.aliases += 1;
            if seen.aliases > 8 {
                return Err("more than 8 aliases followed".into());
            }
            seen.service_pending = true;
            seen.service_id = Some(id);
        }
        Query::Service(_) => {
            // 8: the HTTPS query first of all, once.
            if !seen.queried.is_empty() || !seen.started.is_empty() {
                return Err("HTTPS query out of place".into());
            }
            seen.service_queried = true;
            seen.service_id = Some(id);
        }
        Query::Target { name, family } => {
            if !seen.targets_asked.insert((name.clone(), family)) {
                return Err(format!("{name} {family} asked twice"));
            }
            seen.targets_pending.push((id, name, family));
        }
        Query::Nat64Prefix => {}
        Query::Addresses(family) => {
            // 8: queries come first, AAAA before A, once each, for families still pending.
            if !seen.started.is_empty() || seen.lookups_settled[family.index()] {
                return Err(format!("query for {family} out of place"));
            }
            if !seen.queried.insert(family) || (family == Family::V6 && seen.queried.len() > 1) {
                return Err(format!("query for {family} twice or after A"));
            }
        }
    }
    Ok(())
}
