//! Core tables with explicit time, grouped by RFC 8305 section. Every action is written out as a
//! string: `start N ADDR`, `cancel N REASON`, `done ok N` or `done FAILURE`.

use super::*;
use std::net::IpAddr;

const MS: Duration = Duration::from_millis(1);

/// The name the service tables look up HTTPS records for.
const SERVICE: &str = "example.com";

fn config() -> RaceConfig {
    RaceConfig {
        resolution_delay: 50 * MS,
        attempt_delay: 250 * MS,
        first_family_count: 1,
        attempt_timeout: None,
        connect_timeout: None,
        adaptive_delay: None,
    }
}

struct H {
    race: Race,
    t0: Instant,
    /// Every query the race asked for, by id.
    asked: Vec<(QueryId, Query)>,
}

impl H {
    fn new(config: RaceConfig) -> H {
        H::with(config, true, true)
    }

    /// A race that looks up these families; the queries it asks for first are checked and
    /// drained.
    fn with(config: RaceConfig, v6: bool, v4: bool) -> H {
        H::built(config, v6, v4, |race| race)
    }

    /// [`H::with`] both families, the race set up by `build` (a policy, plan only) first.
    fn with_race(config: RaceConfig, build: impl FnOnce(Race) -> Race) -> H {
        H::built(config, true, true, build)
    }

    fn built(config: RaceConfig, v6: bool, v4: bool, build: impl FnOnce(Race) -> Race) -> H {
        let t0 = Instant::now();
        let mut h = H {
            race: build(Race::new(config, t0, Addresses::Query { v6, v4 })),
            t0,
            asked: Vec::new(),
        };
        let queries: Vec<String> = [("query V6", v6), ("query V4", v4)]
            .iter()
            .filter(|(_, asked)| *asked)
            .map(|(q, _)| q.to_string())
            .collect();
        let first = h.drain();
        assert_eq!(
            first[..queries.len()],
            queries[..],
            "HE-3.1: AAAA first, then A"
        );
        h
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(a) = self.race.poll_action() {
            if let Action::Query { id, query } = &a {
                assert_eq!(
                    id.0,
                    self.asked.len(),
                    "query ids count up in the order asked"
                );
                self.asked.push((*id, query.clone()));
            }
            out.push(match a {
                Action::Query { query, .. } => match query {
                    Query::Addresses(family) => format!("query {family:?}"),
                    Query::Service(name) if name == SERVICE => "query service".to_string(),
                    Query::Service(name) => format!("query service at {name}"),
                    Query::Target { name, family } => format!("query {name} {family:?}"),
                    Query::Nat64Prefix => "query nat64".to_string(),
                },
                Action::Start {
                    id,
                    addr,
                    protocol: Protocol::Tcp,
                } => format!("start {} {addr}", id.0),
                Action::Start {
                    id,
                    addr,
                    protocol: Protocol::Quic,
                } => format!("start {} quic {addr}", id.0),
                Action::Cancel { id, reason } => format!("cancel {} {reason:?}", id.0),
                Action::Done(Ok(id)) => format!("done ok {}", id.0),
                Action::Done(Err(f)) => format!("done {f:?}"),
            });
        }
        // The next deadline never lies in the past once the actions are drained.
        if let Some(d) = self.race.poll_timeout() {
            assert!(d > self.race.now, "deadline in the past");
        }
        out
    }

    /// The id of the latest query the race asked for that `pick` selects.
    fn id(&self, pick: impl Fn(&Query) -> bool) -> QueryId {
        let asked = self.asked.iter().rev().find(|(_, q)| pick(q));
        asked.expect("the race asked for this query").0
    }

    /// Feeds the answer to the latest query `pick` selects.
    fn answer(&mut self, ms: u64, pick: impl Fn(&Query) -> bool, answer: Answer) -> Vec<String> {
        let id = self.id(pick);
        self.race.handle(Input::Answer { id, answer }, self.at(ms));
        self.drain()
    }

    /// Feeds `family`'s answer of the name.
    fn addresses(&mut self, ms: u64, family: Family, answer: Answer) -> Vec<String> {
        self.answer(ms, |q| *q == Query::Addresses(family), answer)
    }

    fn resolved(&mut self, ms: u64, family: Family, addrs: &[&str]) -> Vec<String> {
        let addrs = addrs.iter().map(|a| cand(a)).collect();
        self.addresses(ms, family, Answer::Addresses(addrs))
    }

    fn resolve_failed(&mut self, ms: u64, family: Family) -> Vec<String> {
        self.addresses(ms, family, Answer::Failed)
    }

    fn failed(&mut self, ms: u64, id: usize) -> Vec<String> {
        self.race
            .handle(Input::AttemptFailed(AttemptId(id)), self.at(ms));
        self.drain()
    }

    fn connected(&mut self, ms: u64, id: usize) -> Vec<String> {
        self.race
            .handle(Input::Connected(AttemptId(id)), self.at(ms));
        self.drain()
    }

    fn tcp_connected(&mut self, ms: u64, id: usize) -> Vec<String> {
        self.race
            .handle(Input::TcpConnected(AttemptId(id)), self.at(ms));
        self.drain()
    }

    fn part(&mut self, ms: u64, family: Family, addrs: &[&str]) -> Vec<String> {
        let addrs = addrs.iter().map(|a| cand(a)).collect();
        self.addresses(ms, family, Answer::Part(addrs))
    }

    fn tick(&mut self, ms: u64) -> Vec<String> {
        self.race.handle_timeout(self.at(ms));
        self.drain()
    }

    fn deadline_ms(&self) -> Option<u64> {
        self.race
            .poll_timeout()
            .map(|d| (d - self.t0).as_millis() as u64)
    }
}

/// A destination on port 443 whose source is a global address of the same family.
fn cand(ip: &str) -> Candidate {
    let ip: IpAddr = ip.parse().unwrap();
    let src: IpAddr = if ip.is_ipv6() {
        "2001:db8:ffff::1".parse().unwrap()
    } else {
        "192.0.2.200".parse().unwrap()
    };
    Candidate {
        dst: SocketAddr::new(ip, 443),
        src: Some(src),
        hist: Default::default(),
        origin: None,
    }
}

fn none() -> Vec<String> {
    Vec::new()
}

mod section_3_resolution {
    use super::*;

    // HE-3.1: the race asks for AAAA first, then A, at once; given addresses are never queried.
    #[test]
    fn he_3_1_queries_are_actions_aaaa_first() {
        let t0 = Instant::now();
        let mut race = Race::new(config(), t0, Addresses::Query { v6: true, v4: true });
        assert_eq!(
            race.poll_action(),
            Some(Action::Query {
                id: QueryId(0),
                query: Query::Addresses(Family::V6)
            })
        );
        assert_eq!(
            race.poll_action(),
            Some(Action::Query {
                id: QueryId(1),
                query: Query::Addresses(Family::V4)
            })
        );
        assert_eq!(race.poll_action(), None);
        let mut given = Race::new(
            config(),
            t0,
            Addresses::Given {
                v6: true,
                v4: false,
            },
        );
        assert_eq!(given.poll_action(), None, "nothing to query");
        let mut nothing = Race::new(
            config(),
            t0,
            Addresses::Given {
                v6: false,
                v4: false,
            },
        );
        assert_eq!(
            nothing.poll_action(),
            Some(Action::Done(Err(Failure::NoAddresses)))
        );
    }

