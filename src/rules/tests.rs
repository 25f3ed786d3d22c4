//! The rules engine against the conformance cases and the default rule set.

use super::*;
use proptest::prelude::*;

fn facts(level: OrderLevel) -> Facts {
    Facts {
        order_level: level,
        ..Facts::default()
    }
}

fn rule_ids(v: &Verdict) -> Vec<&str> {
    v.reasons.iter().map(|r| r.rule.as_str()).collect()
}

#[test]
fn mandatory_order_and_not_transferred_is_red() {
    let v = RuleSet::default_set().evaluate(&facts(OrderLevel::Mandatory));
    assert_eq!(v.colour, Colour::Red);
    assert_eq!(rule_ids(&v), ["mandatory_not_transferred"]);
}

#[test]
fn mandatory_order_once_sheltered_or_with_relatives_is_yellow() {
    let rs = RuleSet::default_set();
    let mut f = facts(OrderLevel::Mandatory);
    f.sheltered = true;
    let v = rs.evaluate(&f);
    assert_eq!(
        (v.colour, rule_ids(&v)),
        (Colour::Yellow, vec!["mandatory_transferred"])
    );
    f.sheltered = false;
    f.safe_with_relatives = true;
    assert_eq!(rs.evaluate(&f).colour, Colour::Yellow);
}

#[test]
fn advisory_is_yellow_and_red_for_those_who_need_help() {
    let rs = RuleSet::default_set();
    let mut f = facts(OrderLevel::Advisory);
    assert_eq!(rs.evaluate(&f).colour, Colour::Yellow);
    for need in [
        Need::Elderly,
        Need::Disabled,
        Need::Medical,
        Need::Pregnant,
        Need::Infant,
    ] {
        f.needs = vec![need];
        let v = rs.evaluate(&f);
        assert_eq!(v.colour, Colour::Red, "{need:?}");
        // The worst colour wins, and every matching rule's reason is given.
        assert_eq!(rule_ids(&v), ["advisory", "advisory_needs_help"]);
    }
    f.needs = vec![Need::Wheelchair];
    assert_eq!(
        rs.evaluate(&f).colour,
        Colour::Yellow,
        "wheelchair alone is not in the list"
    );
}

#[test]
fn personal_flags_are_yellow_and_nothing_is_green_with_a_reason() {
    let rs = RuleSet::default_set();
    let mut f = facts(OrderLevel::None);
    let v = rs.evaluate(&f);
    assert_eq!((v.colour, rule_ids(&v)), (Colour::Green, vec!["none"]));
    f.flags = vec![Flag::Quarantine];
    assert_eq!(rs.evaluate(&f).colour, Colour::Yellow);
    f.flags = vec![Flag::Injured];
    f.order_level = OrderLevel::Mandatory;
    let v = rs.evaluate(&f);
    assert_eq!(v.colour, Colour::Red);
    assert_eq!(rule_ids(&v), ["mandatory_not_transferred", "personal_flag"]);
}

#[test]
fn an_override_decides_alone() {
    let rs = RuleSet::default_set();
    let mut f = facts(OrderLevel::Mandatory);
    f.override_colour = Some((Colour::Green, "verified safe on high ground".into()));
    let v = rs.evaluate(&f);
    assert_eq!(v.colour, Colour::Green);
    assert_eq!(rule_ids(&v), ["override"]);
    assert_eq!(rs.colour(&f), Colour::Green);
}

#[test]
fn the_json_default_says_what_the_hand_written_rules_say_for_every_combination() {
    let rs = RuleSet::default_set();
    let mut n = 0;
    for level in [
        OrderLevel::None,
        OrderLevel::Advisory,
        OrderLevel::Mandatory,
    ] {
        for bits in 0..(1u32 << (2 + Need::ALL.len() + Flag::ALL.len())) {
            let f = Facts {
                order_level: level,
                sheltered: bits & 1 != 0,
                safe_with_relatives: bits & 2 != 0,
                needs: Need::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (4 << i) != 0)
                    .map(|(_, n)| *n)
                    .collect(),
                flags: Flag::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (4 << (Need::ALL.len() + i)) != 0)
                    .map(|(_, x)| *x)
                    .collect(),
                age: None,
                override_colour: None,
            };
            assert_eq!(rs.evaluate(&f).colour, default_by_hand(&f), "{f:?}");
            assert_eq!(rs.colour(&f), default_by_hand(&f), "from the memo");
            assert_eq!(rs.colour_uncached(&f), default_by_hand(&f));
            n += 1;
        }
    }
    assert_eq!(n, 3 * 1024);
}

fn doc(condition: serde_json::Value, colour: &str) -> RuleSetDoc {
    serde_json::from_value(serde_json::json!({
        "name": "t",
        "rules": [{"id": "r1", "if": condition, "colour": colour, "reason": {"en": "e", "zh": "z"}}]
    }))
    .unwrap()
}

#[test]
fn validation_names_the_rule_and_the_reason() {
    let e = RuleSet::compile(
        2,
        doc(
            serde_json::json!({"==": [{"var": "postcode"}, "311200"]}),
            "red",
        ),
    )
    .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_str()),
        ("unknown_variable", "rules[r1]")
    );
    let e =
        RuleSet::compile(2, doc(serde_json::json!({"no_such_operator": [1]}), "red")).unwrap_err();
    assert!(
        e.code == "invalid_condition" || e.code == "condition_fails",
        "{e:?}"
    );
    let e = RuleSet::parse(2, r#"{"name": "t", "rules": []}"#).unwrap_err();
    assert_eq!(e.code, "invalid_rule_set");
    let e = RuleSet::parse(2, r#"{"name": "t", "rules": [{"id": "a", "if": true, "colour": "purple", "reason": {"en": "e", "zh": "z"}}]}"#).unwrap_err();
    assert_eq!(e.code, "invalid_rule_set");
    let dup = r#"{"name": "t", "rules": [
        {"id": "a", "if": true, "colour": "red", "reason": {"en": "e", "zh": "z"}},
        {"id": "a", "if": false, "colour": "red", "reason": {"en": "e", "zh": "z"}}]}"#;
    assert_eq!(
        RuleSet::parse(2, dup).unwrap_err().code,
        "duplicate_rule_id"
    );
}

#[test]
fn a_rule_that_fails_at_evaluation_counts_as_matched_never_green() {
    // Divides by zero only for residents aged 77, an age validation does not try.
    let condition = serde_json::json!({">": [{"/": [100, {"-": [{"var": "age"}, 77]}]}, 1000]});
    let rs = RuleSet::compile(2, doc(condition, "green"))
        .expect("passes validation on the sample facts");
    let fine = rs.evaluate(&Facts {
        age: Some(30),
        ..Facts::default()
    });
    assert_eq!(fine.colour, Colour::Green);
    let broken = Facts {
        age: Some(77),
        ..Facts::default()
    };
    let v = rs.evaluate(&broken);
    assert_eq!(
        v.colour,
        Colour::Yellow,
        "a failing green rule still draws attention"
    );
    assert_eq!(v.reasons[0].rule, "r1");
    assert!(v.reasons[0].text.contains("could not be evaluated"));
    assert_eq!(rs.colour(&broken), Colour::Yellow);
}

#[test]
fn a_condition_that_always_fails_is_refused_at_validation() {
    let e = RuleSet::compile(2, doc(serde_json::json!({"throw": "x"}), "red")).unwrap_err();
    assert_eq!(e.code, "condition_fails");
}

#[test]
fn the_facts_a_rule_set_reads_are_known() {
    let rs = RuleSet::default_set();
    assert!(rs.uses("order_level") && rs.uses("needs") && rs.uses("flags") && rs.uses("sheltered"));
    assert!(!rs.uses("age"));
}

proptest! {
    #[test]
    fn evaluation_never_panics_on_arbitrary_facts(
        level in 0i64..3,
        sheltered: bool,
        safe: bool,
        needs in proptest::sample::subsequence(Need::ALL.to_vec(), 0..=Need::ALL.len()),
        flags in proptest::sample::subsequence(Flag::ALL.to_vec(), 0..=Flag::ALL.len()),
        age in proptest::option::of(any::<i32>()),
        over in proptest::option::of(0i64..3),
    ) {
        let f = Facts {
            order_level: OrderLevel::from_rank(level),
            sheltered,
            safe_with_relatives: safe,
            needs,
            flags,
            age,
            override_colour: over.and_then(Colour::from_code).map(|c| (c, "r".to_owned())),
        };
        let rs = RuleSet::default_set();
        let v = rs.evaluate(&f);
        prop_assert!(!v.reasons.is_empty());
        prop_assert_eq!(v.colour, default_by_hand(&f));
    }
}

#[test]
fn a_change_is_worse_when_any_situation_makes_it_worse() {
    let rs = RuleSet::default_set();
    let calm = facts(OrderLevel::Advisory);
    // Yellow either way today, but the flag outlives the advisory.
    let flagged = Facts {
        flags: vec![Flag::Quarantine],
        ..calm.clone()
    };
    assert_eq!(rs.evaluate(&calm).colour, rs.evaluate(&flagged).colour);
    assert!(rs.worsens(&calm, &flagged));
    // Hidden by an override today, red once it expires.
    let overridden = Facts {
        override_colour: Some((Colour::Green, "checked".into())),
        order_level: OrderLevel::Mandatory,
        safe_with_relatives: true,
        ..Facts::default()
    };
    let at_home = Facts {
        safe_with_relatives: false,
        ..overridden.clone()
    };
    assert_eq!(
        rs.evaluate(&overridden).colour,
        rs.evaluate(&at_home).colour
    );
    assert!(rs.worsens(&overridden, &at_home));
    // Needs that only matter under an advisory order: worse, even with no order today.
    let elderly = Facts {
        needs: vec![Need::Elderly],
        ..Facts::default()
    };
    assert!(rs.worsens(&Facts::default(), &elderly));
    // Milder and equal changes are not worse.
    assert!(!rs.worsens(&flagged, &calm));
    assert!(!rs.worsens(&calm, &calm));
    assert!(!rs.worsens(&at_home, &overridden));
}