    // HE-3.3
    #[test]
    fn he_3_3_positive_aaaa_first_starts_ipv6_at_once() {
        let mut h = H::new(config());
        assert_eq!(
            h.resolved(12, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
        assert_eq!(h.resolved(20, Family::V4, &["192.0.2.1"]), none());
        assert_eq!(h.deadline_ms(), Some(262));
        assert_eq!(h.tick(261), none());
        assert_eq!(h.tick(262), ["start 1 192.0.2.1:443"]);
    }

    // HE-3.4: boundary at resolution delay - 1 ms and at the delay.
    #[test]
    fn he_3_4_positive_a_first_waits_resolution_delay() {
        let mut h = H::new(config());
        assert_eq!(h.resolved(10, Family::V4, &["192.0.2.1"]), none());
        assert_eq!(h.deadline_ms(), Some(60));
        assert_eq!(h.tick(59), none());
        assert_eq!(h.tick(60), ["start 0 192.0.2.1:443"]);
    }

    // HE-3.4: AAAA inside the delay: sort both, IPv6 first.
    #[test]
    fn he_3_4_aaaa_within_delay_goes_first() {
        let mut h = H::new(config());
        assert_eq!(h.resolved(10, Family::V4, &["192.0.2.1"]), none());
        assert_eq!(
            h.resolved(50, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
        assert_eq!(h.tick(300), ["start 1 192.0.2.1:443"]);
    }

    // HE-3.4: an empty AAAA (NODATA) or a failed AAAA ends the wait at once.
    #[test]
    fn he_3_4_empty_or_failed_aaaa_starts_ipv4_at_once() {
        let mut h = H::new(config());
        h.resolved(10, Family::V4, &["192.0.2.1"]);
        assert_eq!(h.resolved(20, Family::V6, &[]), ["start 0 192.0.2.1:443"]);

        let mut h = H::new(config());
        h.resolved(10, Family::V4, &["192.0.2.1"]);
        assert_eq!(h.resolve_failed(30, Family::V6), ["start 0 192.0.2.1:443"]);
    }

    // HE-3.2 / HE-3.4 / HE-3.5: each answer is acted on as it arrives; AAAA 60 ms late joins
    // interleaved after IPv4 started at 50 ms.
    #[test]
    fn he_3_5_late_aaaa_merges_into_untried() {
        let mut h = H::new(config());
        assert_eq!(
            h.resolved(0, Family::V4, &["192.0.2.1", "192.0.2.2"]),
            none()
        );
        assert_eq!(h.tick(50), ["start 0 192.0.2.1:443"]);
        assert_eq!(
            h.resolved(60, Family::V6, &["2001:db8::1", "2001:db8::2"]),
            none()
        );
        assert_eq!(h.deadline_ms(), Some(300));
        assert_eq!(h.tick(300), ["start 1 [2001:db8::1]:443"]);
        assert_eq!(h.tick(550), ["start 2 192.0.2.2:443"]);
        assert_eq!(h.tick(800), ["start 3 [2001:db8::2]:443"]);
        assert_eq!(h.deadline_ms(), None);
    }

    // HE-3.5: a late answer after every earlier attempt failed starts at once.
    #[test]
    fn he_3_5_late_answer_after_failures_starts_at_once() {
        let mut h = H::new(config());
        h.resolved(0, Family::V4, &["192.0.2.1"]);
        assert_eq!(h.tick(50), ["start 0 192.0.2.1:443"]);
        assert_eq!(h.failed(51, 0), none(), "AAAA still pending: wait for it");
        assert_eq!(
            h.resolved(400, Family::V6, &["2001:db8::1"]),
            ["start 1 [2001:db8::1]:443"]
        );
    }

    // HE-3.6
    #[test]
    fn he_3_6_one_family_failing_never_blocks_the_other() {
        let mut h = H::new(config());
        assert_eq!(h.resolve_failed(5, Family::V6), none());
        assert_eq!(
            h.resolved(7, Family::V4, &["192.0.2.1"]),
            ["start 0 192.0.2.1:443"]
        );

        let mut h = H::new(config());
        assert_eq!(h.resolve_failed(5, Family::V4), none());
        assert_eq!(
            h.resolved(700, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
    }

    // HE-3.6: both failing is one error.
    #[test]
    fn he_3_6_both_failing() {
        let mut h = H::new(config());
        assert_eq!(h.resolve_failed(5, Family::V6), none());
        assert_eq!(h.resolve_failed(6, Family::V4), ["done Resolve"]);

        let mut h = H::new(config());
        assert_eq!(h.resolved(5, Family::V6, &[]), none());
        assert_eq!(h.resolved(6, Family::V4, &[]), ["done NoAddresses"]);

        let mut h = H::new(config());
        assert_eq!(h.resolved(5, Family::V6, &[]), none());
        assert_eq!(h.resolve_failed(6, Family::V4), ["done Resolve"]);
    }

    // A family that was not queried (family policy) counts as settled.
    #[test]
    fn not_queried_family_does_not_delay() {
        let mut h = H::with(config(), false, true);
        assert_eq!(
            h.resolved(5, Family::V4, &["192.0.2.1"]),
            ["start 0 192.0.2.1:443"]
        );
        // An answer for a family not asked for (under an id the race never gave) is ignored,
        // and so is a second answer to a settled query.
        let stray = Answer::Addresses(vec![cand("2001:db8::1")]);
        let never = Input::Answer {
            id: QueryId(7),
            answer: stray.clone(),
        };
        h.race.handle(never, h.at(6));
        assert_eq!(h.drain(), none());
        assert_eq!(h.addresses(6, Family::V4, stray), none());
        assert_eq!(h.failed(7, 0), ["done AllAttemptsFailed"]);
    }
}

mod section_4_sorting {
    use super::*;

    // HE-4.3: 3 AAAA + 2 A, First Address Family Count 1: the attempts alternate.
    #[test]
    fn he_4_3_attempts_alternate_families() {
        let mut h = H::new(config());
        h.resolved(0, Family::V4, &["192.0.2.1", "192.0.2.2"]);
        let got = h.resolved(
            1,
            Family::V6,
            &["2001:db8::1", "2001:db8::2", "2001:db8::3"],
        );
        assert_eq!(got, ["start 0 [2001:db8::1]:443"]);
        let mut order = Vec::new();
        for (i, ms) in [(0, 2), (1, 3), (2, 4), (3, 5)] {
            order.extend(h.failed(ms, i));
        }
        assert_eq!(
            order,
            [
                "start 1 192.0.2.1:443",
                "start 2 [2001:db8::2]:443",
                "start 3 192.0.2.2:443",
                "start 4 [2001:db8::3]:443"
            ]
        );
    }

    // HE-4.3: First Address Family Count 2.
    #[test]
    fn he_4_3_first_address_family_count_two() {
        let mut h = H::new(RaceConfig {
            first_family_count: 2,
            ..config()
        });
        h.resolved(
            0,
            Family::V6,
            &["2001:db8::1", "2001:db8::2", "2001:db8::3"],
        );
        h.resolved(0, Family::V4, &["192.0.2.1"]);
        let mut order = vec![];
        for i in 0..3 {
            order.extend(h.failed(1 + i as u64, i));
        }
        assert_eq!(
            order,
            [
                "start 1 [2001:db8::2]:443",
                "start 2 192.0.2.1:443",
                "start 3 [2001:db8::3]:443"
            ]
        );
    }

    // HE-4.3 with count 2 and a late A: the lead family keeps its remaining slot.
    #[test]
    fn he_4_3_count_two_late_ipv4() {
        let mut h = H::new(RaceConfig {
            first_family_count: 2,
            ..config()
        });
        assert_eq!(
            h.resolved(0, Family::V6, &["2001:db8::1", "2001:db8::2"]),
            ["start 0 [2001:db8::1]:443"]
        );
        h.resolved(10, Family::V4, &["192.0.2.1"]);
        assert_eq!(h.tick(250), ["start 1 [2001:db8::2]:443"]);
        assert_eq!(h.tick(500), ["start 2 192.0.2.1:443"]);
    }

    // HE-4.1 inside the race: an unusable destination (no route) is tried after usable ones.
    #[test]
    fn he_4_1_unusable_family_goes_after() {
        let mut h = H::new(config());
        let unusable = Candidate {
            dst: "[2001:db8::1]:443".parse().unwrap(),
            src: None,
            hist: Default::default(),
            origin: None,
        };
        let v4 = Answer::Addresses(vec![cand("192.0.2.1")]);
        assert_eq!(h.addresses(0, Family::V4, v4), none());
        let v6 = Answer::Addresses(vec![unusable]);
        assert_eq!(h.addresses(1, Family::V6, v6), ["start 0 192.0.2.1:443"]);
    }
}

mod section_5_attempts {
    use super::*;

    // HE-5.1 / HE-5.2: staggered by the Connection Attempt Delay; boundary at delay - 1 ms.
    #[test]
    fn he_5_1_attempts_are_staggered() {
        let mut h = H::new(config());
        h.resolved(0, Family::V6, &["2001:db8::1"]);
        h.resolved(0, Family::V4, &["192.0.2.1", "192.0.2.2"]);
        assert_eq!(h.tick(249), none());
        assert_eq!(
            h.tick(250),
            ["start 1 192.0.2.1:443"],
            "earlier attempt is not cancelled"
        );
        assert_eq!(h.tick(499), none());
        assert_eq!(h.tick(500), ["start 2 192.0.2.2:443"]);
        assert_eq!(h.deadline_ms(), None, "nothing left to start");
    }

    // HE-5.2: a configured delay of 10 ms (the floor) is honoured exactly.
    #[test]
    fn he_5_2_minimum_delay() {
        let mut h = H::new(RaceConfig {
            attempt_delay: 10 * MS,
            ..config()
        });
        h.resolved(0, Family::V6, &["2001:db8::1", "2001:db8::2"]);
        h.resolved(0, Family::V4, &[]);
        assert_eq!(h.tick(9), none());
        assert_eq!(h.tick(10), ["start 1 [2001:db8::2]:443"]);
    }

    // HE-5.8: each attempt is due one delay after the previous one was due, so a timer that fires
    // late does not push the schedule back: with 20 ms and every tick 1 ms late, the ninth attempt
    // (id 8) still starts at 160 ms, not 168 ms.
    #[test]
    fn he_5_8_the_schedule_does_not_drift() {
        let mut h = H::new(RaceConfig {
            attempt_delay: 20 * MS,
            ..config()
        });
        let addrs: Vec<String> = (1..=9).map(|i| format!("2001:db8::{i}")).collect();
        let addrs: Vec<&str> = addrs.iter().map(String::as_str).collect();
        assert_eq!(
            h.resolved(0, Family::V6, &addrs),
            ["start 0 [2001:db8::1]:443"]
        );
        h.resolved(0, Family::V4, &[]);
        for n in 1..8u64 {
            assert_eq!(
                h.deadline_ms(),
                Some(20 * n),
                "attempt {n} is due on the grid"
            );
            assert_eq!(h.tick(20 * n + 1).len(), 1, "attempt {n}, 1 ms late");
        }
        assert_eq!(h.deadline_ms(), Some(160));
        assert_eq!(h.tick(159), none());
        assert_eq!(h.tick(160), ["start 8 [2001:db8::9]:443"]);
    }

    // HE-5.8 / HE-5.2: a timer that fires very late starts the overdue attempt, and the next one
    // still keeps the 10 ms floor after it (no burst of back-to-back attempts).
    #[test]
    fn he_5_8_a_very_late_timer_keeps_the_floor() {
        let mut h = H::new(RaceConfig {
            attempt_delay: 20 * MS,
            ..config()
        });
        h.resolved(
            0,
            Family::V6,
            &["2001:db8::1", "2001:db8::2", "2001:db8::3"],
        );
        h.resolved(0, Family::V4, &[]);
        assert_eq!(h.tick(100), ["start 1 [2001:db8::2]:443"], "80 ms late");
        assert_eq!(h.deadline_ms(), Some(110), "the floor, not 40 ms");
        assert_eq!(h.tick(109), none());
        assert_eq!(h.tick(110), ["start 2 [2001:db8::3]:443"]);
    }

    // HE-5.4: first handshake wins; every other running attempt is cancelled; untried are ignored.
    #[test]
    fn he_5_4_winner_cancels_the_rest() {
        let mut h = H::new(config());
        h.resolved(0, Family::V6, &["2001:db8::1", "2001:db8::2"]);
        h.resolved(0, Family::V4, &["192.0.2.1"]);
        h.tick(250);
        assert_eq!(h.connected(253, 1), ["cancel 0 Lost", "done ok 1"]);
        assert!(h.race.is_done());
        assert_eq!(h.deadline_ms(), None);
        // A loser completing in the same instant is not a second winner.
        assert_eq!(h.connected(253, 0), none());
        assert_eq!(h.tick(10_000), none());
        assert_eq!(h.race.attempts_started(), 2);
    }

    // HE-5.5: a failure starts the next address at once, and the delay restarts from there.
    #[test]
    fn he_5_5_failure_starts_next_at_once() {
        let mut h = H::new(config());
        h.resolved(0, Family::V6, &["2001:db8::1", "2001:db8::2"]);
        h.resolved(0, Family::V4, &["192.0.2.1"]);
        assert_eq!(h.failed(3, 0), ["start 1 192.0.2.1:443"]);
        assert_eq!(h.deadline_ms(), Some(253));
        assert_eq!(h.tick(252), none());
        assert_eq!(h.tick(253), ["start 2 [2001:db8::2]:443"]);
    }

    // HE-5.5: three dead addresses, then a live one.
    #[test]
    fn he_5_5_three_dead_then_live() {
        let mut h = H::new(config());
        h.resolved(0, Family::V6, &["2001:db8::1", "2001:db8::2"]);
        h.resolved(0, Family::V4, &["192.0.2.1", "192.0.2.2"]);
        assert_eq!(h.failed(1, 0), ["start 1 192.0.2.1:443"]);
        assert_eq!(h.failed(2, 1), ["start 2 [2001:db8::2]:443"]);
        assert_eq!(h.failed(3, 2), ["start 3 192.0.2.2:443"]);
        assert_eq!(h.connected(4, 3), ["done ok 3"]);
    }

    // HE-5.6: duplicates within and across answers are tried once.
    #[test]
    fn he_5_6_no_address_twice() {
        let mut h = H::new(config());
        h.resolved(0, Family::V6, &["2001:db8::1", "2001:db8::1"]);
        h.resolved(0, Family::V4, &["192.0.2.1", "192.0.2.1"]);
        assert_eq!(h.failed(1, 0), ["start 1 192.0.2.1:443"]);
        assert_eq!(h.failed(2, 1), ["done AllAttemptsFailed"]);
    }

    // Everything fails: the race ends only once the pending lookup is settled.
    #[test]
    fn all_fail_waits_for_pending_lookup() {
        let mut h = H::new(config());
        h.resolved(0, Family::V6, &["2001:db8::1"]);
        assert_eq!(h.failed(1, 0), none());
        assert_eq!(h.resolve_failed(80, Family::V4), ["done AllAttemptsFailed"]);
    }

    // Per-attempt timeout: the attempt is cancelled and the next starts at once.
    #[test]
    fn attempt_timeout_moves_on() {
        let mut h = H::new(RaceConfig {
            attempt_timeout: Some(100 * MS),
            ..config()
        });
        h.resolved(0, Family::V6, &["2001:db8::1"]);
        h.resolved(0, Family::V4, &["192.0.2.1"]);
        assert_eq!(h.deadline_ms(), Some(100));
        assert_eq!(h.tick(99), none());
        assert_eq!(
            h.tick(100),
            ["cancel 0 AttemptTimedOut", "start 1 192.0.2.1:443"]
        );
        assert_eq!(
            h.tick(200),
            ["cancel 1 AttemptTimedOut", "done AllAttemptsFailed"]
        );
    }

    // Connect timeout: every running attempt is cancelled and the race fails.
    #[test]
    fn connect_timeout_ends_the_race() {
        let mut h = H::new(RaceConfig {
            connect_timeout: Some(400 * MS),
            ..config()
        });
        h.resolved(0, Family::V6, &["2001:db8::1"]);
        h.resolved(0, Family::V4, &["192.0.2.1", "192.0.2.2"]);
        h.tick(250);
        assert_eq!(h.deadline_ms(), Some(400));
        assert_eq!(h.tick(399), none());
        assert_eq!(
            h.tick(400),
            [
                "cancel 0 ConnectTimedOut",
                "cancel 1 ConnectTimedOut",
                "done TimedOut"
            ]
        );
    }

    // Connect timeout while DNS is still pending.
    #[test]
    fn connect_timeout_during_resolution() {
        let mut h = H::new(RaceConfig {
            connect_timeout: Some(400 * MS),
            ..config()
        });
        assert_eq!(h.deadline_ms(), Some(400));
        assert_eq!(h.tick(400), ["done TimedOut"]);
    }

    // Events for unknown or finished attempts are ignored.
    #[test]
    fn stale_events_are_ignored() {
        let mut h = H::new(config());
        h.resolved(0, Family::V6, &["2001:db8::1", "2001:db8::2"]);
        assert_eq!(h.failed(1, 7), none());
        assert_eq!(h.connected(1, 7), none());
        assert_eq!(h.failed(2, 0), ["start 1 [2001:db8::2]:443"]);
        assert_eq!(h.failed(3, 0), none(), "already failed");
    }

    // Time going backwards is clamped, never a panic or an early start.
    #[test]
    fn clock_going_backwards_is_clamped() {
        let mut h = H::new(config());
        h.resolved(100, Family::V6, &["2001:db8::1", "2001:db8::2"]);
        assert_eq!(h.tick(50), none());
        assert_eq!(h.tick(349), none());
        assert_eq!(h.tick(350), ["start 1 [2001:db8::2]:443"]);
    }
}

mod mapped_and_partial_answers {
    use super::*;

    // HE-5.7: an IPv4-mapped address in the AAAA answer is the IPv4 address it carries: tried once,
    // as IPv4, even though both answers name it.
    #[test]
    fn he_5_7_mapped_address_is_ipv4_and_tried_once() {
        let mut h = H::new(config());
        assert_eq!(
            h.resolved(0, Family::V6, &["::ffff:192.0.2.1", "2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
        h.resolved(1, Family::V4, &["192.0.2.1"]);
        assert_eq!(h.tick(250), ["start 1 192.0.2.1:443"]);
        assert_eq!(
            h.failed(251, 0),
            none(),
            "192.0.2.1 is not tried a second time"
        );
        assert_eq!(h.failed(252, 1), ["done AllAttemptsFailed"]);
    }

    // HE-5.7: a mapped address alone in the AAAA answer starts as IPv4.
    #[test]
    fn he_5_7_mapped_only_answer() {
        let mut h = H::with(config(), true, false);
        assert_eq!(
            h.resolved(0, Family::V6, &["::ffff:192.0.2.1"]),
            ["start 0 192.0.2.1:443"]
        );
    }

    // HE-5.10: the first part of a long answer starts the race; the family stays unsettled until
    // its last part, so the race does not end while more addresses are coming.
    #[test]
    fn he_5_10_partial_answer_starts_and_keeps_the_race_open() {
        let mut h = H::new(config());
        assert!(h.race.wants_addresses());
        assert_eq!(
            h.part(0, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
        h.resolved(1, Family::V4, &[]);
        assert!(
            h.race.wants_addresses(),
            "one untried address left: below the low water"
        );
        assert_eq!(
            h.failed(2, 0),
            none(),
            "the rest of the AAAA answer is coming"
        );
        assert_eq!(
            h.part(3, Family::V6, &["2001:db8::1", "2001:db8::2"]),
            ["start 1 [2001:db8::2]:443"],
            "a duplicate is dropped; the new address starts at once (the last one failed)"
        );
        assert_eq!(h.resolved(4, Family::V6, &["2001:db8::3"]), none());
        assert_eq!(h.failed(5, 1), ["start 2 [2001:db8::3]:443"]);
        assert_eq!(h.failed(6, 2), ["done AllAttemptsFailed"]);
        assert!(!h.race.wants_addresses());
    }

    // HE-5.10 / HE-3.4: a partial A answer is a positive A answer: the Resolution Delay applies.
    #[test]
    fn he_5_10_partial_a_answer_waits_the_resolution_delay() {
        let mut h = H::new(config());
        assert_eq!(h.part(0, Family::V4, &["192.0.2.1"]), none());
        assert_eq!(h.tick(49), none());
        assert_eq!(h.tick(50), ["start 0 192.0.2.1:443"]);
    }

    // HE-5.10: a lookup that fails after part of its answer arrived keeps what arrived.
    #[test]
    fn he_5_10_failure_after_a_part_keeps_the_part() {
        let mut h = H::with(config(), true, false);
        assert_eq!(
            h.part(0, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
        assert_eq!(h.resolve_failed(1, Family::V6), none());
        assert_eq!(h.failed(2, 0), ["done AllAttemptsFailed"]);
    }

    // The race wants more addresses only while it has fewer than a handful untried.
    #[test]
    fn he_5_10_wants_addresses_until_it_has_enough() {
        let mut h = H::with(config(), true, false);
        let many: Vec<String> = (1..=40).map(|i| format!("2001:db8::{i:x}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        h.part(0, Family::V6, &many);
        assert!(!h.race.wants_addresses(), "39 untried");
    }

    /// `n` distinct addresses of `family`, from `from` on.
    fn distinct(family: Family, from: u32, n: u32) -> Vec<String> {
        (from..from + n)
            .map(|i| match family {
                Family::V6 => format!("2001:db8::{i:x}"),
                Family::V4 => std::net::Ipv4Addr::from(0xc000_0200 + i).to_string(),
            })
            .collect()
    }

    // HE-5.12: one answer gives at most MAX_ADDRESSES of its family, in its order, over its
    // parts alike; the rest is counted, not kept, and the race tries no more than that.
    #[test]
    fn he_5_12_an_answer_gives_at_most_the_limit() {
        use crate::admit::MAX_ADDRESSES;
        let mut h = H::new(config());
        let v6 = distinct(Family::V6, 1, 1_000);
        let v6: Vec<&str> = v6.iter().map(String::as_str).collect();
        h.part(0, Family::V6, &v6[..40]);
        h.resolved(1, Family::V6, &v6[40..]);
        // A duplicate before the limit is no address; after it, nothing is looked at.
        let v4 = distinct(Family::V4, 1, 100);
        let mut v4: Vec<&str> = v4.iter().map(String::as_str).collect();
        v4.insert(1, v4[0]);
        h.resolved(2, Family::V4, &v4);
        let received = h.race.received();
        let count = |f: Family| received.iter().filter(|c| c.family() == f).count();
        assert_eq!(
            (count(Family::V6), count(Family::V4)),
            (MAX_ADDRESSES, MAX_ADDRESSES)
        );
        assert_eq!(h.race.over_limit(), (1_000 - 64) + (101 - 65));
        let kept = |f: Family| -> Vec<String> {
            let list = received.iter().filter(|c| c.family() == f);
            list.map(|c| c.dst.ip().to_string()).collect()
        };
        assert_eq!(
            kept(Family::V6),
            distinct(Family::V6, 1, 64),
            "the first ones"
        );
        assert_eq!(kept(Family::V4), distinct(Family::V4, 1, 64));
        // Every attempt refused: 128 attempts, then the race is over.
        let mut ms = 3;
        while !h.race.is_done() {
            let running = h.race.attempts().len() - 1;
            h.failed(ms, running);
            ms += 1;
        }
        assert_eq!(h.race.attempts().len(), 2 * MAX_ADDRESSES);
    }

    // HE-5.12 / HE-8.7: a stale answer's untried addresses make room for its refresh's.
    #[test]
    fn he_5_12_a_refresh_takes_the_room_of_the_stale_answer() {
        let mut h = H::with(config(), true, false);
        let stale = distinct(Family::V6, 1, 64);
        let stale = stale.iter().map(|a| cand(a)).collect();
        h.addresses(0, Family::V6, Answer::Stale(stale));
        assert_eq!(
            h.race.attempts().len(),
            1,
            "the first stale address is tried"
        );
        let fresh = distinct(Family::V6, 1_001, 64);
        let fresh: Vec<&str> = fresh.iter().map(String::as_str).collect();
        h.resolved(10, Family::V6, &fresh);
        assert_eq!(
            h.race.received().len(),
            64,
            "the tried one and 63 of the refresh"
        );
        assert_eq!(h.race.over_limit(), 1);
    }
}

mod denial {
    use super::*;
    use crate::policy::AddressPolicy;

    /// A race whose address policy denies `denied`.
    fn h(denied: &'static [&'static str]) -> H {
        let policy = AddressPolicy::custom(move |ip| !denied.contains(&ip.to_string().as_str()));
        H::with_race(config(), |race| race.with_address_policy(policy))
    }

    // HE-5.5: the address policy is checked right before each start; a denied address moves on
    // at once, like a failure, and nothing is started for it; some denied and some failed is a
    // failure of every attempt.
    #[test]
    fn he_5_5_denied_moves_on_and_mixed_is_all_failed() {
        let mut h = h(&["2001:db8::1"]);
        assert_eq!(h.resolved(0, Family::V6, &["2001:db8::1"]), none());
        assert_eq!(
            h.resolved(7, Family::V4, &["192.0.2.1"]),
            ["start 1 192.0.2.1:443"]
        );
        let denied = &h.race.attempts()[0];
        assert_eq!(denied.state, AttemptState::Denied);
        assert_eq!((denied.started, denied.ended()), (h.at(0), Some(h.at(0))));
        assert_eq!(h.failed(9, 1), ["done AllAttemptsFailed"]);
        assert_eq!(h.race.attempts()[1].state, AttemptState::Failed);
        assert_eq!(h.race.attempts()[1].ended(), Some(h.at(9)));
    }

    // Every address denied: the race says so (the driver reports `Error::Denied`), and a denied
    // address does not hold the next one back (the stagger does not apply).
    #[test]
    fn every_address_denied_is_denied() {
        let mut h = h(&["2001:db8::1", "2001:db8::2", "192.0.2.1"]);
        let v6 = ["2001:db8::1", "2001:db8::2"];
        assert_eq!(h.resolved(0, Family::V6, &v6), none());
        assert_eq!(h.resolved(0, Family::V4, &["192.0.2.1"]), ["done Denied"]);
        assert_eq!(h.race.attempts().len(), 3);
        assert!(
            h.race
                .attempts()
                .iter()
                .all(|a| a.state == AttemptState::Denied)
        );
    }

    // HE-5.11: a port rule judges each destination's port right before its attempt, as the
    // address rules judge its address: one on a refused port is denied and the next starts at
    // once; `allows` (the address alone) does not look at ports.
    #[test]
    fn he_5_11_a_port_rule_denies_by_port() {
        let policy = AddressPolicy::ports(|port| port == 443);
        assert!(policy.allows("2001:db8::1".parse().unwrap()));
        let mut h = H::with_race(config(), |race| race.with_address_policy(policy));
        let on = |ip: &str, port| Candidate {
            dst: SocketAddr::new(ip.parse().unwrap(), port),
            ..cand(ip)
        };
        let v6 = Answer::Addresses(vec![on("2001:db8::1", 8443)]);
        assert_eq!(h.addresses(0, Family::V6, v6), none());
        let v4 = Answer::Addresses(vec![on("192.0.2.1", 443)]);
        assert_eq!(h.addresses(7, Family::V4, v4), ["start 1 192.0.2.1:443"]);
        assert_eq!(h.race.attempts()[0].state, AttemptState::Denied);
        assert_eq!(h.race.attempts()[0].addr.port(), 8443);
        // Every destination on a refused port: the race is denied.
        let mut h = H::with_race(config(), |race| {
            race.with_address_policy(AddressPolicy::ports(|port| port == 80))
        });
        assert_eq!(h.resolved(0, Family::V6, &["2001:db8::1"]), none());
        assert_eq!(h.resolved(0, Family::V4, &["192.0.2.1"]), ["done Denied"]);
    }

    // HE-7.6: a NAT64 translation is judged by the IPv4 address it stands for.
    #[test]
    fn he_7_6_a_translation_is_judged_by_its_ipv4_address() {
        let mut h = h(&["192.0.2.1"]);
        let translated = Nat64::default().candidate(
            "[64:ff9b::c000:201]:443".parse().unwrap(),
            cand("2001:db8::1").src,
        );
        assert_eq!(
            translated.origin.map(|t| t.ipv4),
            Some([192, 0, 2, 1].into())
        );
        let v4 = Answer::Addresses(vec![translated, cand("192.0.2.2")]);
        h.resolve_failed(0, Family::V6);
        assert_eq!(h.addresses(0, Family::V4, v4), ["start 0 192.0.2.2:443"]);
        // Its turn comes when the first fails: denied, and nothing is left.
        assert_eq!(h.failed(5, 0), ["done AllAttemptsFailed"]);
        let denied = &h.race.attempts()[1];
        assert_eq!(denied.state, AttemptState::Denied);
        assert_eq!(denied.addr.to_string(), "[64:ff9b::c000:201]:443");
    }
}

mod section_4_history {
    use super::*;
    use crate::history::{PastFailure, Remembered};

    fn with_hist(ip: &str, hist: Remembered) -> Candidate {
        Candidate { hist, ..cand(ip) }
    }

    fn failed() -> Remembered {
        Remembered::default().with_failed(Some(PastFailure::TimedOut))
    }

    fn rtt(ms: u64) -> Remembered {
        Remembered::default()
            .with_rtt(Some((
                Duration::from_millis(ms),
                Duration::from_millis(ms / 2),
            )))
            .with_worked(true)
    }

    fn resolved_with(h: &mut H, ms: u64, family: Family, addrs: Vec<Candidate>) -> Vec<String> {
        h.addresses(ms, family, Answer::Addresses(addrs))
    }

    // HE-4.2 / HE-3.4: an AAAA answer whose every address failed recently waits the Resolution
    // Delay for A; A inside it goes first, the failed IPv6 last.
    #[test]
    fn he_4_2_stale_aaaa_waits_for_a_and_goes_last() {
        let mut h = H::new(config());
        let v6 = vec![with_hist("2001:db8::1", failed())];
        assert_eq!(resolved_with(&mut h, 0, Family::V6, v6), none());
        assert_eq!(h.deadline_ms(), Some(50));
        assert_eq!(
            h.resolved(20, Family::V4, &["192.0.2.1"]),
            ["start 0 192.0.2.1:443"]
        );
        assert_eq!(
            h.failed(21, 0),
            ["start 1 [2001:db8::1]:443"],
            "never exiled"
        );
    }

    // HE-4.2: the stale AAAA answer alone starts when the Resolution Delay runs out.
    #[test]
    fn he_4_2_stale_aaaa_alone_starts_after_the_delay() {
        let mut h = H::new(config());
        let v6 = vec![with_hist("2001:db8::1", failed())];
        resolved_with(&mut h, 0, Family::V6, v6);
        assert_eq!(h.tick(49), none());
        assert_eq!(h.tick(50), ["start 0 [2001:db8::1]:443"]);
    }

    // HE-4.2: after RFC 6724 rules 1-8, the lower RTT goes first (here two IPv6 addresses; the
    // rule never outranks precedence, rule 6), and the delay after it is its retransmission
    // estimate within the bounds (HE-5.3): 40 ms RTT: 40 + 4 x 20 = 120 ms.
    #[test]
    fn he_5_3_rtt_orders_and_times_the_attempts() {
        let mut h = H::new(RaceConfig {
            adaptive_delay: Some((Duration::from_millis(100), Duration::from_millis(2000))),
            ..config()
        });
        h.resolved(0, Family::V4, &[]);
        let v6 = vec![
            with_hist("2001:db8::1", rtt(300)),
            with_hist("2001:db8::2", rtt(40)),
        ];
        assert_eq!(
            resolved_with(&mut h, 0, Family::V6, v6),
            ["start 0 [2001:db8::2]:443"],
            "40 ms beats 300 ms"
        );
        assert_eq!(h.deadline_ms(), Some(120));
        assert_eq!(h.tick(119), none());
        assert_eq!(h.tick(120), ["start 1 [2001:db8::1]:443"]);
    }
}

/// Racing through the connect's own handshake (HEv3, TLS after TCP).
mod handshake {
    use super::*;

    fn both(h: &mut H) {
        assert_eq!(
            h.resolved(0, Family::V6, &["2001:db8::1", "2001:db8::2"]),
            ["start 0 [2001:db8::1]:443"]
        );
        assert_eq!(h.resolved(1, Family::V4, &["192.0.2.1"]), [] as [&str; 0]);
    }

    // HE-9.1: TCP completing is progress, not success: nothing is cancelled, and the first
    // attempt whose handshake completes wins.
    #[test]
    fn he_9_1_tcp_is_not_the_win() {
        let mut h = H::new(config());
        both(&mut h);
        assert_eq!(h.tcp_connected(240, 0), [] as [&str; 0]);
        // 240 + 2 x 240 + 10 = 730, capped at 250 + 250.
        assert_eq!(h.deadline_ms(), Some(500));
        assert_eq!(h.tick(500), ["start 1 192.0.2.1:443"]);
        assert_eq!(h.tcp_connected(520, 1), [] as [&str; 0]);
        assert_eq!(
            h.connected(530, 1),
            ["cancel 0 Lost", "done ok 1"],
            "the first usable connection wins, whichever TCP finished first"
        );
    }

    // HE-9.2: a handshake that fails is a failed attempt: the next address starts at once.
    #[test]
    fn he_9_2_handshake_failure_starts_the_next_at_once() {
        let mut h = H::new(config());
        both(&mut h);
        assert_eq!(h.tcp_connected(20, 0), [] as [&str; 0]);
        assert_eq!(h.failed(25, 0), ["start 1 192.0.2.1:443"]);
    }

    // HE-9.3: the timer is extended to when the handshake should be done (two TCP round trips
    // and 10 ms), never past one more attempt delay; a quick handshake holds nothing back.
    #[test]
    fn he_9_3_timer_extension_table() {
        // (TCP connected at, next attempt due at)
        let table: &[(u64, u64)] = &[
            (2, 250),   // 2 + 4 + 10 = 16: done well before 250
            (100, 310), // 100 + 200 + 10
            (120, 370), // 120 + 240 + 10
            (200, 500), // 200 + 400 + 10 = 610, capped at 250 + 250
            (249, 500), // capped
        ];
        for &(tcp, due) in table {
            let mut h = H::new(config());
            both(&mut h);
            h.tcp_connected(tcp, 0);
            assert_eq!(h.deadline_ms(), Some(due), "TCP at {tcp} ms");
            assert_eq!(h.tick(due - 1), [] as [&str; 0]);
            assert_eq!(h.tick(due), ["start 1 192.0.2.1:443"], "TCP at {tcp} ms");
            // The hold was this attempt's: the next stagger is the plain delay again.
            assert_eq!(h.deadline_ms(), Some(due + 250));
        }
    }

    // HE-9.3: a second TCP-connected signal for the same attempt, or one for an attempt that
    // has ended, changes nothing.
    #[test]
    fn he_9_3_repeated_or_stale_progress_is_ignored() {
        let mut h = H::new(config());
        both(&mut h);
        h.tcp_connected(100, 0);
        assert_eq!(h.deadline_ms(), Some(310));
        h.tcp_connected(200, 0);
        assert_eq!(h.deadline_ms(), Some(310));
        assert_eq!(h.failed(205, 0), ["start 1 192.0.2.1:443"]);
        h.tcp_connected(206, 0);
        assert_eq!(h.deadline_ms(), Some(455));
    }

    // HE-9.3 with the adaptive delay (HE-5.3): the cap is one more of the delay in force.
    #[test]
    fn he_9_3_cap_follows_the_adaptive_delay() {
        let mut h = H::new(RaceConfig {
            adaptive_delay: Some((100 * MS, 2000 * MS)),
            ..config()
        });
        let mut near = cand("2001:db8::1");
        near.hist = near.hist.with_rtt(Some((20 * MS, 10 * MS)));
        let v6 = Answer::Addresses(vec![near]);
        assert_eq!(
            h.addresses(0, Family::V6, v6),
            ["start 0 [2001:db8::1]:443"]
        );
        h.resolved(1, Family::V4, &["192.0.2.1"]);
        // 20 + 4 x 10 = 60 -> the 100 ms minimum; TCP at 90: 90 + 180 + 10 = 280, capped at 200.
        assert_eq!(h.deadline_ms(), Some(100));
        h.tcp_connected(90, 0);
        assert_eq!(h.deadline_ms(), Some(200));
    }
}

/// HTTPS records in the race (HEv3, RFC 9460).
mod service {
    use super::*;
    use crate::svcb::{self, ServiceRecord};

    fn h() -> H {
        h_with(|race| race)
    }

    /// [`h`], with `build` applied to the race.
    fn h_with(build: impl FnOnce(Race) -> Race) -> H {
        let t0 = Instant::now();
        let race = Race::new(config(), t0, Addresses::Query { v6: true, v4: true })
            .with_service_query(
                SERVICE,
                443,
                vec![b"h2".to_vec(), b"http/1.1".to_vec()],
                |_| {},
            );
        let race = build(race);
        let mut h = H {
            race,
            t0,
            asked: Vec::new(),
        };
        assert_eq!(
            h.drain(),
            ["query service", "query V6", "query V4"],
            "HE-10.2: the HTTPS query first"
        );
        h
    }

    fn record(priority: u16, port: Option<u16>, hints: &[&str]) -> ServiceRecord {
        let mut r = ServiceRecord {
            priority,
            port,
            ..ServiceRecord::default()
        };
        for hint in hints {
            match hint.parse::<IpAddr>().unwrap() {
                IpAddr::V6(ip) => r.ipv6_hints.push(ip),
                IpAddr::V4(ip) => r.ipv4_hints.push(ip),
            }
        }
        r
    }

    fn answer(h: &mut H, ms: u64, records: Vec<ServiceRecord>) -> Vec<String> {
        let hints = records
            .iter()
            .flat_map(|r| {
                r.ipv6_hints
                    .iter()
                    .map(|ip| ip.to_string())
                    .chain(r.ipv4_hints.iter().map(|ip| ip.to_string()))
                    .collect::<Vec<_>>()
            })
            .map(|ip| cand(&ip))
            .collect();
        let service = |q: &Query| matches!(q, Query::Service(_));
        h.answer(ms, service, Answer::Records { records, hints })
    }

    /// A race for SERVICE that is SVCB-reliant on records with `ech` (HE-11.5).
    fn reliant() -> H {
        h_with(|race| race.service_reliant(|r| r.ech.is_some()))
    }

    // HE-11.5: an SVCB-reliant race waits for the HTTPS answer past the Resolution Delay, then
    // connects only to the endpoint whose record has `ech` (the name's addresses on its port),
    // never to the record without it nor to the name's own addresses on the connect's port.
    #[test]
    fn he_11_5_a_reliant_race_uses_only_the_records_it_accepts() {
        let mut h = reliant();
        assert_eq!(h.resolved(0, Family::V6, &["2001:db8::1"]), none());
        assert_eq!(h.resolved(0, Family::V4, &["192.0.2.1"]), none());
        assert_eq!(h.tick(60), none(), "no start at the Resolution Delay");
        let mut with_ech = record(2, Some(8443), &[]);
        with_ech.ech = Some(vec![1, 2, 3]);
        let without = record(1, Some(9443), &[]);
        assert_eq!(
            answer(&mut h, 300, vec![with_ech, without]),
            ["start 0 [2001:db8::1]:8443"]
        );
        assert_eq!(h.failed(301, 0), ["start 1 192.0.2.1:8443"]);
        assert_eq!(
            h.failed(302, 1),
            ["done AllAttemptsFailed"],
            "nothing on 9443 (no ech) or 443 (no record)"
        );
    }

    // HE-11.5: no record the race accepts: it fails at once, without an attempt.
    #[test]
    fn he_11_5_a_reliant_race_without_an_endpoint_fails() {
        let mut h = reliant();
        h.resolved(0, Family::V6, &["2001:db8::1"]);
        h.resolved(0, Family::V4, &["192.0.2.1"]);
        assert_eq!(
            answer(&mut h, 10, vec![record(1, None, &[])]),
            ["done NoAddresses"]
        );
        assert!(h.race.attempts().is_empty());
        // The HTTPS lookup failing is the same.
        let mut h = reliant();
        h.resolved(0, Family::V6, &["2001:db8::1"]);
        h.resolved(0, Family::V4, &[]);
        let service = |q: &Query| matches!(q, Query::Service(_));
        assert_eq!(h.answer(5, service, Answer::Failed), ["done NoAddresses"]);
    }

    // HE-10.3: an AAAA answer alone does not start the race while the HTTPS answer is awaited;
    // the HTTPS answer (here: no records) does.
    #[test]
    fn he_10_3_waits_for_the_https_answer() {
        let mut h = h();
        assert_eq!(h.resolved(0, Family::V6, &["2001:db8::1"]), [] as [&str; 0]);
        assert_eq!(h.deadline_ms(), Some(50), "at most the Resolution Delay");
        assert_eq!(answer(&mut h, 10, vec![]), ["start 0 [2001:db8::1]:443"]);
    }

    // HE-10.3: an HTTPS answer that never comes costs at most the Resolution Delay.
    #[test]
    fn he_10_3_resolution_delay_bounds_the_wait() {
        let mut h = h();
        assert_eq!(h.resolved(0, Family::V6, &["2001:db8::1"]), [] as [&str; 0]);
        assert_eq!(h.tick(49), [] as [&str; 0]);
        assert_eq!(h.tick(50), ["start 0 [2001:db8::1]:443"]);
        // A failed HTTPS lookup later changes nothing.
        let service = |q: &Query| matches!(q, Query::Service(_));
        assert_eq!(h.answer(60, service, Answer::Failed), [] as [&str; 0]);
    }

    // HE-10.5: IPv6 hints are positive answers for IPv6: the race starts through a hint at once,
    // while AAAA and A are still on their way; the real answers replace the hints, and an
    // untried hint absent from them is dropped.
    #[test]
    fn he_10_5_hints_start_at_once_and_are_replaced() {
        let mut h = h();
        assert_eq!(
            answer(
                &mut h,
                5,
                vec![record(1, None, &["2001:db8::9", "2001:db8::10"])]
            ),
            ["start 0 [2001:db8::9]:443"]
        );
        assert_eq!(
            h.resolved(20, Family::V6, &["2001:db8::1"]),
            [] as [&str; 0]
        );
        assert_eq!(h.resolved(20, Family::V4, &["192.0.2.1"]), [] as [&str; 0]);
        assert_eq!(h.tick(255), ["start 1 192.0.2.1:443"]);
        assert_eq!(h.tick(505), ["start 2 [2001:db8::1]:443"]);
        assert_eq!(h.deadline_ms(), None, "2001:db8::10 was dropped");
    }

    // HE-10.5: IPv4 hints alone do not stand in for the preferred family: the race waits the
    // Resolution Delay for AAAA, then starts through the hint.
    #[test]
    fn he_10_5_ipv4_hints_wait_for_aaaa() {
        let mut h = h();
        assert_eq!(
            answer(&mut h, 0, vec![record(1, None, &["192.0.2.9"])]),
            [] as [&str; 0]
        );
        assert_eq!(h.tick(50), ["start 0 192.0.2.9:443"]);
    }

    // HE-10.4: an h3-only endpoint is not for a TCP client: its hints are not used, and the race
    // goes on with the address answers.
    #[test]
    fn he_10_4_h3_only_endpoint_is_skipped() {
        let mut h = h();
        let mut h3 = record(1, None, &["2001:db8::9"]);
        h3.alpn = vec![b"h3".to_vec()];
        h3.no_default_alpn = true;
        assert_eq!(answer(&mut h, 0, vec![h3]), [] as [&str; 0]);
        assert_eq!(
            h.resolved(30, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
    }

    // HE-10.6: endpoints by priority, each on its port, RFC 6724 and interleaving inside each;
    // a record on the connect's port (here priority 2) covers the fallback too.
    #[test]
    fn he_10_6_priorities_and_ports() {
        let mut h = h();
        assert_eq!(
            answer(
                &mut h,
                0,
                vec![record(2, None, &[]), record(1, Some(8443), &[])]
            ),
            [] as [&str; 0]
        );
        assert_eq!(
            h.resolved(1, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:8443"]
        );
        assert_eq!(h.resolved(2, Family::V4, &["192.0.2.1"]), [] as [&str; 0]);
        assert_eq!(h.tick(251), ["start 1 192.0.2.1:8443"]);
        assert_eq!(h.tick(501), ["start 2 [2001:db8::1]:443"]);
        assert_eq!(h.tick(751), ["start 3 192.0.2.1:443"]);
        let endpoint = h.race.endpoint_of("[2001:db8::1]:8443".parse().unwrap());
        assert_eq!(endpoint.map(|e| (e.priority, e.port)), Some((1, 8443)));
    }

    // HE-10.3: a late HTTPS answer (after the race began) merges its endpoints into the untried
    // part, like a late AAAA.
    #[test]
    fn he_10_3_late_https_answer_is_merged() {
        let mut h = h();
        assert_eq!(h.resolved(0, Family::V6, &["2001:db8::1"]), [] as [&str; 0]);
        assert_eq!(h.resolved(0, Family::V4, &["192.0.2.1"]), [] as [&str; 0]);
        assert_eq!(h.tick(50), ["start 0 [2001:db8::1]:443"]);
        assert_eq!(
            answer(&mut h, 60, vec![record(1, Some(8443), &[])]),
            [] as [&str; 0]
        );
        // The plan now puts port 8443 first: 192.0.2.1:8443 (alternation), then [::1]:8443;
        // the name's own address on port 443 without a record comes last (RFC 9460 §3).
        assert_eq!(h.tick(300), ["start 1 192.0.2.1:8443"]);
        assert_eq!(h.tick(550), ["start 2 [2001:db8::1]:8443"]);
        assert_eq!(h.tick(800), ["start 3 192.0.2.1:443"]);
        assert_eq!(h.deadline_ms(), None);
    }

    fn target_answer(
        h: &mut H,
        ms: u64,
        target: &str,
        family: Family,
        ips: &[&str],
    ) -> Vec<String> {
        let addrs = ips.iter().map(|ip| cand(ip)).collect();
        let asked = |q: &Query| matches!(q, Query::Target { name, family: f } if name == target && *f == family);
        h.answer(ms, asked, Answer::Addresses(addrs))
    }

    fn with_target(priority: u16, target: &str, hints: &[&str]) -> ServiceRecord {
        ServiceRecord {
            target: target.to_string(),
            ..record(priority, None, hints)
        }
    }

    // HE-10.8: an answer of 100 records with 1,000 IPv6 hints each plans at most 32 records x 16
    // hints, the best priorities, however many hints the driver hands over.
    #[test]
    fn he_10_8_hints_and_records_are_bounded() {
        let mut h = h();
        let records: Vec<ServiceRecord> = (0..100u16)
            .map(|i| {
                let mut r = record(100 - i, None, &[]);
                r.ipv6_hints = (0..1000u16)
                    .map(|j| std::net::Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, j + 1))
                    .collect();
                r
            })
            .collect();
        let started = answer(&mut h, 0, records);
        assert_eq!(started.len(), 1, "the first hint starts: {started:?}");
        let (planned, _) = h.race.plan();
        assert_eq!(planned.len(), svcb::MAX_SERVICE_RECORDS * svcb::MAX_HINTS);
        // The best priorities (1..=32) are the records i = 99..=68, whose hints are 2001:db8:i::.
        assert!(
            planned.iter().all(|a| match a.ip() {
                IpAddr::V6(ip) => (68..=99).contains(&ip.segments()[2]) && ip.segments()[7] <= 16,
                IpAddr::V4(_) => false,
            }),
            "{planned:?}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        // HE-10.8: any large answer (up to 3,000 records, up to 60 hints of each family each,
        // targets among 50 names, any priorities): the plan never holds more destinations than
        // the bounds allow, never more than 2 x MAX_TARGETS target queries are asked, and the
        // race never panics.
        #[test]
        fn he_10_8_any_large_answer_is_bounded(
            shape in proptest::collection::vec(
                (0u16..5, 0usize..60, 0usize..60, proptest::option::of(0u8..50)),
                0..3000,
            ),
        ) {
            let mut h = h();
            let records: Vec<ServiceRecord> = shape
                .iter()
                .enumerate()
                .map(|(i, (priority, v6, v4, target))| {
                    let i = i as u16;
                    ServiceRecord {
                        priority: *priority,
                        target: target.map_or(String::new(), |t| format!("t{t}.test")),
                        ipv6_hints: (0..*v6 as u16)
                            .map(|j| std::net::Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, j + 1))
                            .collect(),
                        ipv4_hints: (0..*v4 as u8)
                            .map(|j| std::net::Ipv4Addr::new(198, 51, (i % 250) as u8, j + 1))
                            .collect(),
                        ..ServiceRecord::default()
                    }
                })
                .collect();
            let actions = answer(&mut h, 0, records);
            let targets = actions.iter().filter(|a| a.starts_with("query t")).count();
            proptest::prop_assert!(targets <= 2 * svcb::MAX_TARGETS, "{actions:?}");
            let (planned, denied) = h.race.plan();
            proptest::prop_assert!(
                planned.len() + denied.len() <= svcb::MAX_SERVICE_RECORDS * 2 * svcb::MAX_HINTS
            );
        }
    }

    // HE-10.9: a record steering to one of the Fetch standard's bad ports (here SMTP's 25) is
    // left out of the plan; the other record is used. Allowed, both are.
    #[test]
    fn he_10_9_bad_record_ports_are_refused() {
        let records = || {
            vec![
                record(1, Some(25), &["2001:db8::25"]),
                record(2, Some(8443), &["2001:db8::84"]),
            ]
        };
        let mut refusing = h();
        assert_eq!(
            answer(&mut refusing, 0, records()),
            ["start 0 [2001:db8::84]:8443"]
        );
        let (planned, _) = refusing.race.plan();
        assert!(planned.iter().all(|a| a.port() != 25), "{planned:?}");

        let H { race, t0, asked } = h();
        let mut allowing = H {
            race: race.allow_bad_record_ports(),
            t0,
            asked,
        };
        assert_eq!(
            answer(&mut allowing, 0, records()),
            ["start 0 [2001:db8::25]:25"]
        );
        assert!(svcb::is_bad_port(6667) && !svcb::is_bad_port(443) && !svcb::is_bad_port(8443));
        assert!(
            svcb::BAD_PORTS.windows(2).all(|w| w[0] < w[1]),
            "sorted, for binary search"
        );
    }

    // HE-10.8: 10,000 ServiceMode records with distinct TargetNames ask for at most MAX_TARGETS
    // of them (AAAA and A each), never 20,000 queries.
    #[test]
    fn he_10_8_target_lookups_are_bounded() {
        let mut h = h();
        let records: Vec<ServiceRecord> = (0..10_000u16)
            .map(|i| with_target(i % 100 + 1, &format!("t{i}.test"), &[]))
            .collect();
        let actions = answer(&mut h, 0, records);
        let queries = actions.iter().filter(|a| a.starts_with("query t")).count();
        assert_eq!(queries, 2 * svcb::MAX_TARGETS, "{actions:?}");
    }

    // HE-5.12: a TargetName's answer gives at most MAX_ADDRESSES of its family too.
    #[test]
    fn he_5_12_a_target_answer_gives_at_most_the_limit() {
        let mut h = h();
        answer(&mut h, 0, vec![with_target(1, "cdn.test", &[])]);
        let many: Vec<String> = (1..=1_000u32)
            .map(|i| std::net::Ipv4Addr::from(0xc000_0200 + i).to_string())
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        target_answer(&mut h, 1, "cdn.test", Family::V4, &many);
        assert_eq!(h.race.over_limit(), 1_000 - crate::admit::MAX_ADDRESSES);
        h.resolved(2, Family::V6, &[]);
        h.resolved(2, Family::V4, &[]);
        target_answer(&mut h, 3, "cdn.test", Family::V6, &[]);
        let (allowed, _) = h.race.plan();
        assert_eq!(allowed.len(), crate::admit::MAX_ADDRESSES, "{allowed:?}");
    }

    // HE-10.7: a ServiceMode TargetName is resolved with its own AAAA and A queries; its
    // addresses serve the endpoint (before the name's own, which are the fallback).
    #[test]
    fn he_10_7_target_name_is_resolved() {
        let mut h = h();
        assert_eq!(
            answer(&mut h, 0, vec![with_target(1, "cdn.test", &[])]),
            ["query cdn.test V6", "query cdn.test V4"]
        );
        assert_eq!(h.resolved(1, Family::V6, &["2001:db8::1"]), [] as [&str; 0]);
        assert_eq!(h.resolved(1, Family::V4, &["192.0.2.1"]), [] as [&str; 0]);
        assert_eq!(
            h.deadline_ms(),
            Some(51),
            "the target is awaited, within the delay"
        );
        assert_eq!(
            target_answer(&mut h, 5, "cdn.test", Family::V6, &["2001:db8::77"]),
            ["start 0 [2001:db8::77]:443"],
            "the target's preferred family has answered"
        );
        assert_eq!(
            target_answer(&mut h, 6, "cdn.test", Family::V4, &[]),
            [] as [&str; 0]
        );
        // Then the fallback: the name's own addresses, interleaved.
        assert_eq!(h.tick(256), ["start 1 192.0.2.1:443"]);
        assert_eq!(h.tick(506), ["start 2 [2001:db8::1]:443"]);
        let endpoint = h.race.endpoint_of("[2001:db8::77]:443".parse().unwrap());
        assert_eq!(endpoint.map(|e| e.record.target.as_str()), Some("cdn.test"));
    }

    // HE-10.7 / HE-10.5: a target's hints stand in until the target's own answer replaces them.
    #[test]
    fn he_10_7_target_hints_until_its_answer() {
        let mut h = h();
        assert_eq!(
            answer(
                &mut h,
                0,
                vec![with_target(
                    1,
                    "cdn.test",
                    &["2001:db8::88", "2001:db8::89"]
                )]
            ),
            [
                "query cdn.test V6",
                "query cdn.test V4",
                "start 0 [2001:db8::88]:443"
            ]
        );
        target_answer(&mut h, 10, "cdn.test", Family::V6, &["2001:db8::77"]);
        // ::89 was a hint the answer did not confirm: dropped; ::77 is next.
        assert_eq!(h.tick(250), ["start 1 [2001:db8::77]:443"]);
    }

    // HE-10.7: AliasMode is followed: the HTTPS records of the alias target are asked for, and
    // "." there means the alias target, whose addresses are then resolved.
    #[test]
    fn he_10_7_alias_is_followed() {
        let mut h = h();
        assert_eq!(
            answer(&mut h, 0, vec![with_target(0, "svc.cdn.test", &[])]),
            ["query service at svc.cdn.test"]
        );
        assert_eq!(
            answer(&mut h, 3, vec![record(1, Some(8443), &[])]),
            ["query svc.cdn.test V6", "query svc.cdn.test V4"]
        );
        assert_eq!(
            target_answer(&mut h, 4, "svc.cdn.test", Family::V6, &["2001:db8::5"]),
            ["start 0 [2001:db8::5]:8443"]
        );
    }

    // HE-10.7: an alias with no records at its target: the target's own addresses serve, on the
    // connect's port.
    #[test]
    fn he_10_7_alias_without_records_uses_the_target() {
        let mut h = h();
        answer(&mut h, 0, vec![with_target(0, "b.test", &[])]);
        assert_eq!(
            answer(&mut h, 1, vec![]),
            ["query b.test V6", "query b.test V4"]
        );
        assert_eq!(
            target_answer(&mut h, 2, "b.test", Family::V6, &["2001:db8::b"]),
            ["start 0 [2001:db8::b]:443"]
        );
    }

    // HE-10.7: an alias loop, or a chain longer than 8, ends the HTTPS lookup: the name's own
    // addresses serve.
    #[test]
    fn he_10_7_alias_loops_and_long_chains_end() {
        let mut h = h();
        answer(&mut h, 0, vec![with_target(0, "a.test", &[])]);
        assert_eq!(
            answer(&mut h, 1, vec![with_target(0, "a.test", &[])]),
            [] as [&str; 0],
            "a loop"
        );
        assert_eq!(
            h.resolved(2, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
        let mut h = super::service::h();
        let mut asked = 0;
        for i in 0..20 {
            let out = answer(&mut h, i, vec![with_target(0, &format!("a{i}.test"), &[])]);
            asked += out.len();
        }
        assert_eq!(asked, 8, "at most 8 aliases followed");
    }
}

/// A race that only plans (`Connector::resolve`): the same answers, no attempt.
mod plan_only {
    use super::*;
    use crate::policy::AddressPolicy;

    fn h(policy: AddressPolicy) -> H {
        H::with_race(config(), |race| {
            race.plan_only().with_address_policy(policy)
        })
    }

    // HE-3.1 / HE-4.1 / HE-4.3: both answers are awaited (no Resolution Delay, no start), then
    // the plan is the order a connect would use, the denied addresses apart.
    #[test]
    fn he_4_3_the_plan_is_the_connect_order_after_both_answers() {
        let deny = AddressPolicy::custom(|ip| ip.to_string() != "192.0.2.2");
        let mut h = h(deny);
        assert_eq!(
            h.resolved(0, Family::V4, &["192.0.2.1", "192.0.2.2"]),
            none()
        );
        assert!(!h.race.is_settled());
        assert_eq!(
            h.deadline_ms(),
            None,
            "no Resolution Delay: nothing will start"
        );
        assert_eq!(h.tick(500), none());
        let v6 = ["2001:db8::1", "2001:db8::2"];
        assert_eq!(h.resolved(600, Family::V6, &v6), none());
        assert!(h.race.is_settled());
        assert!(h.race.attempts().is_empty());
        let (allowed, denied) = h.race.plan();
        let allowed: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            allowed,
            ["[2001:db8::1]:443", "192.0.2.1:443", "[2001:db8::2]:443"]
        );
        assert_eq!(denied, ["192.0.2.2:443".parse::<SocketAddr>().unwrap()]);
    }

    // No address at all: the plan ends as a connect would, with the failure.
    #[test]
    fn no_address_ends_the_plan_with_the_failure() {
        let mut h = h(AddressPolicy::allow_all());
        assert_eq!(h.resolve_failed(0, Family::V6), none());
        assert_eq!(h.resolved(1, Family::V4, &[]), ["done Resolve"]);
    }
}

/// NAT64 in the core (HE-7.x): the discovery query, what the race makes of its answer, and the
/// translations it keeps for the report and the address policy.
mod nat64 {
    use super::*;
    use crate::nat64::{Nat64, PrefixSource, SynthesizedBy, WELL_KNOWN};

    /// The host's address on the route to NAT64 destinations.
    fn source() -> Option<IpAddr> {
        Some("2001:db8:1::100".parse().unwrap())
    }

    /// The AAAA answer for `ipv4only.arpa` on a network whose prefix is 2001:db8:64::/96.
    fn wka_answer() -> Answer {
        let wka: IpAddr = "2001:db8:64::c000:aa".parse().unwrap();
        Answer::Addresses(vec![Candidate::new(SocketAddr::new(wka, 0), None)])
    }

    fn discovering() -> H {
        let h = H::with_race(config(), |race| race.with_nat64(Nat64::discover(source())));
        // H::with_race drained AAAA and A; the discovery was asked right after them.
        assert_eq!(h.asked.last().map(|(_, q)| q), Some(&Query::Nat64Prefix));
        h
    }

    fn unrouted(v4: &str) -> (SocketAddr, Option<IpAddr>) {
        (SocketAddr::new(v4.parse().unwrap(), 443), None)
    }

    // HE-7.7: the race asks for the prefix next to its own queries and waits for its answer;
    // until then an IPv4 destination without a route stays as it is.
    #[test]
    fn he_7_7_the_race_asks_for_the_prefix_and_learns_it() {
        let mut h = discovering();
        assert!(h.race.nat64_waiting());
        let (dst, src) = unrouted("192.0.2.1");
        assert_eq!(h.race.candidate(dst, src), Candidate::new(dst, src));
        assert_eq!(
            h.answer(3, |q| *q == Query::Nat64Prefix, wka_answer()),
            none()
        );
        assert!(!h.race.nat64_waiting());
        let (prefix, learned) = h.race.nat64_prefix().unwrap();
        assert_eq!(prefix.to_string(), "2001:db8:64::/96");
        assert_eq!(learned, PrefixSource::Discovered);
        // HE-7.1: now synthesized, sent from the prefix's route, counted as IPv4 (HE-7.8).
        let c = h.race.candidate(dst, src);
        assert_eq!(c.dst.to_string(), "[2001:db8:64::c000:201]:443");
        assert_eq!(c.src, source());
        assert_eq!(c.family(), Family::V4);
        let t = c.origin.unwrap();
        assert_eq!(
            (t.ipv4, t.by),
            ([192, 0, 2, 1].into(), SynthesizedBy::Client)
        );
        // An IPv4 destination with a route is left alone (HE-7.1: only without one).
        let routed = "192.0.2.2:443".parse().unwrap();
        let own = Some("192.0.2.200".parse().unwrap());
        assert_eq!(h.race.candidate(routed, own), Candidate::new(routed, own));
        // HE-7.5: never synthesized.
        let (loopback, _) = unrouted("127.0.0.1");
        assert_eq!(h.race.candidate(loopback, None).origin, None);
    }

    // HE-7.7: a failed discovery (or an answer that reveals no prefix) means no NAT64 here:
    // nothing waits any more and nothing is synthesized. A second answer is ignored.
    #[test]
    fn he_7_7_no_prefix_found_means_no_synthesis() {
        for answer in [Answer::Failed, Answer::Addresses(vec![cand("2001:db8::1")])] {
            let mut h = discovering();
            assert_eq!(h.answer(3, |q| *q == Query::Nat64Prefix, answer), none());
            assert!(!h.race.nat64_waiting());
            assert_eq!(h.race.nat64_prefix(), None);
            let (dst, src) = unrouted("192.0.2.1");
            assert_eq!(h.race.candidate(dst, src).origin, None);
            h.answer(4, |q| *q == Query::Nat64Prefix, wka_answer());
            assert_eq!(
                h.race.nat64_prefix(),
                None,
                "a settled query takes no answer"
            );
        }
    }

    // HE-7.6: a destination DNS64 gave is DNS64's translation, whichever answer came first;
    // the race keeps one table of translations, which the report reads.
    #[test]
    fn he_7_6_dns64_answers_win_the_translation_table() {
        for dns64_first in [true, false] {
            let prefix = crate::nat64::Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96);
            let nat64 = Nat64::with_prefix(prefix.unwrap(), PrefixSource::Configured, source());
            let mut h = H::with_race(config(), |race| race.with_nat64(nat64));
            let (dst, src) = unrouted("192.0.2.1");
            let synthesized = h.race.candidate(dst, src);
            let mut from_aaaa = cand("2001:db8:64::c000:201");
            from_aaaa = h.race.candidate(from_aaaa.dst, from_aaaa.src);
            assert_eq!(from_aaaa.origin.unwrap().by, SynthesizedBy::Dns64);
            let aaaa = Answer::Addresses(vec![from_aaaa]);
            let a = Answer::Addresses(vec![synthesized]);
            let answers = match dns64_first {
                true => [(Family::V6, aaaa), (Family::V4, a)],
                false => [(Family::V4, a), (Family::V6, aaaa)],
            };
            for (family, answer) in answers {
                h.addresses(1, family, answer);
            }
            let t = h.race.translation(synthesized.dst).unwrap();
            assert_eq!(t.by, SynthesizedBy::Dns64, "dns64 first: {dns64_first}");
            assert_eq!(t.learned, PrefixSource::Configured);
            // One address, one attempt (HE-5.6).
            assert_eq!(h.race.attempts().len(), 1);
        }
    }

    // HE-7.6: the well-known prefix is always NAT64's, with or without a NAT64 plan.
    #[test]
    fn he_7_6_the_well_known_prefix_is_recognised_without_a_plan() {
        let h = H::new(config());
        let c = cand("64:ff9b::a00:1");
        let t = h.race.candidate(c.dst, c.src).origin.unwrap();
        assert_eq!(t.ipv4, std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!((t.prefix, t.learned), (WELL_KNOWN, PrefixSource::WellKnown));
        assert_eq!(h.race.nat64_prefix(), None);
        assert!(!h.race.nat64_waiting());
    }

    // HE-7.7: the discovery is asked again, after the HTTPS query, when HTTPS records are
    // turned on after NAT64.
    #[test]
    fn he_7_7_the_discovery_survives_the_service_query() {
        let t0 = Instant::now();
        let mut race = Race::new(config(), t0, Addresses::Query { v6: true, v4: true })
            .with_nat64(Nat64::discover(source()))
            .with_service_query(SERVICE, 443, vec![b"h2".to_vec()], |_| {});
        let mut queries = Vec::new();
        while let Some(Action::Query { query, .. }) = race.poll_action() {
            queries.push(query);
        }
        assert_eq!(
            queries,
            [
                Query::Service(SERVICE.into()),
                Query::Addresses(Family::V6),
                Query::Addresses(Family::V4),
                Query::Nat64Prefix
            ]
        );
    }
}

/// HE-8.7: stale answers (RFC 8767) used at once and replaced by their refresh.
mod stale {
    use super::*;

    impl H {
        fn stale(&mut self, ms: u64, family: Family, addrs: &[&str]) -> Vec<String> {
            let addrs = addrs.iter().map(|a| cand(a)).collect();
            self.addresses(ms, family, Answer::Stale(addrs))
        }
    }

    // HE-8.7: a stale AAAA answer starts the race like any AAAA answer; its refresh replaces
    // it: the attempt already running to a stale address goes on, the stale address the
    // refresh does not list is never tried, the new one is, in its place in the order.
    #[test]
    fn he_8_7_a_stale_answer_is_used_then_replaced() {
        let mut h = H::new(config());
        assert_eq!(
            h.stale(0, Family::V6, &["2001:db8::1", "2001:db8::2"]),
            ["start 0 [2001:db8::1]:443"]
        );
        assert_eq!(h.resolved(60, Family::V4, &["192.0.2.1"]), none());
        assert_eq!(
            h.resolved(100, Family::V6, &["2001:db8::1", "2001:db8::3"]),
            none()
        );
        assert_eq!(h.tick(250), ["start 1 192.0.2.1:443"]);
        assert_eq!(h.tick(500), ["start 2 [2001:db8::3]:443"]);
        assert_eq!(
            h.deadline_ms(),
            None,
            "[2001:db8::2] is gone: nothing more to start"
        );
        assert_eq!(
            h.connected(550, 0),
            ["cancel 1 Lost", "cancel 2 Lost", "done ok 0"]
        );
    }

    // HE-8.7: a refresh that fails leaves the stale answer standing.
    #[test]
    fn he_8_7_a_failed_refresh_leaves_the_stale_answer() {
        let mut h = H::new(config());
        assert_eq!(
            h.stale(0, Family::V6, &["2001:db8::1", "2001:db8::2"]),
            ["start 0 [2001:db8::1]:443"]
        );
        assert_eq!(h.resolve_failed(10, Family::V4), none());
        assert_eq!(h.resolve_failed(20, Family::V6), none());
        assert_eq!(h.failed(30, 0), ["start 1 [2001:db8::2]:443"]);
        assert_eq!(h.connected(40, 1), ["done ok 1"]);
    }

    // HE-8.7: a stale A answer waits out the Resolution Delay like any A answer; a refresh that
    // finds nothing withdraws every stale address no attempt used: the family has none.
    #[test]
    fn he_8_7_a_refresh_that_finds_nothing() {
        let mut h = H::new(config());
        assert_eq!(h.stale(0, Family::V4, &["192.0.2.1"]), none());
        assert_eq!(h.deadline_ms(), Some(50), "HE-3.4 as usual");
        assert_eq!(h.resolved(10, Family::V4, &[]), none());
        assert_eq!(
            h.deadline_ms(),
            None,
            "no Resolution Delay without an address"
        );
        assert_eq!(
            h.resolved(20, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
        assert_eq!(h.failed(30, 0), ["done AllAttemptsFailed"]);

        // Both families stale, both refreshes empty: no address at all.
        let mut h = H::new(config());
        assert_eq!(h.stale(0, Family::V4, &["192.0.2.1"]), none());
        assert_eq!(
            h.stale(5, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
        assert_eq!(h.resolved(10, Family::V4, &[]), none());
        assert_eq!(
            h.failed(20, 0),
            none(),
            "the refresh of AAAA may still bring one"
        );
        assert_eq!(h.resolved(30, Family::V6, &[]), ["done AllAttemptsFailed"]);
    }

    // HE-8.7: a stale answer split in parts, and a refresh in parts: what the refresh lists in
    // any part stays.
    #[test]
    fn he_8_7_stale_and_refresh_in_parts() {
        let mut h = H::with(config(), true, false);
        assert_eq!(
            h.stale(0, Family::V6, &["2001:db8::1"]),
            ["start 0 [2001:db8::1]:443"]
        );
        assert_eq!(
            h.stale(1, Family::V6, &["2001:db8::2", "2001:db8::3"]),
            none()
        );
        assert_eq!(h.part(2, Family::V6, &["2001:db8::3"]), none());
        assert_eq!(h.resolved(3, Family::V6, &["2001:db8::4"]), none());
        assert_eq!(h.failed(10, 0), ["start 1 [2001:db8::3]:443"]);
        assert_eq!(h.failed(20, 1), ["start 2 [2001:db8::4]:443"]);
        assert_eq!(h.failed(30, 2), ["done AllAttemptsFailed"]);
    }
}

// Issue 23: the race's per-connect state. A change that grows it fails here.
#[test]
fn race_state_sizes_stay_bounded() {
    use std::mem::size_of;
    let race = size_of::<Race>();
    assert!(race <= 664, "Race is {race} bytes");
    let record = size_of::<AttemptRecord>();
    assert!(record <= 136, "AttemptRecord is {record} bytes");
    let candidate = size_of::<crate::sort::Candidate>();
    assert!(candidate <= 88, "Candidate is {candidate} bytes");
    let remembered = size_of::<crate::history::Remembered>();
    assert!(remembered <= 16, "Remembered is {remembered} bytes");
    let action = size_of::<Action>();
    assert!(action <= 48, "Action is {action} bytes");
}

// Issue 23: a race of one or two attempts keeps room for no more records than it made.
#[test]
fn attempt_records_grow_from_one() {
    let mut h = H::new(config());
    h.resolved(0, Family::V6, &["2001:db8::1"]);
    h.resolved(0, Family::V4, &["192.0.2.1"]);
    assert_eq!(h.race.attempts.len(), 1);
    assert_eq!(h.race.attempts.capacity(), 1);
    h.tick(250);
    assert_eq!(h.race.attempts.len(), 2);
    assert_eq!(h.race.attempts.capacity(), 2);
}

// Issue 23 / 24: finding a received destination stays right whatever the list went through
// (appended to, shortened, replaced), short or long, and a long race does not search it.
#[test]
fn received_index_follows_every_change() {
    let t0 = Instant::now();
    let mut race = Race::new(config(), t0, Addresses::Query { v6: true, v4: true });
    let addr = |i: u32| SocketAddr::new(IpAddr::from((0xc000_0200_u32 + i).to_be_bytes()), 443);
    let check = |race: &mut Race| {
        for (i, c) in race.received.clone().iter().enumerate() {
            assert_eq!(race.received_index(c.dst), Some(i), "{}", c.dst);
        }
        assert_eq!(race.received_index(addr(999)), None);
    };
    for n in [3u32, 40] {
        race.received = (0..n).map(|i| Candidate::new(addr(i), None)).collect();
        check(&mut race);
        // Appended.
        race.received
            .extend((n..n + 5).map(|i| Candidate::new(addr(i), None)));
        check(&mut race);
        // Shortened in the middle, then appended again: indices moved.
        race.received
            .retain(|c| c.dst != addr(1) && c.dst != addr(n / 2));
        assert_eq!(race.received_index(addr(1)), None);
        race.received.push(Candidate::new(addr(500), None));
        check(&mut race);
        // Replaced by a list in another order.
        race.received.reverse();
        check(&mut race);
    }
    assert!(race.received_at.is_some(), "a long list is indexed");
}

// §12: QUIC raced against TCP (the HEv3 draft's protocol dimension, issue 26).
mod quic {
    use super::*;
    use crate::svcb::ServiceRecord;

    fn plan(origin_port: Option<u16>) -> QuicPlan {
        QuicPlan {
            protocols: vec![b"h3".to_vec()],
            origin_port,
            ..QuicPlan::default()
        }
    }

    fn h(plan: QuicPlan) -> H {
        H::with_race(config(), |race| race.with_quic(plan))
    }

    /// Both families answered at once with one address each.
    fn answered(h: &mut H) -> Vec<String> {
        let mut out = h.resolved(0, Family::V6, &["2001:db8::1"]);
        out.extend(h.resolved(0, Family::V4, &["192.0.2.1"]));
        out
    }

    // HE-12.2: with UDP silently dropped, each destination's QUIC attempt goes first and its TCP
    // attempt one Connection Attempt Delay later; the next destination one delay after that.
    #[test]
    fn he_12_2_udp_dropped_tcp_follows_one_attempt_delay_later() {
        let mut h = h(plan(Some(443)));
        assert_eq!(answered(&mut h), ["start 0 quic [2001:db8::1]:443"]);
        assert_eq!(h.deadline_ms(), Some(250));
        assert_eq!(h.tick(250), ["start 1 [2001:db8::1]:443"]);
        assert_eq!(h.tick(500), ["start 2 quic 192.0.2.1:443"]);
        assert_eq!(h.tick(750), ["start 3 192.0.2.1:443"]);
        assert_eq!(h.deadline_ms(), None, "nothing left to start");
        assert_eq!(
            h.connected(780, 3),
            [
                "cancel 0 Lost",
                "cancel 1 Lost",
                "cancel 2 Lost",
                "done ok 3"
            ]
        );
        let protocols: Vec<_> = h.race.attempts().iter().map(|a| a.protocol).collect();
        use Protocol::{Quic, Tcp};
        assert_eq!(protocols, [Quic, Tcp, Quic, Tcp]);
        let seconds: Vec<_> = h.race.attempts().iter().map(|a| a.is_second()).collect();
        assert_eq!(seconds, [false, true, false, true]);
    }

    // HE-12.2: UDP refused (ICMP port unreachable fails the QUIC attempt): TCP starts at once.
    #[test]
    fn he_12_2_udp_refused_starts_tcp_at_once() {
        let mut h = h(plan(Some(443)));
        answered(&mut h);
        assert_eq!(h.failed(3, 0), ["start 1 [2001:db8::1]:443"]);
        assert_eq!(
            h.deadline_ms(),
            Some(253),
            "the stagger runs from the TCP start"
        );
        assert_eq!(h.connected(4, 1), ["done ok 1"]);
    }

    // HE-12.2: QUIC wins where it works; the TCP attempt never starts.
    #[test]
    fn he_12_2_quic_wins_before_the_delay() {
        let mut h = h(plan(Some(443)));
        answered(&mut h);
        assert_eq!(h.connected(2, 0), ["done ok 0"]);
        assert_eq!(h.race.attempts().len(), 1);
    }

    // HE-12.4: QUIC remembered broken on this network: TCP first at 0, QUIC at the 10 ms
    // floor, the next destination one delay after the first start; TCP's own handshake
    // progress does not push the QUIC attempt back.
    #[test]
    fn he_12_4_quic_recently_broken_starts_tcp_at_once() {
        let mut h = h(QuicPlan {
            recently_broken: true,
            ..plan(Some(443))
        });
        assert_eq!(answered(&mut h), ["start 0 [2001:db8::1]:443"]);
        assert_eq!(h.deadline_ms(), Some(10));
        assert_eq!(h.tcp_connected(4, 0), none());
        assert_eq!(
            h.deadline_ms(),
            Some(10),
            "HE-9.3's hold waits for the pair"
        );
        assert_eq!(h.tick(10), ["start 1 quic [2001:db8::1]:443"]);
        assert_eq!(h.deadline_ms(), Some(250));
        assert_eq!(h.tick(250), ["start 2 192.0.2.1:443"]);
        assert_eq!(h.tick(260), ["start 3 quic 192.0.2.1:443"]);
    }

    // HE-12.4: the history's verdict is per destination: QUIC broken to the IPv6 address only
    // (on this network) puts its TCP attempt first; the IPv4 address keeps QUIC first.
    #[test]
    fn he_12_4_the_history_marks_quic_broken_per_destination() {
        let mut h = h(plan(Some(443)));
        let broken = Candidate {
            hist: crate::history::Remembered::default().with_quic_broken(true),
            ..cand("2001:db8::1")
        };
        let v6 = Answer::Addresses(vec![broken]);
        assert_eq!(
            h.addresses(0, Family::V6, v6),
            ["start 0 [2001:db8::1]:443"]
        );
        h.resolved(0, Family::V4, &["192.0.2.1"]);
        assert_eq!(h.tick(10), ["start 1 quic [2001:db8::1]:443"]);
        assert_eq!(h.tick(250), ["start 2 quic 192.0.2.1:443"]);
        assert_eq!(h.tick(500), ["start 3 192.0.2.1:443"]);
    }

    // HE-12.2: QUIC preferred by default; `prefer_tcp` turns the pair around.
    #[test]
    fn he_12_2_prefer_tcp_puts_tcp_first() {
        let mut h = h(QuicPlan {
            prefer_tcp: true,
            ..plan(Some(443))
        });
        assert_eq!(answered(&mut h), ["start 0 [2001:db8::1]:443"]);
        assert_eq!(h.tick(250), ["start 1 quic [2001:db8::1]:443"]);
        assert_eq!(h.tick(500), ["start 2 192.0.2.1:443"]);
    }

    // HE-12.1: an Alt-Svc alternative on another UDP port: the QUIC attempt goes there, its
    // record keeps the destination, and a late answer does not try the destination again.
    #[test]
    fn he_12_1_quic_on_another_port_keeps_its_destination() {
        let mut h = h(plan(Some(8443)));
        assert_eq!(
            h.resolved(0, Family::V6, &["2001:db8::1"]),
            ["start 0 quic [2001:db8::1]:8443"]
        );
        let first = &h.race.attempts()[0];
        assert_eq!(first.addr.port(), 8443);
        assert_eq!(first.destination().port(), 443);
        assert_eq!(
            h.resolved(5, Family::V4, &["192.0.2.1"]),
            none(),
            "the late A answer is sorted in behind the pair"
        );
        assert_eq!(h.tick(250), ["start 1 [2001:db8::1]:443"]);
        assert_eq!(h.tick(500), ["start 2 quic 192.0.2.1:8443"]);
        assert_eq!(h.tick(750), ["start 3 192.0.2.1:443"]);
        assert_eq!(h.failed(751, 0), none());
        assert_eq!(h.failed(752, 1), none());
        assert_eq!(h.failed(753, 2), none());
        assert_eq!(h.failed(754, 3), ["done AllAttemptsFailed"]);
    }

    // HE-12.1: an Alt-Svc port that a record's endpoint also uses: one QUIC attempt to that
    // UDP address, whichever destination comes first; TCP to both.
    #[test]
    fn he_12_1_no_udp_address_is_tried_twice() {
        for records_first in [true, false] {
            let t0 = Instant::now();
            let race = Race::new(
                config(),
                t0,
                Addresses::Query {
                    v6: true,
                    v4: false,
                },
            )
            .with_service_query(SERVICE, 443, vec![b"h2".to_vec()], |_| {})
            .with_quic(plan(Some(8443)));
            let mut h = H {
                race,
                t0,
                asked: Vec::new(),
            };
            h.drain();
            let record = ServiceRecord {
                priority: 1,
                port: Some(8443),
                alpn: vec![b"h3".to_vec(), b"h2".to_vec()],
                ..ServiceRecord::default()
            };
            let service = |q: &Query| matches!(q, Query::Service(_));
            let records = Answer::Records {
                records: vec![record],
                hints: vec![],
            };
            let mut out = vec![];
            if records_first {
                // The endpoint's QUIC attempt goes to 8443 first.
                out.extend(h.answer(0, service, records));
                out.extend(h.resolved(0, Family::V6, &["2001:db8::1"]));
            } else {
                // The HTTPS answer is late: the name's own address starts at the Resolution
                // Delay, its QUIC attempt on the Alt-Svc port 8443; then the endpoint comes.
                out.extend(h.resolved(0, Family::V6, &["2001:db8::1"]));
                out.extend(h.tick(50));
                out.extend(h.answer(60, service, records));
            }
            for i in 0..6 {
                out.extend(h.failed(100 + i, i as usize));
            }
            let expected = match records_first {
                // The name's own address on 443 (no record covers it) would send QUIC to the
                // Alt-Svc port the endpoint's QUIC attempt used: TCP only.
                true => [
                    "start 0 quic [2001:db8::1]:8443",
                    "start 1 [2001:db8::1]:8443",
                    "start 2 [2001:db8::1]:443",
                ],
                // The endpoint's QUIC attempt would repeat the first one: TCP only.
                false => [
                    "start 0 quic [2001:db8::1]:8443",
                    "start 1 [2001:db8::1]:443",
                    "start 2 [2001:db8::1]:8443",
                ],
            };
            assert_eq!(out[..3], expected, "{out:?}");
            assert_eq!(out[3..], ["done AllAttemptsFailed"]);
        }
    }

    // HE-12.2 / HE-4.3: a pair counts as one destination when the families alternate.
    #[test]
    fn he_12_2_pairs_alternate_families_by_destination() {
        let mut h = h(plan(Some(443)));
        h.resolved(0, Family::V6, &["2001:db8::1", "2001:db8::2"]);
        h.resolved(0, Family::V4, &["192.0.2.1"]);
        let mut starts = vec![];
        for (i, ms) in [250, 500, 750, 1000, 1250].into_iter().enumerate() {
            starts.extend(h.failed(ms - 1, i));
        }
        assert_eq!(
            starts,
            [
                "start 1 [2001:db8::1]:443",
                "start 2 quic 192.0.2.1:443",
                "start 3 192.0.2.1:443",
                "start 4 quic [2001:db8::2]:443",
                "start 5 [2001:db8::2]:443",
            ]
        );
    }

    // HE-12.1: with HTTPS records, an endpoint gets QUIC when its ALPN set lists h3, only QUIC
    // when it lists only h3 (`no-default-alpn`: unusable without QUIC), none otherwise; the
    // name's own addresses get QUIC only with an origin port.
    #[test]
    fn he_12_1_records_decide_which_endpoints_get_quic() {
        let record = |priority, port, alpn: &[&str], no_default_alpn| ServiceRecord {
            priority,
            port: Some(port),
            alpn: alpn.iter().map(|p| p.as_bytes().to_vec()).collect(),
            no_default_alpn,
            ..ServiceRecord::default()
        };
        let records = vec![
            record(1, 8001, &["h3", "h2"], false),
            record(2, 8002, &["h3"], true),
            record(3, 8003, &["h2"], false),
        ];
        let run = |quic: Option<QuicPlan>| {
            let t0 = Instant::now();
            let race = Race::new(
                config(),
                t0,
                Addresses::Query {
                    v6: true,
                    v4: false,
                },
            )
            .with_service_query(SERVICE, 443, vec![b"h2".to_vec()], |_| {});
            let race = match quic {
                Some(plan) => race.with_quic(plan),
                None => race,
            };
            let mut h = H {
                race,
                t0,
                asked: Vec::new(),
            };
            h.drain();
            let service = |q: &Query| matches!(q, Query::Service(_));
            let answer = Answer::Records {
                records: records.clone(),
                hints: vec![],
            };
            let mut out = h.answer(0, service, answer);
            out.extend(h.resolved(0, Family::V6, &["2001:db8::1"]));
            for i in 0..8 {
                out.extend(h.failed(i + 1, i as usize));
            }
            out
        };
        assert_eq!(
            run(Some(plan(None))),
            [
                "start 0 quic [2001:db8::1]:8001",
                "start 1 [2001:db8::1]:8001",
                "start 2 quic [2001:db8::1]:8002",
                "start 3 [2001:db8::1]:8003",
                "start 4 [2001:db8::1]:443",
                "done AllAttemptsFailed",
            ]
        );
        assert_eq!(
            run(None),
            [
                "start 0 [2001:db8::1]:8001",
                "start 1 [2001:db8::1]:8003",
                "start 2 [2001:db8::1]:443",
                "done AllAttemptsFailed",
            ],
            "without QUIC the h3-only record is left out (HE-10.4)"
        );
        assert_eq!(
            run(Some(plan(Some(443))))[4],
            "start 4 quic [2001:db8::1]:443"
        );
    }

    // HE-12.1: a plan with nothing to race QUIC on changes nothing.
    #[test]
    fn he_12_1_an_empty_plan_is_no_quic() {
        let race = Race::new(
            config(),
            Instant::now(),
            Addresses::Query { v6: true, v4: true },
        )
        .with_quic(QuicPlan::default());
        assert!(!race.races_quic());
    }
}
